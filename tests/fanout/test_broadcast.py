"""``fastws.broadcast`` (``fastws.fanout``): encode once, bounded per-connection queues, slow-consumer policies, and
sender tasks that never outlive their connection. Both implementations through ``impl``; the
server side is in memory (a ``send`` whose speed each test controls), so timing is deterministic.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import importlib
import json
import socket
import sys
import time
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import make_scope

from fastws.fanout import BroadcastResult, Outbox, Policy, attached, broadcast, encode, outbox_of
from fastws.fanout import _broadcast as fanout
from fastws.protocol._frame_types import OP_BINARY, OP_CLOSE, OP_TEXT

#: Upper bound for any one scenario (seconds).
TIMEOUT = 10.0


class Peer:
    """The server side of one accepted connection: records what the app sends; ``gate`` (when
    set) holds every ``websocket.send`` until it is set; ``fail`` makes sends raise OSError."""

    def __init__(self, slow: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gate: asyncio.Event | None = asyncio.Event() if slow else None
        self.fail = False
        #: Raised by every ``websocket.send`` (after the gate), while close events still go through.
        self.error: BaseException | None = None
        self.events: list[dict[str, Any]] = [{"type": "websocket.connect"}]

    async def receive(self) -> dict[str, Any]:
        assert self.events, "the test provided no more client events"
        return self.events.pop(0)

    async def send(self, message: dict[str, Any]) -> None:
        if self.fail:
            raise OSError("connection reset by peer")
        if message["type"] == "websocket.send" and self.gate is not None:
            await self.gate.wait()
            if self.fail:
                raise OSError("connection reset by peer")
        if message["type"] == "websocket.send" and self.error is not None:
            raise self.error
        self.sent.append(message)

    @property
    def texts(self) -> list[str]:
        return [m["text"] for m in self.sent if m["type"] == "websocket.send" and "text" in m]

    @property
    def closes(self) -> list[int]:
        return [m["code"] for m in self.sent if m["type"] == "websocket.close"]


@pytest.fixture(autouse=True)
def fanout_step(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test on one implementation uses that implementation's broadcast step and outbox fields
    too (``fastws.fanout._step_c`` or its twin ``fastws.fanout._step_py``), not only its WebSocket."""
    if "impl" in request.fixturenames:
        step = importlib.import_module(f"fastws.fanout._step_{request.getfixturevalue('impl').name}")
        monkeypatch.setattr(fanout, "Outbox", fanout._twin_outbox(step.OutboxCore))
        monkeypatch.setattr(fanout, "Pass", step.Pass)
        monkeypatch.setattr(fanout, "start_each", step.start_each)


async def connect(impl: Any, slow: bool = False) -> tuple[Any, Peer]:
    peer = Peer(slow)
    websocket = impl.WebSocket(make_scope(), peer.receive, peer.send)
    await websocket.accept()
    return websocket, peer


def run(scenario: Any) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(TIMEOUT):
            result = await scenario()
        # No task of ours is left behind, whatever the scenario did.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert others == [], f"tasks outlived the scenario: {others}"
        return result

    return asyncio.run(bounded())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_each_implementation_runs_its_own_step(impl: Any) -> None:
    async def scenario() -> None:
        ws, _ = await connect(impl)
        await broadcast([ws], "x")
        step = importlib.import_module(f"fastws.fanout._step_{impl.name}")
        assert isinstance(outbox_of(ws), step.OutboxCore) and fanout.start_each is step.start_each

    run(scenario)


def test_encode_once_text_bytes_json(impl: Any) -> None:
    assert encode("héllo") == fanout.Encoded("héllo", None, 6)
    assert encode(b"\x00\x01") == fanout.Encoded(None, b"\x00\x01", 2)
    assert encode(bytearray(b"ab")).data == b"ab"
    value = {"a": [1, 2.5, None], "é": "✓"}
    encoded = encode(value)
    assert encoded.text == impl.encode_json_text(value)
    assert encoded.size == len(encoded.text.encode())
    assert encode(encoded) is encoded
    with pytest.raises(TypeError):
        encode({"x": object()})


def test_every_connection_gets_each_message_once_in_order(impl: Any) -> None:
    async def scenario() -> None:
        pairs = [await connect(impl) for _ in range(50)]
        sockets = [ws for ws, _ in pairs]
        for i in range(20):
            result = await broadcast(sockets, f"m{i}")
            assert result == BroadcastResult(delivered=50)
        json_result = await broadcast(sockets, {"n": 1, "ok": True})
        binary = await broadcast(sockets, b"\xff\x00")
        assert json_result.delivered == binary.delivered == 50
        for ws in sockets:
            assert await outbox_of(ws).join(2.0)
        for ws, peer in pairs:
            assert peer.texts == [f"m{i}" for i in range(20)] + ['{"n":1,"ok":true}']
            assert peer.sent[-1] == {"type": "websocket.send", "bytes": b"\xff\x00"}
            assert outbox_of(ws).sent == 22
            assert not outbox_of(ws).busy  # idle connection: no sender task

    run(scenario)


