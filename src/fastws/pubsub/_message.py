"""The pub/sub vocabulary shared by the hub and its backends: the message type, the gap marker, the
broker error and the ``Backend`` protocol (a module of its own so backends need not import the hub).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Union

__all__ = ["Backend", "BrokerUnavailable", "Gap", "Message"]

#: A published message: text or bytes, received as it was published.
Message = Union[str, bytes]


class BrokerUnavailable(ConnectionError):
    """``Hub.publish`` could not hand the message to the broker (e.g. Redis is down); the message
    was not published. Nothing is queued for a later retry: the caller decides.
    """


@dataclass(frozen=True)
class Gap:
    """Yielded by a subscription, in place of the messages it lost, so the app can resync.

    Attributes:
        channel (str): the channel.
        reason (str): ``"disconnected"`` (the broker connection was lost: messages published
            until it was back, resubscribed, are lost; yielded once resubscribed), or
            ``"overflow"`` (this subscriber read too slowly and its queue was full).
        missed (int | None): the number of messages lost when known (``overflow``), else ``None``.
    """

    channel: str
    reason: str
    missed: int | None = None


class Backend(Protocol):
    """What the hub needs from a broker. ``start`` gives it two callbacks: ``deliver(channel,
    message)`` for each message received, ``gap(channels)`` after a reconnect (the channels
    resubscribed); both are plain functions called on the event loop."""

    async def start(self, deliver: Any, gap: Any) -> None: ...
    async def subscribe(self, channel: str) -> None: ...
    async def unsubscribe(self, channel: str) -> None: ...
    async def publish(self, channel: str, message: Message) -> None: ...
    async def aclose(self) -> None: ...
