"""The hub: local subscriptions with bounded queues, fanned out from one backend per process."""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType
from typing import Any

from fastws.pubsub._message import Backend, BrokerUnavailable, Gap, Message
from fastws.pubsub.backends import backend_from_url

__all__ = [
    "DEFAULT_MAX_PENDING",
    "Backend",
    "BrokerUnavailable",
    "Gap",
    "Hub",
    "Message",
    "Subscription",
    "backend_from_url",
]

#: Default bound of one subscription's queue, in messages.
DEFAULT_MAX_PENDING = 1024


class _ChannelGuard:
    # A channel's lock and how many subscribe/unsubscribe calls hold it or wait for it.
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class Subscription:
    """One subscriber to one channel: an async iterator of ``str``/``bytes`` messages and ``Gap``
    events, and an async context manager.

    Obtained from ``Hub.subscribe(channel)``. Entering it (``async with``, or the first
    ``__anext__``) subscribes and returns once the broker confirmed, so a message published after
    that is received. Leaving it (or ``aclose()``) unsubscribes. Its queue holds at most
    ``max_pending`` messages: when full, the oldest is dropped and a ``Gap(reason="overflow")``
    is yielded where messages were lost.
    """

    def __init__(self, hub: Hub, channel: str, max_pending: int) -> None:
        self.hub = hub
        self.channel = channel
        self.max_pending = max_pending
        self._items: deque[Message | Gap] = deque()
        self._missed = 0
        self._waiter: asyncio.Future[None] | None = None
        self._state = "new"  # new -> active -> closed

    def _deliver(self, item: Message | Gap) -> None:
        items = self._items
        if isinstance(item, Gap):
            if items and isinstance(items[-1], Gap):
                return  # one gap says it all
        elif len(items) >= self.max_pending:
            dropped = items.popleft()
            if not isinstance(dropped, Gap):
                self._missed += 1
        items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def __aenter__(self) -> Subscription:
        if self._state == "new":
            self._state = "active"
            try:
                await self.hub._attach(self)
            except BaseException:
                self._state = "closed"
                raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message | Gap:
        """The next message or ``Gap``; waits for one.

        Raises:
            StopAsyncIteration: the subscription or the hub was closed.
        """
        if self._state == "new":
            await self.__aenter__()
        while True:
            if self._missed:
                missed, self._missed = self._missed, 0
                return Gap(self.channel, "overflow", missed)
            if self._items:
                return self._items.popleft()
            if self._state == "closed":
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def _stop(self) -> None:
        self._state = "closed"
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def aclose(self) -> None:
        """Unsubscribe (idempotent); a pending ``__anext__`` returns what is queued, then stops."""
        if self._state == "closed":
            return
        was_active = self._state == "active"
        self._stop()
        if was_active:
            await self.hub._detach(self)