def test_json_is_byte_identical_to_send_json(impl: Any) -> None:
    async def scenario() -> None:
        (ws, peer), (ref, ref_peer) = await connect(impl), await connect(impl)
        value = {"text": "naïve ☃", "n": [1, 2.5, -3], "nested": {"k": None}}
        async with attached(ws):
            await broadcast([ws], value)
            await outbox_of(ws).join(2.0)
        await ref.send_json(value)
        assert peer.sent[-1] == ref_peer.sent[-1]
        assert json.loads(peer.texts[-1]) == value

    run(scenario)


@pytest.mark.parametrize("policy", ["drop_oldest", "close", "wait"])
def test_slow_consumer_policy_bounds_memory_and_spares_fast_clients(impl: Any, policy: str) -> None:
    async def scenario() -> None:
        fast = [await connect(impl) for _ in range(5)]
        slow_ws, slow_peer = await connect(impl, slow=True)
        sockets = [ws for ws, _ in fast] + [slow_ws]
        slow_box = outbox_of(slow_ws)
        totals = BroadcastResult()
        started = time.perf_counter()
        for i in range(200):
            result = await broadcast(sockets, f"m{i:03d}", policy=policy, max_messages=8, max_bytes=4096, timeout=0.005)
            totals = totals + result
            # Memory of the slow connection stays bounded at every step.
            assert slow_box.queued <= 8 and slow_box.queued_bytes <= 4096
            await asyncio.sleep(0)  # let the senders run
        elapsed = time.perf_counter() - started
        await settle()
        for ws, peer in fast:
            assert await outbox_of(ws).join(2.0)
            assert peer.texts == [f"m{i:03d}" for i in range(200)], "a fast client missed or reordered messages"
        assert slow_peer.texts == []  # still stuck in its first send
        if policy == "drop_oldest":
            # 1 in flight + 8 queued; the other 191 were evicted, one per later broadcast.
            assert totals == BroadcastResult(delivered=6 * 200, dropped=191)
            assert elapsed < 2.0  # never waited on the slow client
            slow_peer.gate.set()  # the client catches up: the newest 8 arrive, in order
            assert await slow_box.join(2.0)
            assert slow_peer.texts == ["m000"] + [f"m{i:03d}" for i in range(192, 200)]
        elif policy == "close":
            assert slow_peer.closes == [1013]
            assert totals.delivered == 5 * 200 + 9 and totals.dropped == 0
            assert totals.closed == 200 - 9  # closed once, then skipped as closed
            assert slow_box.closed and not slow_box.busy
        else:
            # Each broadcast waited the 5 ms timeout for the slow client only, then skipped it.
            assert totals == BroadcastResult(delivered=5 * 200 + 9, dropped=191)
            slow_peer.gate.set()
            assert await slow_box.join(2.0)
            assert slow_peer.texts == [f"m{i:03d}" for i in range(9)]

    run(scenario)


def test_wait_policy_delivers_when_room_is_made_in_time(impl: Any) -> None:
    async def scenario() -> None:
        ws, peer = await connect(impl, slow=True)
        async with attached(ws):
            for i in range(3):  # one in flight, two queued: full
                assert (await broadcast([ws], f"m{i}", max_messages=2)).delivered == 1
            asyncio.get_running_loop().call_later(0.02, peer.gate.set)
            result = await broadcast([ws], "m3", policy=Policy.WAIT, max_messages=2, timeout=2.0)
            assert result == BroadcastResult(delivered=1)
            assert await outbox_of(ws).join(2.0)
        assert peer.texts == ["m0", "m1", "m2", "m3"]

    run(scenario)


def test_byte_bound_counts_utf8_payload_bytes(impl: Any) -> None:
    async def scenario() -> None:
        ws, peer = await connect(impl, slow=True)
        box = outbox_of(ws)
        async with attached(ws):
            for _ in range(10):
                await broadcast([ws], b"x" * 1000, max_messages=100, max_bytes=3000)
                assert box.queued_bytes <= 3000
            assert box.queued == 3 and box.dropped == 6  # 1 in flight, 3 queued, 6 evicted
            # One message larger than the bound still goes through an empty queue.
            peer.gate.set()
            assert await box.join(2.0)
            assert box._queue == ()  # the burst's deque is released once drained
            assert (await broadcast([ws], "é" * 5000, max_bytes=10)).delivered == 1
            assert await box.join(2.0)
        assert peer.texts[-1] == "é" * 5000

    run(scenario)


