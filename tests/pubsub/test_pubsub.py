"""``fastws.pubsub`` on ``memory://`` and on a real Redis, and the demo's chat rooms on top of it.

Redis tests start their own ``redis-server`` on 127.0.0.1 and an ephemeral port (no persistence)
and stop it at the end; they are skipped when the binary is not installed (``.ci/redis``
installs it). The chat tests run ``fastws serve --broker URL`` as real uvicorn processes, on the
compiled (``c``) and the pure-Python (``py``) implementation.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastws.pubsub import MARKER, BrokerUnavailable, Gap, Hub, backend_from_url, pack, unpack

#: Upper bound for one scenario (seconds).
TIMEOUT = 20.0
REDIS_SERVER = shutil.which("redis-server")
needs_redis = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not installed (apt-get install redis-server, or .ci/redis)"
)
BANNER = re.compile(r"on http://127\.0\.0\.1:(?P<port>\d+)/")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A throwaway ``redis-server`` on 127.0.0.1: no RDB, no AOF; ``restart`` keeps the port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5.0
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5.0)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server, or .ci/redis)")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["memory", "redis"])
def broker(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    return str(request.getfixturevalue("redis_server").url)


def run(scenario: Any, timeout: float = TIMEOUT) -> Any:
    """Run a scenario on a fresh loop, bounded in time (``timeout`` seconds); fail if any
    exception reached the loop's handler (an exception that escaped a task) or a task was left
    running."""

    async def bounded() -> Any:
        escaped: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: escaped.append(context))
        async with asyncio.timeout(timeout):
            result = await scenario()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert others == [], f"tasks outlived the scenario: {others}"
        assert escaped == [], f"exceptions escaped: {escaped}"
        return result

    return asyncio.run(bounded())


async def take(subscription: Any, n: int, timeout: float = 5.0) -> list[Any]:
    async with asyncio.timeout(timeout):
        return [await anext(subscription) for _ in range(n)]


def hub_for(url: str, **options: Any) -> Hub:
    if url.startswith("redis"):
        options.setdefault("backoff_initial", 0.02)
        options.setdefault("backoff_max", 0.2)
    return Hub(url, **options)


# -- the hub ---------------------------------------------------------------------------------------
def test_publish_reaches_every_subscriber_exactly_once_in_order(broker: str) -> None:
    async def scenario() -> None:
        async with hub_for(broker) as hub_a, hub_for(broker) as hub_b:
            # With memory:// each hub is its own world; with Redis both processes' hubs share it.
            publisher = hub_b if broker.startswith("redis") else hub_a
            async with hub_a.subscribe("c") as one, hub_a.subscribe("c") as two, hub_a.subscribe("other") as other:
                assert hub_a.subscribers("c") == 2
                sent: list[Any] = [f"m{i}" for i in range(30)] + [b"\x00\xff", "ünï"]
                for message in sent:
                    await publisher.publish("c", message)
                assert await take(one, len(sent)) == sent
                assert await take(two, len(sent)) == sent
                await publisher.publish("other", "x")
                assert await take(other, 1) == ["x"]  # nothing else was queued for it
                assert not one._items and not two._items

    run(scenario)


def test_unsubscribed_gets_nothing_and_close_ends_iteration(broker: str) -> None:
    async def scenario() -> None:
        hub = hub_for(broker)
        async with hub:
            async with hub.subscribe("c") as kept:
                async with hub.subscribe("c") as left:
                    pass
                assert hub.subscribers("c") == 1
                await hub.publish("c", "after")
                assert await take(kept, 1) == ["after"]
                assert not left._items
                waiter = asyncio.ensure_future(anext(kept))
                await asyncio.sleep(0.01)
        # aclose of the hub (leaving `async with hub`) ended the pending read.
        with pytest.raises(StopAsyncIteration):
            await waiter
        with pytest.raises(RuntimeError, match="closed"):
            await hub.publish("c", "late")

    run(scenario)


def test_slow_subscriber_is_bounded_and_told_of_the_overflow(broker: str) -> None:
    async def scenario() -> None:
        async with hub_for(broker) as hub:
            async with hub.subscribe("c", max_pending=4) as slow, hub.subscribe("c") as fast:
                for i in range(10):
                    await hub.publish("c", f"m{i}")
                assert await take(fast, 10) == [f"m{i}" for i in range(10)]  # not held back
                assert len(slow._items) == 4
                assert await take(slow, 5) == [Gap("c", "overflow", 6), "m6", "m7", "m8", "m9"]

    run(scenario)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown broker URL"):
        backend_from_url("kafka://x")
    with pytest.raises(ValueError, match="max_pending"):
        Hub(max_pending=0)

    async def scenario() -> None:
        async with Hub() as hub:
            with pytest.raises(TypeError, match="str or bytes"):
                await hub.publish("c", {"not": "encoded"})  # type: ignore[arg-type]

    run(scenario)


@needs_redis
def test_redis_restart_gap_then_delivery_resumes(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with hub_for(redis_server.url) as hub, hub_for(redis_server.url) as publisher:
            async with hub.subscribe("c") as sub:
                await publisher.publish("c", "before")
                assert await take(sub, 1) == ["before"]
                redis_server.stop()
                with pytest.raises(BrokerUnavailable):
                    await publisher.publish("c", "lost")
                redis_server.start()
                # The hub reconnected and resubscribed, then said that messages may be missing.
                assert await take(sub, 1, timeout=10.0) == [Gap("c", "disconnected")]
                await publisher.publish("c", "after")
                assert await take(sub, 1) == ["after"]
                assert hub._backend.connects == 2  # type: ignore[attr-defined]

    run(scenario)


@needs_redis
def test_frozen_redis_is_noticed_by_ping_and_delivery_resumes(redis_server: RedisServer) -> None:
    # SIGSTOP: the server keeps its sockets open but answers nothing (like a host that vanished
    # without a TCP reset). The hub's PING notices, it retries until the server answers again.
    options = {"ping_interval": 0.2, "ping_timeout": 0.3, "connect_timeout": 0.5}

    async def scenario() -> None:
        async with hub_for(redis_server.url, **options) as hub, hub_for(redis_server.url, **options) as publisher:
            async with hub.subscribe("c") as sub:
                await publisher.publish("c", "before")
                assert await take(sub, 1) == ["before"]
                assert redis_server.process is not None
                redis_server.process.send_signal(signal.SIGSTOP)
                try:
                    started = time.monotonic()
                    with pytest.raises(BrokerUnavailable):
                        await publisher.publish("c", "lost")
                    assert time.monotonic() - started < 3.0  # bounded by connect_timeout, not forever
                    await asyncio.sleep(1.0)  # long enough for the listener's PING to go unanswered
                finally:
                    redis_server.process.send_signal(signal.SIGCONT)
                assert await take(sub, 1, timeout=10.0) == [Gap("c", "disconnected")]
                for _ in range(50):  # the publisher's pooled connection may be the stale one
                    try:
                        await publisher.publish("c", "after")
                        break
                    except BrokerUnavailable:
                        await asyncio.sleep(0.05)
                assert await take(sub, 1) == ["after"]

    run(scenario)


# -- the wire format on Redis: interoperates with any publisher ----------------------------------
#: (what a foreign client publishes, what a fastws subscriber receives)
FOREIGN = [
    (b"bye", "bye"),  # starts with the old tag byte `b`
    (b"tomato", "tomato"),  # starts with the old tag byte `t`
    (b"t", "t"),
    (b"b", "b"),
    (b"", ""),
    ('{"type":"message","text":"h\u00e9"}'.encode(), '{"type":"message","text":"h\u00e9"}'),
    ("über ☃ 🎉".encode(), "über ☃ 🎉"),
    (b"\x00\x01 NUL-led but valid UTF-8", "\x00\x01 NUL-led but valid UTF-8"),
    (b"\xff\xfe\x00binary", b"\xff\xfe\x00binary"),  # not UTF-8: bytes, whole
    (b"b\xff\x00", b"b\xff\x00"),  # binary starting with `b`
    (b"t\xc3\x28", b"t\xc3\x28"),  # `t` then invalid UTF-8
    (bytes(range(256)), bytes(range(256))),
    (b"\xed\xa0\x80", b"\xed\xa0\x80"),  # an encoded surrogate is not UTF-8
    # Binary on purpose, as docs/fanout.md tells other services to publish it:
    (MARKER + b"b" + b"hello", b"hello"),
    (MARKER + b"b", b""),
    (MARKER + b"b\xff", b"\xff"),
    (MARKER + "tüber".encode(), "über"),
    # A marker with an unknown type byte, or a `t` marker on non-UTF-8, is read as unmarked:
    (MARKER + b"x1", (MARKER + b"x1").decode()),
    (MARKER + b"t\xff", MARKER + b"t\xff"),
    (MARKER, MARKER.decode()),
]
#: What fastws hubs publish to each other: type and value must come back exactly.
EXACT: list[Any] = [
    "",
    b"",
    "hello",
    b"hello",  # valid UTF-8, still bytes
    "bye",
    b"bye",
    "tomato",
    b"\xff\x00",
    "\x00",
    b"\x00",
    MARKER.decode() + "b text that looks marked",
    MARKER.decode() + "t",
    MARKER + b"b nested",
    MARKER + b"t",
    MARKER,
    MARKER.decode(),
    "ünï ☃",
]


@given(st.one_of(st.text(), st.binary(), st.binary().map(lambda data: MARKER + data)))
def test_wire_format_round_trips_type_and_value(message: str | bytes) -> None:
    got = unpack(pack(message))
    assert type(got) is type(message) and got == message


@pytest.mark.parametrize(("payload", "expected"), FOREIGN)
def test_wire_format_reads_foreign_payloads_byte_for_byte(payload: bytes, expected: str | bytes) -> None:
    got = unpack(payload)
    assert type(got) is type(expected) and got == expected
    if isinstance(got, str):
        assert got.encode() == payload or payload.startswith(MARKER)


def test_wire_format_str_is_plain_utf8_for_foreign_subscribers() -> None:
    assert pack("tomato") == b"tomato"
    assert pack('{"a":1}') == b'{"a":1}'
    assert pack(b"\x01") == MARKER + b"b\x01"
    assert pack(MARKER.decode() + "x") == MARKER + b"t" + MARKER + b"x"
    with pytest.raises(UnicodeEncodeError):
        pack("lone \ud800 surrogate")


def test_publish_refuses_a_lone_surrogate_on_every_backend() -> None:
    async def scenario() -> None:
        async with Hub() as hub, hub.subscribe("c") as sub:
            with pytest.raises(UnicodeEncodeError):
                await hub.publish("c", "\udc80")
            assert not sub._items

    run(scenario)


@needs_redis
def test_foreign_publisher_reaches_subscribers_byte_for_byte(redis_server: RedisServer) -> None:
    import redis.asyncio as aioredis

    async def scenario() -> None:
        async with hub_for(redis_server.url) as hub, hub.subscribe("room") as sub:
            foreign = aioredis.Redis.from_url(redis_server.url)  # a plain redis-py client, not fastws
            try:
                for payload, _ in FOREIGN:
                    assert await foreign.publish("room", payload) == 1
                # redis-py encodes a str as UTF-8 itself, as a Django or Celery worker would send it
                assert await foreign.publish("room", "tomato ☃") == 1
            finally:
                await foreign.aclose()
            got = await take(sub, len(FOREIGN) + 1)
            for item, (_, expected) in zip(got[:-1], FOREIGN, strict=True):
                assert type(item) is type(expected) and item == expected
            assert got[-1] == "tomato ☃"

    run(scenario)


@needs_redis
def test_redis_cli_publish_reaches_subscribers(redis_server: RedisServer) -> None:
    redis_cli = shutil.which("redis-cli")
    if redis_cli is None:
        pytest.skip("redis-cli is not installed")

    async def scenario() -> None:
        async with hub_for(redis_server.url) as hub, hub.subscribe("room") as sub:
            for text in ("bye", "tomato", '{"type":"message"}'):
                cli = await asyncio.create_subprocess_exec(
                    redis_cli, "-p", str(redis_server.port), "PUBLISH", "room", text, stdout=subprocess.DEVNULL
                )
                assert await asyncio.wait_for(cli.wait(), 5.0) == 0
            assert await take(sub, 3) == ["bye", "tomato", '{"type":"message"}']

    run(scenario)


@needs_redis
def test_fastws_hubs_keep_str_and_bytes_exact_and_foreign_subscribers_read_text(redis_server: RedisServer) -> None:
    import redis.asyncio as aioredis

    async def scenario() -> None:
        foreign = aioredis.Redis.from_url(redis_server.url)
        listener = foreign.pubsub()
        try:
            await listener.subscribe("room")
            assert (await listener.get_message(timeout=2.0))["type"] == "subscribe"
            async with hub_for(redis_server.url) as hub, hub_for(redis_server.url) as publisher:
                async with hub.subscribe("room") as sub:
                    for message in EXACT:
                        await publisher.publish("room", message)
                    got = await take(sub, len(EXACT))
                    assert [(type(m), m) for m in got] == [(type(m), m) for m in EXACT]
            # What another service subscribed to the channel reads: text as its UTF-8, bytes marked.
            raw = []
            while len(raw) < len(EXACT):
                message = await listener.get_message(timeout=2.0)
                assert message is not None, "the foreign subscriber missed messages"
                if message["type"] == "message":
                    raw.append(message["data"])
            assert raw[2] == b"hello" and raw[3] == MARKER + b"bhello" and raw[-1] == "ünï ☃".encode()
        finally:
            await listener.aclose()
            await foreign.aclose()

    run(scenario)


@needs_redis
def test_many_concurrent_publishes_wait_for_a_connection_instead_of_failing(redis_server: RedisServer) -> None:
    # redis-py's default pool raises "Too many connections" past 100 at once; the hub's waits.
    async def scenario() -> None:
        async with hub_for(redis_server.url, max_connections=4) as hub, hub.subscribe("c", max_pending=500) as sub:
            await asyncio.gather(*(hub.publish("c", f"m{i}") for i in range(300)))
            assert sorted(await take(sub, 300)) == sorted(f"m{i}" for i in range(300))

    run(scenario)


@needs_redis
def test_a_subscribe_cancelled_half_way_leaves_no_subscription(redis_server: RedisServer) -> None:
    async def scenario() -> None:
        async with hub_for(redis_server.url) as hub:
            backend: Any = hub._backend
            entering = asyncio.ensure_future(hub.subscribe("c").__aenter__())
            await asyncio.sleep(0)  # SUBSCRIBE is on its way; the confirmation is not in yet
            entering.cancel()
            with pytest.raises(asyncio.CancelledError):
                await entering
            assert hub.subscribers("c") == 0 and hub._guards == {} and hub._channels == {}
            assert "c" not in backend._wanted and "c" not in backend._confirmed
            async with hub.subscribe("other"):  # still works; "c" was unsubscribed in order
                await asyncio.sleep(0.05)
                assert b"c" not in backend._pubsub.channels

    run(scenario)


# -- bounded under channel churn ------------------------------------------------------------------
CHURN_CHANNELS = 20_000
CHURN_BATCH = 250  # channels subscribed at once


async def churn(hub: Hub, first: int, count: int) -> None:
    """Subscribe to ``count`` distinct channels (``CHURN_BATCH`` at a time, concurrently) and leave
    them; every 20th gets a message first, to show its subscription works."""

    async def visit(n: int) -> None:
        name = f"doc:{n}"
        async with hub.subscribe(name) as sub:
            if n % 20 == 0:
                await hub.publish(name, name)
                assert await take(sub, 1) == [name]

    for start in range(first, first + count, CHURN_BATCH):
        await asyncio.gather(*(visit(n) for n in range(start, min(start + CHURN_BATCH, first + count))))


def test_channel_churn_leaves_memory_flat(broker: str) -> None:
    # Per-user or per-document channels come and go: what the hub (and its backend, and redis-py
    # under it) keeps for a channel is released when its last subscriber leaves.
    async def traced() -> int:
        await asyncio.sleep(0.05)  # the last unsubscribe confirmations have arrived
        gc.collect()  # garbage cycles (exceptions, frames) are not retained memory
        return int(tracemalloc.get_traced_memory()[0])

    async def scenario() -> list[int]:
        async with hub_for(broker) as hub, hub.subscribe("lobby") as lobby:  # one channel stays
            await churn(hub, 0, 2 * CHURN_BATCH)  # warm-up: caches, pools, the dict sizes
            tracemalloc.start()
            try:
                levels = [await traced()]
                for half in range(2):
                    await churn(hub, CHURN_BATCH * 10 + half * CHURN_CHANNELS // 2, CHURN_CHANNELS // 2)
                    levels.append(await traced())
            finally:
                tracemalloc.stop()
            assert hub._channels.keys() == {"lobby"} and hub._guards == {}
            backend: Any = hub._backend
            if broker.startswith("redis"):
                assert backend._wanted == {"lobby"} and backend._confirmed == {}
                assert set(backend._pubsub.channels) == {b"lobby", backend._control.encode()}
                assert not backend._pubsub.pending_unsubscribe_channels
            await hub.publish("lobby", "still here")
            assert await take(lobby, 1) == ["still here"]
            return levels

    # ~25 s on redis:// under tracemalloc on a loaded 2-core machine; the coverage leg's tracing
    # slows it down further (FASTWS_TEST_TIME_SCALE, as in test_bad_input.py).
    start, middle, end = run(scenario, timeout=90.0 * float(os.environ.get("FASTWS_TEST_TIME_SCALE", "1")))
    # Before the per-channel state was released, 20,000 channels left 3.7 MiB behind (~190 bytes
    # each). What may remain is the hash tables sized for the 250 channels held at once (bounded
    # by that, not by how many came and went): so the second 10,000 add nothing that grows with
    # them. The bound leaves room for one resize of such a table (34 KB seen once under ASan, where
    # a slower loop holds more unsubscribe confirmations in flight); anything kept per channel
    # (a dict entry is over 50 bytes) would cost 10,000 times that, 500 KB and up.
    assert end - start < 128 * 1024, f"{(end - start) / CHURN_CHANNELS:.1f} bytes per channel left behind"
    assert end - middle < 64 * 1024, f"memory grew by {end - middle} bytes over the second 10,000 channels"


# -- the demo's chat rooms on real uvicorn processes -----------------------------------------------
@asynccontextmanager
async def serve(broker: str, impl_name: str, *extra: str) -> AsyncIterator[int]:
    """``fastws serve --broker BROKER --port 0`` as a child process; yields its port; SIGINT then
    (bounded) kill on the way out; fails if it logged a traceback."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("FASTWS_NO_EXTENSIONS", None)
    env.pop("FASTWS_BROKER", None)
    if impl_name == "py":
        env["FASTWS_NO_EXTENSIONS"] = "1"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fastws",
        "serve",
        "--port",
        "0",
        "--broker",
        broker,
        "--log-level",
        "warning",
        *extra,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    stderr = b""
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 15.0)).decode()
        match = BANNER.search(line)
        assert match is not None, f"no banner: {line!r}"
        assert ("(python)" in line) == (impl_name == "py"), line
        yield int(match["port"])
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                _, stderr = await asyncio.wait_for(process.communicate(), 5.0)
            except asyncio.TimeoutError:
                process.kill()
                _, stderr = await process.communicate()
    assert b"Traceback" not in stderr, stderr.decode(errors="replace")