class Hub:
    """Publish/subscribe across connections, worker processes and hosts, behind one broker URL.

    Args:
        url (str): the broker: ``"memory://"`` (default; one process, no broker) or
            ``"redis://HOST:PORT[/DB]"`` (Redis pub/sub through redis-py's asyncio client; every
            process with a hub on the same Redis and channel receives each message once).
        max_pending (int): the bound of each subscription's queue, in messages.
        **options: for the backend; Redis (all in seconds): ``backoff_initial`` (0.05) and
            ``backoff_max`` (2.0) of the reconnect delay, ``connect_timeout`` (2.0, also the most a
            ``publish`` waits), ``subscribe_timeout`` (5.0), ``ping_interval`` (10.0) and
            ``ping_timeout`` (5.0) of the liveness check on the listening connection;
            ``max_connections`` (32): publishing connections at most, more concurrent publishes
            wait for one (at most ``connect_timeout``).

    Use it as ``async with Hub(url) as hub:`` (or ``await hub.start()`` / ``await hub.aclose()``)
    on the event loop that uses it. One backend subscription serves all the local subscribers of a
    channel. Delivery is at most once: a message published while the broker connection is down is
    lost, and every subscriber of the channel then receives a ``Gap``.

    Raises:
        ValueError, ImportError: from ``backend_from_url``.
    """

    def __init__(self, url: str = "memory://", *, max_pending: int = DEFAULT_MAX_PENDING, **options: Any) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self.url = url
        self.max_pending = max_pending
        self._backend = backend_from_url(url, **options)
        self._channels: dict[str, set[Subscription]] = {}
        self._guards: dict[str, _ChannelGuard] = {}
        self._started = False
        self._closed = False

    async def start(self) -> Hub:
        """Start the backend (idempotent). Returns the hub.

        Raises:
            RuntimeError: the hub was closed.
        """
        if self._closed:
            raise RuntimeError("this Hub is closed")
        if not self._started:
            self._started = True
            await self._backend.start(self._deliver, self._gap)
        return self

    async def __aenter__(self) -> Hub:
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """End every subscription (their iterators stop) and close the backend. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for subscribers in self._channels.values():
            for subscription in subscribers:
                subscription._stop()
        self._channels.clear()
        if self._started:
            await self._backend.aclose()

    def subscribe(self, channel: str, *, max_pending: int | None = None) -> Subscription:
        """A subscription to ``channel`` (see ``Subscription``): ``async with hub.subscribe(c) as s:
        async for item in s: ...`` where each item is a ``str``, ``bytes`` or ``Gap``.

        Args:
            channel (str): the channel name.
            max_pending (int | None): this subscription's queue bound; ``None``: the hub's.
        """
        return Subscription(self, channel, self.max_pending if max_pending is None else max_pending)

    async def publish(self, channel: str, message: Message) -> None:
        """Publish a message to every subscriber of ``channel``, in every process on the broker.

        Args:
            channel (str): the channel name.
            message (str | bytes): the payload; subscribers receive the same type.

        Raises:
            TypeError: ``message`` is neither ``str`` nor ``bytes``.
            UnicodeEncodeError: a ``str`` holding a lone surrogate, which has no UTF-8 form (no
                broker payload and no WebSocket text message can carry it); on every backend.
            BrokerUnavailable: the broker could not be reached or did not answer in time. Nothing
                is queued, and the command is never retried (a retry could deliver it twice), so
                if the reply was what got lost the message may still have been delivered.
            RuntimeError: the hub is closed.
        """
        if not isinstance(message, (str, bytes)):
            raise TypeError(f"publish takes str or bytes, got {type(message).__name__}")
        if isinstance(message, str) and not message.isascii():
            message.encode("utf-8")  # raises for a lone surrogate, as the Redis backend would
        await self.start()
        await self._backend.publish(channel, message)

    def subscribers(self, channel: str) -> int:
        """int: local subscriptions to ``channel`` in this process."""
        return len(self._channels.get(channel, ()))

    # -- internal --------------------------------------------------------------------------------
    def _guard(self, channel: str) -> _ChannelGuard:
        # The channel's lock, held in `_guards` only while someone holds it or waits for it, so a
        # channel left by its last subscriber leaves nothing behind (bounded under churn).
        guard = self._guards.get(channel)
        if guard is None:
            guard = self._guards[channel] = _ChannelGuard()
        guard.users += 1
        return guard

    def _release(self, channel: str, guard: _ChannelGuard) -> None:
        guard.users -= 1
        if guard.users == 0 and self._guards.get(channel) is guard:
            del self._guards[channel]

    async def _attach(self, subscription: Subscription) -> None:
        await self.start()
        channel = subscription.channel
        # Serialised per channel, so a subscribe and an unsubscribe of the same channel never
        # reach the broker in the wrong order.
        guard = self._guard(channel)
        try:
            async with guard.lock:
                subscribers = self._channels.get(channel)
                if subscribers is None:
                    try:
                        await self._backend.subscribe(channel)
                    except BaseException:
                        # Cancelled (or failed) half way: the broker may have subscribed already;
                        # nobody here wants the channel, so do not leave it subscribed.
                        try:
                            await self._backend.unsubscribe(channel)
                        except Exception:  # the broker is unreachable: nothing is subscribed there
                            pass
                        raise
                    subscribers = self._channels[channel] = set()
                subscribers.add(subscription)
        finally:
            self._release(channel, guard)

    async def _detach(self, subscription: Subscription) -> None:
        channel = subscription.channel
        guard = self._guard(channel)
        try:
            async with guard.lock:
                subscribers = self._channels.get(channel)
                if subscribers is None:
                    return
                subscribers.discard(subscription)
                if not subscribers:
                    del self._channels[channel]
                    if not self._closed:
                        await self._backend.unsubscribe(channel)
        finally:
            self._release(channel, guard)

    def _deliver(self, channel: str, message: Message) -> None:
        for subscription in self._channels.get(channel, ()):
            subscription._deliver(message)

    def _gap(self, channels: Any) -> None:
        for channel in channels:
            gap = Gap(channel, "disconnected")
            for subscription in self._channels.get(channel, ()):
                subscription._deliver(gap)