def test_gone_and_closed_connections_are_counted_not_raised(impl: Any) -> None:
    async def scenario() -> None:
        (ok, ok_peer), (gone, gone_peer), (closed, _) = [await connect(impl) for _ in range(3)]
        await closed.close()
        gone_peer.fail = True
        result = await broadcast([ok, gone, closed], "one")
        assert result == BroadcastResult(delivered=1, closed=2)  # the send to `gone` failed at once
        await settle()
        assert outbox_of(gone).closed and not outbox_of(gone).busy  # the failed send ended the sender
        result = await broadcast([ok, gone, closed], "two")
        assert result == BroadcastResult(delivered=1, closed=2)
        await outbox_of(ok).join(2.0)
        assert ok_peer.texts == ["one", "two"]

    run(scenario)


def test_attached_cancels_a_stuck_sender_with_the_connection(impl: Any) -> None:
    async def scenario() -> None:
        ws, peer = await connect(impl, slow=True)

        async def endpoint() -> None:
            async with attached(ws) as box:
                await broadcast([ws], "stuck")
                await settle()  # the sender takes it and gets stuck sending it
                await broadcast([ws], "queued")
                assert box.busy and box.queued == 1
                # the endpoint ends (the client left) while the send is stuck

        await endpoint()
        box = outbox_of(ws)
        assert box.closed and not box.busy and box.queued == 0
        assert (await broadcast([ws], "late")) == BroadcastResult(closed=1)
        assert peer.texts == []

    run(scenario)  # run() also asserts that no task is left


def test_outbox_aclose_is_idempotent_and_bounds_are_checked(impl: Any) -> None:
    async def scenario() -> None:
        ws, _ = await connect(impl)
        box = outbox_of(ws)
        assert isinstance(box, fanout.Outbox) and outbox_of(ws) is box
        await box.aclose()
        await box.aclose()
        with pytest.raises(ValueError, match="max_messages"):
            await broadcast([ws], "x", max_messages=0)
        with pytest.raises(ValueError):
            await broadcast([ws], "x", policy="sometimes")

    run(scenario)


def test_starlette_websocket_works_too() -> None:
    starlette_websockets = pytest.importorskip("starlette.websockets")

    async def scenario() -> None:
        peer = Peer()
        ws = starlette_websockets.WebSocket(make_scope(), peer.receive, peer.send)
        await ws.accept()
        async with attached(ws):
            assert (await broadcast([ws], {"a": 1})).delivered == 1
            await outbox_of(ws).join(2.0)
        assert peer.texts == ['{"a":1}']

    run(scenario)


def test_a_send_that_fails_after_suspending_ends_the_sender(impl: Any) -> None:
    async def scenario() -> None:
        (ws, peer), (other, other_peer) = await connect(impl, slow=True), await connect(impl)
        for i in range(3):
            assert (await broadcast([ws, other], f"m{i}")).delivered == 2
        box = outbox_of(ws)
        assert box.busy and box.queued == 2  # m0 in flight (suspended), m1 and m2 queued
        peer.fail = True
        peer.gate.set()  # the in-flight send resumes and fails: the client is gone
        assert await box.join(2.0)
        assert box.closed and box.queued == 0 and box.dropped == 2 and box.sent == 0
        assert (await broadcast([ws, other], "late")) == BroadcastResult(delivered=1, closed=1)
        assert other_peer.texts == ["m0", "m1", "m2", "late"]

    run(scenario)


# -- the sender's failure modes: each leaves the outbox in a defined state ------------------------
class Reported:
    """Collects what reaches the event loop's exception handler."""

    def __init__(self) -> None:
        self.contexts: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: self.contexts.append(context))

    @property
    def exceptions(self) -> list[BaseException]:
        return [context["exception"] for context in self.contexts]


def assert_closed_and_empty(box: Outbox) -> None:
    assert box.closed and box.queued == 0 and box.queued_bytes == 0 and box._queue == ()
    assert not box.busy  # no sender, and nothing queued without one


@pytest.mark.parametrize("error", [RuntimeError("bug in a middleware"), TypeError("bad event"), ValueError("x")])
def test_unexpected_error_inline_closes_with_1011_and_is_reported(impl: Any, error: Exception) -> None:
    async def scenario() -> None:
        reported = Reported()
        (ws, peer), (ok, ok_peer) = await connect(impl), await connect(impl)
        peer.error = error
        assert await broadcast([ws, ok], "one") == BroadcastResult(delivered=1, closed=1)
        box = outbox_of(ws)
        assert box.error is error and box.closed
        assert await box.join(2.0)  # the 1011 close task ran
        assert_closed_and_empty(box)
        assert peer.closes == [1011] and peer.texts == []
        assert reported.exceptions == [error]  # said once, with the exception
        assert "1011" in reported.contexts[0]["message"]
        assert await broadcast([ws, ok], "two") == BroadcastResult(delivered=1, closed=1)
        assert ok_peer.texts == ["one", "two"]
        assert peer.closes == [1011]  # nothing after the close

    run(scenario)


