"""The ``memory://`` backend: publish and subscribe inside one process (one event loop)."""

from __future__ import annotations

from typing import Any

from fastws.pubsub._message import Message

__all__ = ["MemoryBackend"]


class MemoryBackend:
    """In-process broker: ``publish`` hands the message straight to the hub's local subscribers.

    It never loses its connection, so it never reports a gap; subscribers still drop the oldest
    messages (and get ``Gap(reason="overflow")``) when they read too slowly.
    """

    def __init__(self) -> None:
        self._deliver: Any = None

    async def start(self, deliver: Any, gap: Any) -> None:
        self._deliver = deliver

    async def subscribe(self, channel: str) -> None:
        return None

    async def unsubscribe(self, channel: str) -> None:
        return None

    async def publish(self, channel: str, message: Message) -> None:
        self._deliver(channel, message)

    async def aclose(self) -> None:
        self._deliver = None