async def join(port: int, room: str) -> tuple[Any, int]:
    from websockets.asyncio.client import connect

    ws = await connect(f"ws://127.0.0.1:{port}/chat/{room}", open_timeout=5, close_timeout=2)
    joined = json.loads(await asyncio.wait_for(ws.recv(), 5.0))
    assert joined["type"] == "joined" and joined["room"] == room
    return ws, joined["pid"]


async def collect(ws: Any, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    async with asyncio.timeout(timeout):
        return [json.loads(await ws.recv()) for _ in range(count)]


async def quiet(ws: Any, seconds: float = 0.3) -> None:
    """Nothing more arrives within ``seconds`` (no duplicates)."""
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ws.recv(), seconds)


def chat_scenario(brokers: list[str], impl_name: str, redis_server: RedisServer | None = None) -> None:
    async def scenario() -> None:
        async with AsyncExitStack() as stack:
            ports = [await stack.enter_async_context(serve(url, impl_name)) for url in brokers]
            clients: list[Any] = []
            pids: set[int] = set()
            try:
                for port in ports:
                    for _ in range(3):
                        ws, pid = await join(port, "room1")
                        clients.append(ws)
                        pids.add(pid)
                bystander, _ = await join(ports[-1], "room2")
                clients.append(bystander)
                assert len(pids) == len(ports)  # one process per port
                members = clients[:-1]
                for k, ws in enumerate(members):
                    await ws.send(f"hello {k}")
                expected = Counter(f"hello {k}" for k in range(len(members)))
                for ws in members:
                    got = await collect(ws, len(members))
                    assert Counter(m["text"] for m in got) == expected  # each exactly once
                for ws in members:
                    await quiet(ws, 0.2)
                await quiet(bystander, 0.05)  # rooms are separate

                if redis_server is not None:
                    redis_server.restart()
                    for ws in members:  # every member is told, on both processes
                        assert (await collect(ws, 1, timeout=10.0))[0] == {"type": "gap", "room": "room1"}
                    # Delivery resumes: publish (retrying while the publisher reconnects).
                    for _ in range(50):
                        await members[0].send("after restart")
                        first = (await collect(members[0], 1))[0]
                        if first["type"] == "message":
                            break
                        assert first["type"] == "error"
                    for ws in members[1:]:
                        assert (await collect(ws, 1))[0]["text"] == "after restart"
                    for ws in members:
                        await quiet(ws, 0.2)
            finally:
                for ws in clients:
                    await ws.close()

    run(scenario)


