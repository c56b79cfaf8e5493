"""A gunicorn worker subclass for tests/test_gunicorn.py, as docs/deploy.md shows users to write
one: uvicorn settings gunicorn has no flag for go in ``CONFIG_KWARGS``."""

from __future__ import annotations

from typing import Any

from fastws.gunicorn import UvicornH11Worker


class SmallMessagesH11Worker(UvicornH11Worker):
    """``fastws.gunicorn.UvicornH11Worker`` (asyncio loop, h11) with ``ws_max_size`` 1024 bytes."""

    CONFIG_KWARGS: dict[str, Any] = {**UvicornH11Worker.CONFIG_KWARGS, "ws_max_size": 1024}