@pytest.mark.parametrize("error", [RuntimeError("bug"), KeyError("k")])
def test_unexpected_error_in_the_sender_discards_the_queue_and_closes_with_1011(impl: Any, error: Exception) -> None:
    async def scenario() -> None:
        reported = Reported()
        (ws, peer), (ok, ok_peer) = await connect(impl, slow=True), await connect(impl)
        for i in range(4):
            assert (await broadcast([ws, ok], f"m{i}")).delivered == 2
        box = outbox_of(ws)
        assert box.busy and box.queued == 3  # m0 in flight, 3 queued
        peer.error = error
        peer.gate.set()  # the in-flight send resumes and fails
        assert await box.join(2.0)
        assert_closed_and_empty(box)
        assert box.dropped == 3 and box.sent == 0 and box.error is error
        assert peer.closes == [1011] and reported.exceptions == [error]
        # No inline send past the discarded queue: the connection counts as closed now.
        assert await broadcast([ws, ok], "late") == BroadcastResult(delivered=1, closed=1)
        assert ok_peer.texts == ["m0", "m1", "m2", "m3", "late"]
        assert peer.texts == []

    run(scenario)


def test_a_send_after_the_app_closed_is_gone_not_a_bug(impl: Any) -> None:
    # The WebSocket says why (WebSocketDisconnected, a RuntimeError): gone, no 1011, no report.
    async def scenario() -> None:
        reported = Reported()
        ws, peer = await connect(impl, slow=True)
        await broadcast([ws], "m0")  # in flight, suspended
        await broadcast([ws], "m1")  # queued
        box = outbox_of(ws)
        peer.gate.set()
        await ws.close()  # the endpoint closes while the sender still has m1 to send
        assert await box.join(2.0)
        assert_closed_and_empty(box)
        assert box.error is None and reported.contexts == []
        assert peer.closes == [1000] and peer.texts == ["m0"]

    run(scenario)


def test_starlette_runtime_error_after_close_is_gone_not_a_bug() -> None:
    starlette_websockets = pytest.importorskip("starlette.websockets")

    async def scenario() -> None:
        reported = Reported()
        peer = Peer()
        ws = starlette_websockets.WebSocket(make_scope(), peer.receive, peer.send)
        await ws.accept()
        box = outbox_of(ws)
        await ws.close()
        # Starlette raises RuntimeError('Cannot call "send" once a close message has been sent.')
        # and its state says DISCONNECTED: the connection is gone.
        assert await broadcast([box], "x") == BroadcastResult(closed=1)
        assert_closed_and_empty(box)
        assert await broadcast([box], "y") == BroadcastResult(closed=1)
        assert reported.contexts == [] and box.error is None
        assert peer.closes == [1000]

    run(scenario)


def test_starlette_runtime_error_on_an_open_connection_is_a_bug() -> None:
    starlette_websockets = pytest.importorskip("starlette.websockets")

    async def scenario() -> None:
        reported = Reported()
        peer = Peer()
        ws = starlette_websockets.WebSocket(make_scope(), peer.receive, peer.send)
        await ws.accept()
        peer.error = RuntimeError("not a departure")
        assert await broadcast([ws], "x") == BroadcastResult(closed=1)
        assert await outbox_of(ws).join(2.0)
        assert peer.closes == [1011] and len(reported.contexts) == 1

    run(scenario)


def test_a_connection_not_accepted_yet_is_skipped_and_served_after_accept(impl: Any) -> None:
    async def scenario() -> None:
        reported = Reported()
        peer = Peer()
        ws = impl.WebSocket(make_scope(), peer.receive, peer.send)
        assert await broadcast([ws], "early") == BroadcastResult(closed=1)
        box = outbox_of(ws)
        assert not box.closed and not box.busy and reported.contexts == []
        await ws.accept()
        assert await broadcast([ws], "late") == BroadcastResult(delivered=1)
        assert peer.texts == ["late"]

    run(scenario)


def test_a_sender_cancelled_by_someone_else_leaves_no_queue_behind(impl: Any) -> None:
    async def scenario() -> None:
        reported = Reported()
        ws, peer = await connect(impl, slow=True)
        for i in range(3):
            await broadcast([ws], f"m{i}")
        box = outbox_of(ws)
        task = box._task
        assert task is not None and box.queued == 2
        task.cancel()  # not through aclose: e.g. a TaskGroup or the server's shutdown
        with pytest.raises(asyncio.CancelledError):
            await task
        assert_closed_and_empty(box)
        assert box.dropped == 2 and reported.contexts == []
        peer.gate.set()
        assert await broadcast([ws], "late") == BroadcastResult(closed=1)  # no send past a lost queue
        await settle()
        assert peer.texts == []

    run(scenario)


class Interrupt(BaseException):
    """Stands for KeyboardInterrupt/SystemExit: not an error of the connection."""


