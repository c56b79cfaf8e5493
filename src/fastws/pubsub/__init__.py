"""Publish/subscribe for fan-out across connections, worker processes and hosts.

``Hub(url)`` picks a backend by URL: ``memory://`` (the default; one process) or ``redis://``
(Redis pub/sub via redis-py's asyncio client; ``pip install 'fastws[redis]'``)::

    async with Hub("redis://127.0.0.1:6379") as hub:
        async with hub.subscribe("room:1") as messages:
            await hub.publish("room:1", "hello")
            async for item in messages:          # str, bytes, or Gap
                if isinstance(item, Gap):
                    ...                          # messages were lost: resync from the source of truth
                else:
                    ...

Guarantees: each process subscribed to a channel receives each message published while its
broker connection is up exactly once (one broker subscription per process, fanned out locally).
Delivery is at most once: when the Redis connection is lost the hub reconnects with capped
exponential backoff, resubscribes, and then every subscriber of every channel receives a
``Gap(reason="disconnected")``; ``publish`` raises ``BrokerUnavailable`` while Redis is down.
Nothing grows without bound: each subscription holds at most ``max_pending`` messages, dropping
the oldest and yielding ``Gap(reason="overflow", missed=N)`` for a slow reader, and everything the
hub keeps for a channel (its subscriber set, its lock, the broker subscription) is released when
its last local subscriber leaves, so per-user or per-document channels can come and go forever.

On Redis a payload published by any client arrives byte for byte: as ``str`` when it is valid
UTF-8, else as ``bytes``; between fastws hubs ``str`` and ``bytes`` stay exact (a marker,
``fastws.pubsub.MARKER``, types binary payloads; docs/fanout.md, "Wire format on Redis").

Source: Redis "Pub/Sub" documentation; redis-py 5+ ``redis.asyncio``.
"""

from __future__ import annotations

from fastws.pubsub._hub import (
    DEFAULT_MAX_PENDING,
    Backend,
    BrokerUnavailable,
    Gap,
    Hub,
    Message,
    Subscription,
    backend_from_url,
)
from fastws.pubsub._wire import MARKER, pack, unpack

__all__ = [
    "DEFAULT_MAX_PENDING",
    "MARKER",
    "Backend",
    "BrokerUnavailable",
    "Gap",
    "Hub",
    "Message",
    "Subscription",
    "backend_from_url",
    "pack",
    "unpack",
]
