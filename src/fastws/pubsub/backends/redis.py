"""The ``redis://`` backend: Redis pub/sub through redis-py's asyncio client.

One connection per hub listens (``SUBSCRIBE``), a separate pooled client publishes (``PUBLISH``).
The listener is a task that reconnects with capped exponential backoff and jitter whenever the
connection fails, resubscribes to every channel the hub still has subscribers for and, once Redis
confirmed them, reports a gap on each, because whatever was published meanwhile is gone (Redis
pub/sub is at most once). redis-py's own silent reconnect-and-resubscribe is disabled (no retries
on the listening client) so that no gap goes unreported.

Wire format: ``fastws.pubsub._wire`` (a foreign payload arrives byte for byte, as ``str`` when
it is valid UTF-8, else ``bytes``; ``bytes`` from a fastws hub carry a NUL-led marker).

Source: Redis "Pub/Sub" documentation (SUBSCRIBE, PUBLISH, at-most-once delivery); redis-py 5+
``redis.asyncio`` (``Redis.from_url``, ``PubSub.get_message``, ``retry.Retry``).
"""

from __future__ import annotations

import asyncio
import os
import random
from typing import Any

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from fastws.pubsub._message import BrokerUnavailable, Message
from fastws.pubsub._wire import pack, unpack

__all__ = ["RedisBackend"]

_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