@needs_redis
def test_chat_two_workers_on_redis_exactly_once_and_survives_a_restart(impl: Any, redis_server: RedisServer) -> None:
    chat_scenario([redis_server.url, redis_server.url], impl.name, redis_server)


def test_chat_on_memory_broker_exactly_once(impl: Any) -> None:
    chat_scenario(["memory://"], impl.name)


@needs_redis
def test_chat_serve_workers_2_on_redis_exactly_once(impl: Any, redis_server: RedisServer) -> None:
    # `fastws serve --workers 2`: both workers share one listening socket, so the kernel decides
    # which one accepts. Each join after the first stops the worker that took the previous one
    # (SIGSTOP) so the other must accept: two members on each worker, deterministically.
    async def scenario() -> None:
        async with serve(redis_server.url, impl.name, "--workers", "2") as port:
            by_pid: dict[int, list[Any]] = {}
            stopped: int | None = None
            try:
                for _ in range(4):
                    ws, pid = await join(port, "lobby")
                    assert pid != stopped, "a stopped worker accepted a connection"
                    by_pid.setdefault(pid, []).append(ws)
                    if stopped is not None:
                        os.kill(stopped, signal.SIGCONT)
                    os.kill(pid, signal.SIGSTOP)
                    stopped = pid
                os.kill(pid, signal.SIGCONT)
                stopped = None
                assert sorted(len(sockets) for sockets in by_pid.values()) == [2, 2]
                members = [ws for sockets in by_pid.values() for ws in sockets]
                for k, ws in enumerate(members):
                    await ws.send(f"w{k}")
                expected = Counter(f"w{k}" for k in range(len(members)))
                for ws in members:
                    assert Counter(m["text"] for m in await collect(ws, len(members))) == expected
                for ws in members:
                    await quiet(ws, 0.1)
            finally:
                if stopped is not None:
                    os.kill(stopped, signal.SIGCONT)
                for sockets in by_pid.values():
                    for ws in sockets:
                        await ws.close()

    run(scenario)


def test_serve_rejects_an_unknown_broker_scheme(capsys: pytest.CaptureFixture[str]) -> None:
    from fastws import cli

    with pytest.raises(SystemExit) as caught:
        cli.build_parser().parse_args(["serve", "--broker", "kafka://127.0.0.1"])
    assert caught.value.code == 2
    assert "invalid broker URL 'kafka://127.0.0.1'" in capsys.readouterr().err
    args = cli.build_parser().parse_args(["serve", "--broker", "redis://127.0.0.1:6379/0"])
    assert args.broker == "redis://127.0.0.1:6379/0"