def test_a_base_exception_inline_closes_the_outbox_and_propagates(impl: Any) -> None:
    async def scenario() -> None:
        reported = Reported()
        (ws, peer), (ok, ok_peer) = await connect(impl), await connect(impl)
        peer.error = Interrupt()
        with pytest.raises(Interrupt):
            await broadcast([ws, ok], "x")
        assert_closed_and_empty(outbox_of(ws))
        assert reported.contexts == [] and peer.closes == []
        assert await broadcast([ws, ok], "y") == BroadcastResult(delivered=1, closed=1)
        assert ok_peer.texts == ["y"]  # the interrupted broadcast never reached it

    run(scenario)


def test_failures_inside_one_broadcast_do_not_stop_the_others(impl: Any) -> None:
    # gone, closed, buggy, suspended and healthy connections in one call, each accounted for.
    async def scenario() -> None:
        reported = Reported()
        pairs = [await connect(impl) for _ in range(4)]
        slow_ws, slow_peer = await connect(impl, slow=True)
        (gone, gone_peer), (closed, _), (buggy, buggy_peer), (ok, ok_peer) = pairs
        gone_peer.fail = True
        await closed.close()
        buggy_peer.error = RuntimeError("bug")
        sockets = [gone, slow_ws, closed, buggy, ok]
        assert await broadcast(sockets, "a") == BroadcastResult(delivered=2, closed=3)
        assert await broadcast(sockets, "b") == BroadcastResult(delivered=2, closed=3)
        assert ok_peer.texts == ["a", "b"] and outbox_of(slow_ws).queued == 1
        slow_peer.gate.set()
        assert await outbox_of(slow_ws).join(2.0) and await outbox_of(buggy).join(2.0)
        assert slow_peer.texts == ["a", "b"] and buggy_peer.closes == [1011]
        assert len(reported.contexts) == 1

    run(scenario)