class RedisBackend:
    """Redis pub/sub for ``fastws.pubsub.Hub``.

    Args:
        url (str): a redis-py URL, e.g. ``redis://127.0.0.1:6379/0``.
        backoff_initial (float): first reconnect delay, seconds (doubles per failed attempt).
        backoff_max (float): the cap of the reconnect delay, seconds.
        subscribe_timeout (float): seconds ``subscribe`` waits for Redis to confirm; after that it
            returns anyway and the channel is subscribed (with a gap reported) on reconnect.
        connect_timeout (float): seconds to connect and get the first subscription confirmed;
            also the most a ``publish`` waits for Redis (then ``BrokerUnavailable``).
        ping_interval (float): seconds of silence on the listening connection after which it sends
            a PING; ping_timeout (float): seconds it then waits for any answer before it treats
            the connection as lost (a frozen server, or a host gone without a TCP reset).
        max_connections (int): connections the publisher opens at most; more concurrent
            ``publish`` calls wait for a free one (at most ``connect_timeout``, then
            ``BrokerUnavailable``).
    """

    def __init__(
        self,
        url: str,
        *,
        backoff_initial: float = 0.05,
        backoff_max: float = 2.0,
        subscribe_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        ping_interval: float = 10.0,
        ping_timeout: float = 5.0,
        max_connections: int = 32,
    ) -> None:
        self.url = url
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.subscribe_timeout = subscribe_timeout
        self.connect_timeout = connect_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_connections = max_connections
        # A channel of our own keeps the listening connection subscribed even with no app channel.
        self._control = f"fastws:hub:{os.getpid()}:{id(self):x}:{random.getrandbits(32):08x}"
        self._wanted: set[str] = set()
        self._confirmed: dict[str, asyncio.Future[None]] = {}
        self._pubsub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._deliver: Any = None
        self._gap: Any = None
        self._publisher: Any = None
        self._listener: Any = None
        #: Number of times the listener connected (1 after the first connect); for tests and metrics.
        self.connects = 0

    async def start(self, deliver: Any, gap: Any) -> None:
        self._deliver = deliver
        self._gap = gap
        # No retries: a PUBLISH whose reply was lost may have been delivered, and sending it
        # again would deliver it twice. The pool replaces a connection the server closed before
        # using it, so a restarted server costs no failed publish.
        # A blocking pool: more concurrent publishes than connections wait for one (at most
        # connect_timeout) instead of failing (redis-py's default pool raises "Too many
        # connections" past 100).
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=self.max_connections,
            timeout=self.connect_timeout,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=self.connect_timeout,
            socket_timeout=self.connect_timeout,
        )
        self._publisher = aioredis.Redis.from_pool(pool)
        self._listener = aioredis.Redis.from_url(
            self.url, retry=Retry(NoBackoff(), 0), socket_connect_timeout=self.connect_timeout
        )
        self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        # Connect, subscribe, read; on any connection error back off and start over.
        failures = 0
        while True:
            pubsub = self._listener.pubsub()
            try:
                channels = sorted(self._wanted)
                # Bounded: a server that accepts TCP but does not answer (frozen) counts as down.
                await asyncio.wait_for(pubsub.subscribe(self._control, *channels), self.connect_timeout)
                self._pubsub = pubsub
                pending = set(channels)
                # Channels wanted while we were connecting (their subscribe found no connection).
                late = self._wanted.difference(channels)
                if late:
                    await pubsub.subscribe(*late)
                reconnected = self.connects > 0
                self.connects += 1
                loop = asyncio.get_running_loop()
                last_heard = loop.time()
                pinged = False
                while True:
                    message = await pubsub.get_message(timeout=self.ping_interval)
                    if message is None:
                        # Quiet for ping_interval: make sure the server is still there (a host
                        # that vanished without a reset would otherwise never be noticed).
                        if pinged and loop.time() - last_heard >= self.ping_interval + self.ping_timeout:
                            raise RedisTimeoutError(f"no answer to PING within {self.ping_timeout} s")
                        if not pinged:
                            await pubsub.ping()
                            pinged = True
                        continue
                    last_heard = loop.time()
                    pinged = False
                    kind = message["type"]
                    channel = message["channel"]
                    channel = channel.decode("utf-8") if isinstance(channel, bytes) else channel
                    if kind == "message":
                        self._deliver(channel, unpack(message["data"]))
                    elif kind == "subscribe":
                        failures = 0  # Redis answers: the backoff starts over next time
                        future = self._confirmed.pop(channel, None)
                        if future is not None and not future.done():
                            future.set_result(None)
                        if channel in pending:
                            pending.discard(channel)
                            if not pending and reconnected:
                                self._gap(channels)
            except (*_ERRORS, asyncio.TimeoutError):
                self._pubsub = None
                await self._drop(pubsub)
                delay = min(self.backoff_max, self.backoff_initial * (2**failures))
                failures += 1
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            except BaseException:
                self._pubsub = None
                await self._drop(pubsub)
                raise

    @staticmethod
    async def _drop(pubsub: Any) -> None:
        try:
            await pubsub.aclose()
        except Exception:  # the connection is already broken; closing it is best effort
            pass

    async def subscribe(self, channel: str) -> None:
        self._wanted.add(channel)
        loop = asyncio.get_running_loop()
        future = self._confirmed.get(channel)
        if future is None or future.done():
            future = self._confirmed[channel] = loop.create_future()
        pubsub = self._pubsub
        if pubsub is not None:
            try:
                await pubsub.subscribe(channel)
            except _ERRORS:
                pass  # the listener reconnects and subscribes it
        try:
            await asyncio.wait_for(asyncio.shield(future), self.subscribe_timeout)
        except asyncio.TimeoutError:
            pass  # subscribed (and a gap reported) when the listener is connected again

    async def unsubscribe(self, channel: str) -> None:
        self._wanted.discard(channel)
        self._confirmed.pop(channel, None)
        pubsub = self._pubsub
        if pubsub is not None:
            try:
                await pubsub.unsubscribe(channel)
            except _ERRORS:
                pass  # a reconnect will not resubscribe it

    async def publish(self, channel: str, message: Message) -> None:
        payload = pack(message)
        try:
            await self._publisher.publish(channel, payload)
        except _ERRORS as exc:
            raise BrokerUnavailable(f"cannot publish to {channel!r} on {self.url}: {exc}") from exc

    async def aclose(self) -> None:
        task = self._task
        self._task = None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for future in self._confirmed.values():
            future.cancel()
        self._confirmed.clear()
        for client in (self._publisher, self._listener):
            if client is not None:
                try:
                    await client.aclose()
                except Exception:
                    pass
