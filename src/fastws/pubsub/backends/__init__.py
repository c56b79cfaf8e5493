"""The brokers a hub can use: ``memory`` (one process) and ``redis`` (redis-py's asyncio client),
chosen by URL with ``backend_from_url``."""

from __future__ import annotations

from typing import Any

from fastws.pubsub._message import Backend

__all__ = ["backend_from_url"]


def backend_from_url(url: str, **options: Any) -> Backend:
    """Build the backend a broker URL names.

    Args:
        url (str): ``memory://`` (one process) or ``redis://HOST[:PORT][/DB]`` (also ``rediss://``
            and ``unix://``, as redis-py reads them).
        **options: passed to the backend (for Redis: see ``Hub``).

    Returns:
        Backend: not started yet.

    Raises:
        ValueError: an unknown scheme. ImportError: ``redis://`` without redis-py installed
        (``pip install 'fastws[redis]'``).
    """
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        from fastws.pubsub.backends.memory import MemoryBackend

        return MemoryBackend()
    if scheme in ("redis", "rediss", "unix"):
        from fastws.pubsub.backends.redis import RedisBackend

        return RedisBackend(url, **options)
    raise ValueError(f"unknown broker URL {url!r}: expected memory:// or redis://HOST:PORT")