class Yielding(Peer):
    """A server whose every send suspends once (one trip through the event loop)."""

    async def send(self, message: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()  # what the step gets back from PyIter_Send: a real object
        loop.call_soon(future.set_result, None)
        await future
        self.sent.append(message)
        if len(self.sent) > 64:
            del self.sent[:32]


def test_the_step_keeps_memory_flat(impl: Any) -> None:
    # Every path of the per-connection step (completed inline, suspended and handed to a task,
    # failed) many times over: a reference leaked per send would show as thousands of blocks.
    laps = 3_000

    async def lap(sockets: list[Any], yielding: Any, counter: list[int]) -> None:
        gone, gone_peer = await connect(impl)
        gone_peer.fail = True
        await broadcast([*sockets, yielding, gone], {"n": counter[0]})
        await broadcast([yielding, *sockets], b"\x00\x01")
        counter[0] += 1
        assert await outbox_of(yielding).join(1.0)

    async def scenario() -> tuple[int, int]:
        pairs = [await connect(impl) for _ in range(8)]
        for _, peer in pairs:
            peer.sent = []
        sockets = [ws for ws, _ in pairs]
        peer = Yielding()
        yielding = impl.WebSocket(make_scope(), peer.receive, peer.send)
        await yielding.accept()
        counter = [0]
        for _ in range(200):
            await lap(sockets, yielding, counter)
        for _, quiet_peer in pairs:
            quiet_peer.sent.clear()
        gc.collect()
        before = sys.getallocatedblocks()
        nones = sys.getrefcount(None)  # a completed send returns None: a leaked one shows here
        for _ in range(laps):
            await lap(sockets, yielding, counter)
            for _, quiet_peer in pairs:
                quiet_peer.sent.clear()
        gc.collect()
        assert outbox_of(yielding).sent == 2 * (laps + 200)
        assert abs(sys.getrefcount(None) - nones) < 1_000, "references to None leaked"
        return before, sys.getallocatedblocks()

    before, after = run(scenario)
    # 3,000 laps send 57,000 messages; a leak of one object per send would add 57,000 blocks.
    assert after - before < 1_000, f"{after - before} blocks more after {laps} laps"


# -- frame-level fan-out on fastws.server ---------------------------------------------------------
CLIENT_MASK = b"\x0a\x0b\x0c\x0d"
KEY = base64.b64encode(b"k" * 16)


class FakeTransport(asyncio.Transport):
    """The transport of one fastws.server connection, in memory: records every write."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written.append(bytes(data))

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)


class Served:
    """One connection served by fastws.server's protocol on a fake transport, accepted by an app
    that builds ``impl.WebSocket`` and then waits for the test to end it."""

    def __init__(self, impl: Any, codec: Any, extensions: bytes = b"") -> None:
        from fastws.server import WebSocketProtocol

        self.codec = codec
        self.ws: Any = None
        self.accepted = asyncio.Event()
        self.done = asyncio.Event()
        config = SimpleNamespace(
            loaded=True,
            loaded_app=self.app,
            root_path="",
            asgi_version="3.0",
            ws_max_size=1 << 20,
            ws_max_queue=4,
            ws_ping_interval=None,
            ws_ping_timeout=None,
            ws_per_message_deflate=True,
        )
        state = SimpleNamespace(connections=set(), tasks=set(), default_headers=[])
        self.impl = impl
        self.protocol = WebSocketProtocol(config=config, server_state=state, app_state={})
        self.transport = FakeTransport()
        self.protocol.connection_made(self.transport)
        head = (
            b"GET /ws HTTP/1.1\r\nhost: example\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
            b"sec-websocket-key: " + KEY + b"\r\nsec-websocket-version: 13\r\n"
        )
        if extensions:
            head += b"sec-websocket-extensions: " + extensions + b"\r\n"
        self.protocol.data_received(head + b"\r\n")

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        self.ws = self.impl.WebSocket(scope, receive, send)
        await self.ws.accept()
        self.accepted.set()
        await self.done.wait()

    def messages(self) -> list[tuple[int, Any]]:
        """Every frame written after the 101 response: (opcode, payload)."""
        data = b"".join(self.transport.written)
        body = data[data.index(b"\r\n\r\n") + 4 :]
        inflate = self.protocol.deflate is not None
        return self.codec.FrameParser(require_mask=False, inflate=inflate).feed(body)


@pytest.fixture(params=["c", "py"])
def codec(request: pytest.FixtureRequest) -> Any:
    if request.param == "c" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    return importlib.import_module(f"fastws.protocol._frame_{request.param}")


def test_send_prepared_writes_only_on_an_open_connection_in_order(impl: Any, codec: Any) -> None:
    async def scenario() -> None:
        served = Served(impl, codec)
        frame = codec.encode_text("shared")
        protocol, transport = served.protocol, served.transport
        assert protocol.send_prepared(frame) is False  # the handshake is not complete yet
        await asyncio.wait_for(served.accepted.wait(), 2.0)
        writes = len(transport.written)
        # In order with the app's own sends, in one coalesced write at the end of the iteration.
        await served.ws.send_text("own 1")
        assert protocol.send_prepared(frame) is True
        await served.ws.send_text("own 2")
        assert len(transport.written) == writes
        await asyncio.sleep(0)
        assert len(transport.written) == writes + 1
        assert served.messages() == [(OP_TEXT, "own 1"), (OP_TEXT, "shared"), (OP_TEXT, "own 2")]
        # Backpressure: nothing is written while the transport is over its high-water mark.
        protocol.pause_writing()
        assert protocol.send_prepared(frame) is False
        protocol.resume_writing()
        assert protocol.send_prepared(frame) is True
        await asyncio.sleep(0)
        # After the close frame, nothing.
        await served.ws.close(1001)
        assert protocol.send_prepared(frame) is False
        await asyncio.sleep(0)
        opcodes = [opcode for opcode, _ in served.messages()]
        assert opcodes == [OP_TEXT] * 4 + [OP_CLOSE]
        protocol.connection_lost(None)
        assert protocol.send_prepared(frame) is False
        served.done.set()
        await asyncio.sleep(0.01)

    run(scenario)


def test_broadcast_on_fastws_server_writes_the_frame_once_encoded(impl: Any, codec: Any) -> None:
    async def scenario() -> None:
        served = [Served(impl, codec) for _ in range(5)]
        for one in served:
            await asyncio.wait_for(one.accepted.wait(), 2.0)
        sockets = [one.ws for one in served]
        handed: list[bytes] = []
        for ws in sockets:
            sink = outbox_of(ws).frames
            assert sink is not None

            def counting(frame: bytes, sink: Any = sink) -> bool:
                handed.append(frame)
                return bool(sink(frame))

            outbox_of(ws).frames = counting
        encoded: list[Any] = []
        for i in range(3):
            await served[0].ws.send_text(f"own {i}")  # interleaved with the broadcasts on one of them
            result = await broadcast(sockets, {"n": i})
            assert result == BroadcastResult(delivered=5)
        await broadcast(sockets, b"\x00\xff")
        await asyncio.sleep(0)
        for one in served:
            assert outbox_of(one.ws).sent == 4 and not outbox_of(one.ws).busy
            got = one.messages()
            expected = [(OP_TEXT, '{"n":%d}' % i) for i in range(3)] + [(OP_BINARY, b"\x00\xff")]
            if one is served[0]:
                expected = [m for i in range(3) for m in ((OP_TEXT, f"own {i}"), expected[i])] + expected[3:]
            assert got == expected
            encoded.append(b"".join(one.transport.written).split(b"\r\n\r\n", 1)[1])
        # Each message was encoded once: the same bytes object was handed to every connection.
        assert len(handed) == 4 * 5 and len({id(frame) for frame in handed}) == 4
        assert len(set(encoded[1:])) == 1  # and the same bytes went out on each
        for one in served:
            one.done.set()
        await asyncio.sleep(0.01)

    run(scenario)


def test_frame_level_path_steps_aside_for_deflate_backpressure_and_close(impl: Any, codec: Any) -> None:
    async def scenario() -> None:
        deflated = Served(impl, codec, extensions=b"permessage-deflate")
        paused, closing, plain = Served(impl, codec), Served(impl, codec), Served(impl, codec)
        everyone = [deflated, paused, closing, plain]
        for one in everyone:
            await asyncio.wait_for(one.accepted.wait(), 2.0)
        assert deflated.protocol.deflate is not None
        paused.protocol.pause_writing()
        await closing.ws.close()
        sockets = [one.ws for one in everyone]
        result = await broadcast(sockets, "hello")
        # deflate: the ordinary send compresses it; paused: it waits in the sender; closed: counted.
        assert result == BroadcastResult(delivered=3, closed=1)
        assert outbox_of(paused.ws).busy
        await broadcast(sockets, "again")
        assert outbox_of(paused.ws).queued == 1  # behind the waiting one, in order
        paused.protocol.resume_writing()
        assert await outbox_of(paused.ws).join(2.0)
        await asyncio.sleep(0)
        for one in (deflated, paused, plain):
            texts = [payload for opcode, payload in one.messages() if opcode == OP_TEXT]
            assert texts == ["hello", "again"]
        assert [opcode for opcode, _ in closing.messages()] == [OP_CLOSE]  # nothing after the close
        raw = b"".join(deflated.transport.written)
        assert b"hello" not in raw.split(b"\r\n\r\n", 1)[1]  # it went compressed
        for one in everyone:
            one.done.set()
        await asyncio.sleep(0.01)

    run(scenario)


def test_frame_level_path_only_where_it_equals_a_send(impl: Any, codec: Any) -> None:
    starlette_websockets = pytest.importorskip("starlette.websockets")

    async def scenario() -> None:
        served = Served(impl, codec)
        await asyncio.wait_for(served.accepted.wait(), 2.0)
        assert fanout._frame_sink(served.ws) is not None
        scope, receive, send = served.ws.scope, served.ws._receive, served.ws._send

        async def wrapped(message: Any) -> None:  # a middleware's send
            await send(message)

        class Custom(impl.WebSocket):  # type: ignore[name-defined,misc]
            async def send_text(self, data: str) -> None:
                await super().send_text(data.upper())

        assert fanout._frame_sink(impl.WebSocket(scope, receive, wrapped)) is None
        assert fanout._frame_sink(Custom(scope, receive, send)) is None
        assert fanout._frame_sink(starlette_websockets.WebSocket(scope, receive, send)) is None
        served.done.set()
        await asyncio.sleep(0.01)

    run(scenario)


# -- over real sockets: uvicorn in this event loop, a client that stops reading -----------------------
PAYLOAD = 64 * 1024  # bytes per message
COUNT = 100  # messages: 6.25 MiB, more than the socket buffers hold for a client that does not read


@pytest.mark.e2e
@pytest.mark.parametrize("policy", ["drop_oldest", "close"])
@pytest.mark.parametrize("protocol", ["websockets-sansio", "fastws.server:WebSocketProtocol"])
def test_slow_client_over_uvicorn(impl: Any, policy: str, protocol: str) -> None:
    # Under fastws.server the fast client takes the frame-level path, the slow one falls back to
    # its outbox once the transport pushes back: bounds and policy hold on both protocols.
    uvicorn = pytest.importorskip("uvicorn")
    from websockets.asyncio.client import connect as ws_connect

    async def scenario() -> None:
        accepted: asyncio.Queue[Any] = asyncio.Queue()

        async def app(scope: Any, receive: Any, send: Any) -> None:
            ws = impl.WebSocket(scope, receive, send)
            await ws.accept()
            await accepted.put(ws)
            async with attached(ws):  # the sender cannot outlive this endpoint
                while (await ws.receive())["type"] != "websocket.disconnect":
                    pass

        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            lifespan="off",
            ws=protocol,  # both apply transport backpressure to send()
            log_level="warning",
            log_config=None,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        serving = asyncio.ensure_future(server.serve())
        try:
            while not server.started:
                assert not serving.done(), "uvicorn exited"
                await asyncio.sleep(0.005)
            port = server.servers[0].sockets[0].getsockname()[1]
            url = f"ws://127.0.0.1:{port}/"
            # No permessage-deflate: the payloads must weigh on the socket buffers as they are.
            fast = await ws_connect(url, max_size=None, compression=None)
            fast_ws = await accepted.get()
            # The slow client: a tiny receive window, and it never reads.
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
            slow = await ws_connect(url, sock=sock, max_size=None, max_queue=1, compression=None, close_timeout=0.5)
            slow_ws = await accepted.get()
            slow_box = outbox_of(slow_ws)

            async def read_fast() -> list[int]:
                return [int.from_bytes((await fast.recv())[:4], "big") for _ in range(COUNT)]

            reader = asyncio.ensure_future(read_fast())
            totals = BroadcastResult()
            most_queued = most_bytes = 0
            for i in range(COUNT):
                payload = i.to_bytes(4, "big") + bytes(PAYLOAD - 4)
                totals = totals + await broadcast(
                    [fast_ws, slow_ws], payload, policy=policy, max_messages=16, max_bytes=16 * PAYLOAD, timeout=0.1
                )
                most_queued = max(most_queued, slow_box.queued)
                most_bytes = max(most_bytes, slow_box.queued_bytes)
                await asyncio.sleep(0.003)
            started = time.perf_counter()
            assert await asyncio.wait_for(reader, 5.0) == list(range(COUNT))  # fast: all, in order
            assert time.perf_counter() - started < 2.0  # and not held back by the slow one
            assert most_queued <= 16 and most_bytes <= 16 * PAYLOAD  # bounded the whole time
            assert slow_box.sent < COUNT // 2, "the slow client was not slow: loopback buffered it all"
            if policy == "drop_oldest":
                assert totals.dropped > 0 and totals.closed == 0 and not slow_box.closed
            else:
                assert slow_box.closed and totals.closed >= 1 and totals.dropped == 0
            assert outbox_of(fast_ws).sent == COUNT
            assert (outbox_of(fast_ws).frames is not None) == protocol.startswith("fastws")
            await fast.close()
            slow.transport.abort()
        finally:
            server.should_exit = True
            await asyncio.wait_for(serving, 5.0)

    run(scenario)


def test_bench_broadcast_suite_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    # `fastws bench --broadcast` on a tiny workload: every variant delivers, figures are positive.
    pytest.importorskip("starlette")
    from fastws.bench import main
    from fastws.bench._broadcast import BROADCAST_VARIANTS, format_broadcast, run_broadcast

    result = run_broadcast(connections=20, messages=2, rounds=1)
    assert set(result["workloads"]) == {"text-64", "json-small"}
    for workload in result["workloads"].values():
        assert set(workload["variants"]) == {name for name, _, _ in BROADCAST_VARIANTS} - set(result["skipped"])
        for figures in workload["variants"].values():
            assert figures["messages_per_s"] > 0 and figures["bytes_per_connection"] > 0
    assert "starlette-loop" in format_broadcast(result)
    assert main(["--broadcast", "--quick", "--broadcast-connections", "20", "--quiet"]) == 0
    assert "Broadcast to 20 in-memory connections" in capsys.readouterr().out


def test_e2e_messages_carry_sequence_and_time_at_fixed_offsets() -> None:
    from fastws.bench._broadcast_e2e_client import _OFFSETS
    from fastws.bench._broadcast_e2e_server import message

    text = message("text", 42, 1234567890123)
    assert isinstance(text, str) and len(text) == 64
    value = message("json", 42, 1234567890123)
    for payload in (
        text.encode(),
        fanout.encode(value).text.encode(),  # type: ignore[union-attr]  # fastws: orjson
        json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(),  # Starlette's send_json
    ):
        s0, s1, t0, t1 = _OFFSETS["text" if payload == text.encode() else "json"]
        assert int(payload[s0:s1]) == 42 and int(payload[t0:t1]) == 1234567890123
    assert 180 <= len(fanout.encode(value).text) <= 230  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        message("xml", 0, 0)


@pytest.mark.e2e
def test_bench_broadcast_e2e_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    # `fastws bench --broadcast --e2e` on a tiny room: every row delivers every message in order,
    # from real server processes to a picows client process; the figures are there.
    pytest.importorskip("picows")
    from fastws.bench import main
    from fastws.bench._broadcast_e2e import PAYLOADS, ROWS, format_broadcast_e2e, run_broadcast_e2e

    result = run_broadcast_e2e(
        connections=12, count=15, warmup=3, burst=4, timeout=30.0, latency_count=5, latency_rate=200.0
    )
    assert result["rows"] == list(ROWS)
    for row in ROWS:
        for kind, _ in PAYLOADS:
            cell = result["results"][row][kind]
            assert cell["in_order"], (row, kind, cell)
            assert cell["rounds"][0]["delivered"] == 12 * 15
            assert cell["msgs_per_s"] > 0 and cell["p50_us"] > 0 and cell["p99_us"] >= cell["p50_us"]
    table = format_broadcast_e2e(result)
    assert "fastws-frames" in table and "uvicorn-starlette" in table and "NO" not in table.split("target")[0]
    with pytest.raises(ValueError, match="unknown broadcast rows"):
        run_broadcast_e2e(rows=("nginx",))
    argv = ["--broadcast", "--e2e", "--quick", "--broadcast-connections", "8", "--broadcast-count", "5", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Broadcast over loopback: one server process holding 8 picows client connections" in out
    assert "End to end" not in out  # the echo suite did not run as well
