"""fastws.server.WebSocketProtocol driven directly on a fake transport (no sockets): read
backpressure by ``ws_max_queue``, write backpressure by ``pause_writing``/``resume_writing``, and
the disconnect events, deterministic and fast. Both codec twins."""

from __future__ import annotations

import asyncio
import base64
import functools
import importlib
from types import SimpleNamespace
from typing import Any

import pytest

from fastws import server as server_module
from fastws.protocol._frame_types import OP_BINARY, OP_CLOSE, OP_TEXT
from fastws.server import WebSocketProtocol

MASK = b"\x0a\x0b\x0c\x0d"
HEAD = (
    b"GET /ws?x=1 HTTP/1.1\r\nhost: example\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
    b"sec-websocket-key: " + base64.b64encode(b"k" * 16) + b"\r\nsec-websocket-version: 13\r\n\r\n"
)


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.paused = False
        self.pauses = 0
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written.append(bytes(data))

    def pause_reading(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        self.paused = False

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)


@pytest.fixture(params=["c", "py"])
def codec(request: pytest.FixtureRequest) -> Any:
    if request.param == "c" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    return importlib.import_module(f"fastws.protocol._frame_{request.param}")


def make(app: Any, codec: Any, max_queue: int = 4) -> tuple[WebSocketProtocol, FakeTransport]:
    config = SimpleNamespace(
        loaded=True,
        loaded_app=app,
        root_path="/root",
        asgi_version="3.0",
        ws_max_size=1 << 20,
        ws_max_queue=max_queue,
        ws_ping_interval=None,
        ws_ping_timeout=None,
        ws_per_message_deflate=True,
    )
    state = SimpleNamespace(connections=set(), tasks=set(), default_headers=[(b"server", b"test")])
    cls = type("P", (WebSocketProtocol,), {"codec": codec})
    protocol = cls(config=config, server_state=state, app_state={"k": 1})
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport


def frames(codec: Any, data: bytes) -> list[tuple[int, Any]]:
    return codec.FrameParser(require_mask=False).feed(data)


def test_read_backpressure(codec: Any) -> None:
    async def main() -> None:
        gate = asyncio.Event()
        got: list[Any] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            assert scope["path"] == "/root/ws" and scope["raw_path"] == b"/root/ws"
            assert scope["query_string"] == b"x=1" and scope["state"] == {"k": 1}
            await receive()
            await send({"type": "websocket.accept"})
            await gate.wait()
            while True:
                event = await receive()
                got.append(event)
                if event["type"] == "websocket.disconnect":
                    return

        protocol, transport = make(app, codec, max_queue=4)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        assert transport.written[0].startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        assert b"server: test\r\n" in transport.written[0]
        for i in range(3):
            protocol.data_received(codec.encode_frame(OP_TEXT, str(i).encode(), mask=MASK))
        assert not transport.paused
        protocol.data_received(codec.encode_frame(OP_BINARY, b"3", mask=MASK))
        assert transport.paused  # 4 messages wait for the app
        gate.set()
        await asyncio.sleep(0.01)
        assert not transport.paused and transport.pauses == 1
        protocol.data_received(codec.encode_frame(OP_CLOSE, codec.close_payload(1001, "bye"), mask=MASK))
        await asyncio.sleep(0.01)
        assert got == [
            *({"type": "websocket.receive", "text": str(i)} for i in range(3)),
            {"type": "websocket.receive", "bytes": b"3"},
            {"type": "websocket.disconnect", "code": 1001, "reason": "bye"},
        ]
        assert frames(codec, transport.written[-1]) == [(OP_CLOSE, b"\x03\xe9bye")]  # echoed whole, as uvicorn
        assert transport.closed
        protocol.connection_lost(None)
        assert not protocol.connections

    asyncio.run(asyncio.wait_for(main(), 5))


def test_write_backpressure_and_lost_connection(codec: Any) -> None:
    async def main() -> None:
        sent: list[int] = []
        outcome: list[Any] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            try:
                for i in range(3):
                    await send({"type": "websocket.send", "text": str(i)})
                    sent.append(i)
            except OSError as exc:
                outcome.append(type(exc).__name__)
            outcome.append(await receive())

        protocol, transport = make(app, codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        assert sent == [0, 1, 2]
        protocol.pause_writing()
        sent.clear()
        task = asyncio.ensure_future(protocol.send({"type": "websocket.send", "bytes": b"x"}))
        await asyncio.sleep(0.01)
        assert not task.done()
        protocol.resume_writing()
        await asyncio.wait_for(task, 1)
        assert frames(codec, transport.written[-1]) == [(OP_BINARY, b"x")]
        protocol.pause_writing()
        task = asyncio.ensure_future(protocol.send({"type": "websocket.send", "bytes": b"y"}))
        await asyncio.sleep(0.01)
        protocol.connection_lost(ConnectionResetError())  # wakes the writer, which then fails
        with pytest.raises(OSError):
            await asyncio.wait_for(task, 1)
        await asyncio.sleep(0.01)
        assert outcome == [{"type": "websocket.disconnect", "code": 1006}]  # no reason key, as uvicorn

    asyncio.run(asyncio.wait_for(main(), 5))


def test_split_head_and_frames_in_one_read(codec: Any) -> None:
    async def main() -> None:
        got: list[Any] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            got.append(await receive())
            await send({"type": "websocket.accept", "subprotocol": "s"})
            got.append(await receive())

        protocol, transport = make(app, codec)
        data = HEAD + codec.encode_frame(OP_TEXT, b"early", mask=MASK)
        protocol.data_received(data[:10])
        protocol.data_received(data[10:])
        await asyncio.sleep(0.01)
        assert got == [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "early"}]
        assert b"sec-websocket-protocol: s\r\n" in transport.written[0]

    asyncio.run(asyncio.wait_for(main(), 5))


def test_shutdown_sends_1012(codec: Any) -> None:
    async def main() -> None:
        got: list[Any] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            got.append(await receive())

        protocol, transport = make(app, codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        protocol.shutdown()
        await asyncio.sleep(0.01)
        assert frames(codec, transport.written[-1]) == [(OP_CLOSE, b"\x03\xf4")]
        assert got == [{"type": "websocket.disconnect", "code": 1012}]  # no reason key, as uvicorn
        assert transport.closed

    asyncio.run(asyncio.wait_for(main(), 5))


def test_protocol_error_waits_for_the_app_then_fails(codec: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "FAIL_GRACE", 0.05)

    async def main() -> None:
        got: list[Any] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            got.append(await receive())
            await asyncio.sleep(1)  # never comes back in time: the grace timer fails the connection

        protocol, transport = make(app, codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        protocol.data_received(
            codec.encode_frame(OP_BINARY, b"ok", mask=MASK) + codec.encode_frame(OP_TEXT, b"\xff", mask=MASK)
        )
        await asyncio.sleep(0.01)
        assert got == [{"type": "websocket.receive", "bytes": b"ok"}]
        assert not transport.closed  # the app is still handling "ok"
        await asyncio.sleep(0.1)
        assert transport.closed
        code, _ = codec.parse_close(frames(codec, transport.written[-1])[0][1])
        assert code == 1007

    asyncio.run(asyncio.wait_for(main(), 5))


@pytest.mark.parametrize(
    ("offer", "response"),
    [
        # server_no_context_takeover is always in the response (RFC 7692 section 7.1.1.1): one
        # compressor shared by every connection.
        ([b"permessage-deflate"], b"permessage-deflate; server_no_context_takeover"),
        ([b"permessage-deflate; client_max_window_bits"], b"permessage-deflate; server_no_context_takeover"),
        (
            [b"permessage-deflate; server_no_context_takeover; client_no_context_takeover"],
            b"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        ),
        (
            [b'permessage-deflate; server_max_window_bits="10"'],
            b"permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
        ),
        # 8 bits cannot be honoured with zlib: the next offer is taken.
        (
            [b"permessage-deflate; server_max_window_bits=8, permessage-deflate"],
            b"permessage-deflate; server_no_context_takeover",
        ),
        (
            [b"x-webkit-deflate-frame", b"permessage-deflate; client_max_window_bits=9"],
            b"permessage-deflate; server_no_context_takeover",
        ),
        ([b"permessage-deflate; server_max_window_bits=16"], None),
        ([b"permessage-deflate; server_max_window_bits"], None),
        ([b"permessage-deflate; client_max_window_bits=07"], None),
        ([b"permessage-deflate; unknown"], None),
        ([b"permessage-deflate; server_no_context_takeover; server_no_context_takeover"], None),
        ([b"permessage-deflate; server_no_context_takeover=1"], None),
        ([b"x-other"], None),
    ],
)
def test_negotiate_deflate(offer: list[bytes], response: bytes | None) -> None:
    negotiated = server_module.negotiate_deflate(offer)
    assert (negotiated[0] if negotiated else None) == response


def test_deflate_on_the_wire(codec: Any) -> None:
    import zlib

    async def main() -> None:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            while True:
                event = await receive()
                if event["type"] == "websocket.disconnect":
                    return
                await send({"type": "websocket.send", **{k: v for k, v in event.items() if k in ("text", "bytes")}})

        protocol, transport = make(app, codec)
        head = HEAD.replace(
            b"\r\n\r\n", b"\r\nsec-websocket-extensions: permessage-deflate; server_no_context_takeover\r\n\r\n"
        )
        protocol.data_received(head)
        await asyncio.sleep(0.01)
        assert b"sec-websocket-extensions: permessage-deflate; server_no_context_takeover\r\n" in transport.written[0]
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        for text in ("héllo " * 100, "héllo " * 100):
            data = compressor.compress(text.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
            protocol.data_received(codec.encode_frame(OP_TEXT, data[:-4], mask=MASK, rsv=4))
            await asyncio.sleep(0.01)
            frame = transport.written[-1]
            assert frame[0] == 0xC1  # FIN, RSV1, text
            inflater = zlib.decompressobj(-15)  # no context takeover: each reply stands alone
            ((opcode, payload),) = (
                codec.FrameParser(require_mask=False, inflate=False).feed(bytes([0x81]) + frame[1:])
                if False
                else [(1, None)]
            )
            body = frame[2:] if frame[1] < 126 else frame[4:]
            assert inflater.decompress(body + b"\x00\x00\xff\xff").decode() == text
        protocol.data_received(codec.encode_frame(OP_BINARY, b"raw", mask=MASK))  # uncompressed still fine
        await asyncio.sleep(0.01)
        parser = codec.FrameParser(require_mask=False, inflate=True, inflate_reset=True)
        assert parser.feed(transport.written[-1]) == [(OP_BINARY, b"raw")]

    asyncio.run(asyncio.wait_for(main(), 5))


def test_frames_of_one_loop_iteration_coalesce(codec: Any) -> None:
    async def main() -> None:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            for i in range(100):
                await send({"type": "websocket.send", "text": str(i)})
            await send({"type": "websocket.send", "bytes": b"x" * 70_000})  # past the threshold: written at once
            await send({"type": "websocket.send", "text": "last"})
            await send({"type": "websocket.close", "code": 1000})  # flushes what is buffered first

        protocol, transport = make(app, codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        writes = transport.written[1:]
        assert len(writes) == 3  # 100 small frames + the big one; "last"; the close frame
        events = frames(codec, b"".join(writes))
        assert events == [
            *((OP_TEXT, str(i)) for i in range(100)),
            (OP_BINARY, b"x" * 70_000),
            (OP_TEXT, "last"),
            (OP_CLOSE, b"\x03\xe8"),
        ]

    asyncio.run(asyncio.wait_for(main(), 5))


# -- request/response: the reply to the last queued message is written at once -------------------


def echo_app(extra: int = 0, log: list[int] | None = None, transport_box: list[Any] | None = None) -> Any:
    """An echo app sending ``extra`` more frames after each reply; ``log`` gets the number of
    writes the transport saw right after each reply's ``send`` returned."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            event = await receive()
            if event["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": event["text"]})
            if log is not None and transport_box:
                log.append(len(transport_box[0].written))
            for i in range(extra):
                await send({"type": "websocket.send", "text": f"{event['text']}+{i}"})

    return app


def test_request_response_reply_is_written_during_send(codec: Any) -> None:
    async def main() -> None:
        log: list[int] = []
        box: list[Any] = []
        protocol, transport = make(echo_app(log=log, transport_box=box), codec)
        box.append(transport)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        for i in range(3):
            before = len(transport.written)
            protocol.data_received(codec.encode_frame(OP_TEXT, b"m%d" % i, mask=MASK))
            await asyncio.sleep(0.01)
            assert log[-1] == before + 1  # written by send itself, not by a later flush callback
            assert frames(codec, transport.written[-1]) == [(OP_TEXT, f"m{i}")]
        assert not protocol._out

    asyncio.run(asyncio.wait_for(main(), 5))


def test_direct_and_coalesced_writes_keep_frame_order(codec: Any) -> None:
    async def main() -> None:
        protocol, transport = make(echo_app(extra=2), codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        start = len(transport.written)
        expected: list[tuple[int, Any]] = []
        for i in range(3):  # one message at a time: the reply direct, the two extra frames coalesced
            protocol.data_received(codec.encode_frame(OP_TEXT, b"r%d" % i, mask=MASK))
            await asyncio.sleep(0.01)
            expected += [(OP_TEXT, f"r{i}"), (OP_TEXT, f"r{i}+0"), (OP_TEXT, f"r{i}+1")]
        assert len(transport.written) - start == 6
        # Pipelined: five messages in one read; every reply joins one coalesced write, in order.
        before = len(transport.written)
        protocol.data_received(b"".join(codec.encode_frame(OP_TEXT, b"p%d" % i, mask=MASK) for i in range(5)))
        await asyncio.sleep(0.01)
        for i in range(5):
            expected += [(OP_TEXT, f"p{i}"), (OP_TEXT, f"p{i}+0"), (OP_TEXT, f"p{i}+1")]
        assert len(transport.written) - before == 1
        assert frames(codec, b"".join(transport.written[start:])) == expected

    asyncio.run(asyncio.wait_for(main(), 5))


def test_close_after_a_direct_reply_flushes_the_buffered_frames_first(codec: Any) -> None:
    async def main() -> None:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            await receive()
            await send({"type": "websocket.send", "text": "reply"})  # written at once
            await send({"type": "websocket.send", "text": "a"})  # buffered
            await send({"type": "websocket.send", "text": "b"})  # buffered
            await send({"type": "websocket.close", "code": 1000})  # flushes a, b first

        protocol, transport = make(app, codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        start = len(transport.written)
        protocol.data_received(codec.encode_frame(OP_TEXT, b"q", mask=MASK))
        await asyncio.sleep(0.01)
        assert frames(codec, b"".join(transport.written[start:])) == [
            (OP_TEXT, "reply"),
            (OP_TEXT, "a"),
            (OP_TEXT, "b"),
            (OP_CLOSE, b"\x03\xe8"),
        ]

    asyncio.run(asyncio.wait_for(main(), 5))


def test_direct_reply_to_a_closing_transport_writes_nothing(codec: Any) -> None:
    async def main() -> None:
        gate = asyncio.Event()
        sent: list[Any] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            await receive()
            await gate.wait()
            sent.append(await send({"type": "websocket.send", "text": "late"}))

        protocol, transport = make(app, codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        protocol.data_received(codec.encode_frame(OP_TEXT, b"q", mask=MASK))
        await asyncio.sleep(0.01)
        before = len(transport.written)
        transport.closed = True  # e.g. the transport is being torn down, connection_lost not yet called
        gate.set()
        await asyncio.sleep(0.01)
        assert sent == [None] and len(transport.written) == before

    asyncio.run(asyncio.wait_for(main(), 5))


class BoundedTransport(FakeTransport):
    """A transport whose peer never reads: over ``limit`` buffered bytes it calls the protocol's
    ``pause_writing``, as asyncio's and uvloop's transports do past their high-water mark."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.protocol: Any = None
        self.size = 0
        self.over = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        super().write(data)
        self.size += len(data)
        if self.size > self.limit and not self.over:
            self.over = True
            self.protocol.pause_writing()


def test_peer_that_never_reads_bounds_direct_replies(codec: Any) -> None:
    async def main() -> None:
        protocol, _ = make(echo_app(), codec)
        transport = BoundedTransport(limit=1000)
        transport.protocol = protocol
        protocol.connection_made(transport)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        for _ in range(200):  # request/response from a client that never reads the replies
            if transport.paused:
                break  # a real transport stops calling data_received after pause_reading
            protocol.data_received(codec.encode_frame(OP_TEXT, b"x" * 100, mask=MASK))
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        await asyncio.sleep(0.01)
        assert transport.over
        assert transport.size <= 1000 + 200  # one frame past the mark at most, then send waits
        assert transport.paused  # ws_max_queue messages wait behind the blocked send: reading paused
        assert len(protocol._messages) <= 4
        # The peer reads: the waiting send goes on, then the queued messages are answered.
        transport.over = False
        transport.limit = 1 << 30
        protocol.resume_writing()
        await asyncio.sleep(0.01)
        assert not transport.paused

    asyncio.run(asyncio.wait_for(main(), 5))


def test_send_cancelled_under_backpressure_after_receive_writes_nothing(codec: Any) -> None:
    async def main() -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        box: dict[str, Any] = {}

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            box.update(receive=receive, send=send)
            await queue.get()

        protocol, transport = make(app, codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        protocol.data_received(codec.encode_frame(OP_TEXT, b"q", mask=MASK))
        assert (await box["receive"]())["text"] == "q"  # the queue is drained: the next frame goes direct
        protocol.pause_writing()
        before = len(transport.written)
        task = asyncio.ensure_future(box["send"]({"type": "websocket.send", "text": "cancelled"}))
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.sleep(0.01)
        assert task.cancelled() and len(transport.written) == before
        protocol.resume_writing()
        await box["send"]({"type": "websocket.send", "text": "next"})
        await asyncio.sleep(0.01)
        assert frames(codec, b"".join(transport.written[before:])) == [(OP_TEXT, "next")]
        assert not protocol._writers and not protocol._receivers
        queue.put_nowait(None)

    asyncio.run(asyncio.wait_for(main(), 5))


def test_binary_and_text_replies_and_an_empty_send_keep_order(codec: Any) -> None:
    async def main() -> None:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            while True:
                event = await receive()
                if event["type"] == "websocket.disconnect":
                    return
                await send({"type": "websocket.send"})  # neither text nor bytes: nothing is written
                if "bytes" in event:
                    await send({"type": "websocket.send", "bytes": event["bytes"]})
                else:
                    await send({"type": "websocket.send", "text": event["text"]})

        protocol, transport = make(app, codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        start = len(transport.written)
        protocol.data_received(codec.encode_frame(OP_BINARY, b"\x00b1", mask=MASK))
        await asyncio.sleep(0.01)
        assert len(transport.written) == start + 1  # the reply went out during send
        protocol.data_received(
            codec.encode_frame(OP_TEXT, b"t2", mask=MASK) + codec.encode_frame(OP_BINARY, b"b3", mask=MASK)
        )
        await asyncio.sleep(0.01)
        assert len(transport.written) == start + 2  # two pipelined replies, one write
        assert frames(codec, b"".join(transport.written[start:])) == [
            (OP_BINARY, b"\x00b1"),
            (OP_TEXT, "t2"),
            (OP_BINARY, b"b3"),
        ]

    asyncio.run(asyncio.wait_for(main(), 5))


# -- fastws.WebSocket's send_text/send_bytes through send_data_nowait -----------------------------


class Spy:
    """Wraps a protocol's send_data_nowait, recording (data, text, result); ``fail`` raises it."""

    def __init__(self, protocol: Any, fail: BaseException | None = None) -> None:
        self.inner = protocol.send_data_nowait
        self.calls: list[tuple[Any, bool, bool]] = []
        self.fail = fail

    def __call__(self, data: Any, text: bool) -> bool:
        if self.fail is not None:
            raise self.fail
        result = self.inner(data, text)
        self.calls.append((data, text, result))
        return bool(result)


async def ws_session(impl: Any, codec: Any, body: Any, spy_fail: BaseException | None = None) -> tuple[Any, Any, Any]:
    """Runs ``body(ws, protocol)`` in an app holding a twin's WebSocket over fastws.server."""
    box: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        ws = impl.WebSocket(scope, receive, send)
        await ws.accept()
        box["result"] = await body(ws, box["protocol"])

    protocol, transport = make(app, codec)
    box["protocol"] = protocol
    spy = Spy(protocol, spy_fail)
    protocol.send_data_nowait = spy  # found through the bound send, as the real method
    protocol.data_received(HEAD)
    await asyncio.sleep(0.01)
    return box, transport, spy


def test_websocket_sends_through_send_data_nowait(impl: Any, codec: Any) -> None:
    async def body(ws: Any, protocol: Any) -> Any:
        protocol.data_received(codec.encode_frame(OP_TEXT, b"q", mask=MASK))
        assert await ws.receive_text() == "q"
        await ws.send_text("t")  # the reply: written during the call
        await ws.send_bytes(b"b")  # coalesced
        await ws.send_json({"j": 1})  # the general path (await send), in order after them
        return None

    async def main() -> None:
        box, transport, spy = await ws_session(impl, codec, body)
        assert spy.calls == [("t", True, True), (b"b", False, True)]
        await asyncio.sleep(0.01)
        assert frames(codec, b"".join(transport.written[1:])) == [
            (OP_TEXT, "t"),
            (OP_BINARY, b"b"),
            (OP_TEXT, '{"j":1}'),
        ]

    asyncio.run(asyncio.wait_for(main(), 5))


def test_send_data_nowait_declines_under_backpressure_and_cancel_sends_nothing(impl: Any, codec: Any) -> None:
    async def body(ws: Any, protocol: Any) -> Any:
        protocol.pause_writing()
        before = len(protocol.transport.written)
        task = asyncio.ensure_future(ws.send_text("waits"))
        await asyncio.sleep(0.01)
        assert not task.done()  # declined by send_data_nowait: send waits for the buffer to drain
        task.cancel()
        await asyncio.sleep(0.01)
        assert task.cancelled() and len(protocol.transport.written) == before
        later = asyncio.ensure_future(ws.send_bytes(b"after"))
        await asyncio.sleep(0.01)
        protocol.resume_writing()
        await asyncio.wait_for(later, 1)
        await asyncio.sleep(0.01)
        return frames(codec, b"".join(protocol.transport.written[before:]))

    async def main() -> None:
        box, _, spy = await ws_session(impl, codec, body)
        await asyncio.sleep(0.05)
        assert box["result"] == [(OP_BINARY, b"after")]
        assert [result for _, _, result in spy.calls] == [False, False]

    asyncio.run(asyncio.wait_for(main(), 5))


def test_send_after_the_client_left_raises_as_without_the_hook(impl: Any, codec: Any) -> None:
    async def body(ws: Any, protocol: Any) -> Any:
        protocol.connection_lost(None)
        try:
            await ws.send_text("gone")
        except Exception as exc:  # WebSocketDisconnect(1006), as over any server raising OSError
            return type(exc).__name__, getattr(exc, "code", None), ws.application_state.name
        return None

    async def main() -> None:
        box, _, spy = await ws_session(impl, codec, body)
        assert box["result"] == ("WebSocketDisconnect", 1006, "DISCONNECTED")
        assert spy.calls == [("gone", True, False)]

    asyncio.run(asyncio.wait_for(main(), 5))


def test_an_oserror_from_send_data_nowait_is_websocketdisconnect_1006(impl: Any, codec: Any) -> None:
    async def body(ws: Any, protocol: Any) -> Any:
        try:
            await ws.send_bytes(b"x")
        except Exception as exc:
            return type(exc).__name__, getattr(exc, "code", None), ws.application_state.name
        return None

    async def main() -> None:
        box, _, _ = await ws_session(impl, codec, body, spy_fail=ConnectionResetError())
        assert box["result"] == ("WebSocketDisconnect", 1006, "DISCONNECTED")

    asyncio.run(asyncio.wait_for(main(), 5))


def test_bad_payload_raises_the_same_with_and_without_the_hook(impl: Any, codec: Any) -> None:
    async def body(ws: Any, protocol: Any) -> Any:
        errors = []
        for call in (lambda: ws.send_text(b"not str"), lambda: ws.send_bytes(None)):
            try:
                await call()
            except Exception as exc:
                errors.append(type(exc).__name__)
            else:
                errors.append(None)
        return errors

    async def main() -> None:
        with_hook, _, spy = await ws_session(impl, codec, body)
        assert with_hook["result"][0] is not None  # the codec refuses bytes as text, in both paths
        assert spy.calls[-1] == (None, False, False)  # None: the general path decides

        class NoHook(WebSocketProtocol):
            async def send(self, message: dict[str, Any]) -> None:  # an override: never bypassed
                await WebSocketProtocol.send(self, message)

        box: dict[str, Any] = {}

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            ws = impl.WebSocket(scope, receive, send)
            await ws.accept()
            box["result"] = await body(ws, None)

        config = SimpleNamespace(
            loaded=True, loaded_app=app, root_path="", asgi_version="3.0", ws_max_size=1 << 20,
            ws_max_queue=4, ws_ping_interval=None, ws_ping_timeout=None, ws_per_message_deflate=True,
        )  # fmt: skip
        state = SimpleNamespace(connections=set(), tasks=set(), default_headers=[])
        protocol = type("P", (NoHook,), {"codec": codec})(config=config, server_state=state, app_state={})
        calls: list[Any] = []
        protocol.send_data_nowait = lambda data, text: calls.append(data) or False
        protocol.connection_made(FakeTransport())
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        assert box["result"] == with_hook["result"] and calls == []

    asyncio.run(asyncio.wait_for(main(), 5))


def test_a_replaced_send_is_always_awaited(impl: Any, codec: Any) -> None:
    async def body(ws: Any, protocol: Any) -> Any:
        seen: list[Any] = []
        original = ws._send

        async def wrapped(message: dict[str, Any]) -> None:
            seen.append(message)
            await original(message)

        ws._send = wrapped  # middleware-like replacement after construction
        await ws.send_text("via wrapper")
        return seen

    async def main() -> None:
        box, transport, spy = await ws_session(impl, codec, body)
        assert box["result"] == [{"type": "websocket.send", "text": "via wrapper"}] and spy.calls == []
        await asyncio.sleep(0.01)
        assert frames(codec, transport.written[-1]) == [(OP_TEXT, "via wrapper")]

    asyncio.run(asyncio.wait_for(main(), 5))


def test_a_send_override_wrapped_with_functools_wraps_sees_every_event(impl: Any, codec: Any) -> None:
    # functools.wraps copies send's __dict__, and with it the mark that leads fastws.WebSocket to
    # send_data_nowait; the mark names the function it was set on, so the wrapper is not taken for
    # it and the override sees every websocket.send event (a logging or metrics subclass).
    seen: list[str] = []

    def logged(send: Any) -> Any:
        @functools.wraps(send)
        async def wrapper(self: Any, message: dict[str, Any]) -> None:
            seen.append(message["type"])
            await send(self, message)

        return wrapper

    async def main() -> None:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            ws = impl.WebSocket(scope, receive, send)
            await ws.accept()
            await ws.send_text("hi")
            await ws.send_bytes(b"b")
            await ws.close()

        config = SimpleNamespace(
            loaded=True, loaded_app=app, root_path="", asgi_version="3.0", ws_max_size=1 << 20,
            ws_max_queue=4, ws_ping_interval=None, ws_ping_timeout=None, ws_per_message_deflate=True,
        )  # fmt: skip
        state = SimpleNamespace(connections=set(), tasks=set(), default_headers=[])
        logged_class = type("Logged", (WebSocketProtocol,), {"codec": codec, "send": logged(WebSocketProtocol.send)})
        protocol = logged_class(config=config, server_state=state, app_state={})
        assert protocol.send._fastws_send_nowait  # the mark was copied: the case this test is about
        transport = FakeTransport()
        protocol.connection_made(transport)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        assert seen == ["websocket.accept", "websocket.send", "websocket.send", "websocket.close"]
        assert frames(codec, b"".join(transport.written[1:])) == [
            (OP_TEXT, "hi"),
            (OP_BINARY, b"b"),
            (OP_CLOSE, b"\x03\xe8"),
        ]

    asyncio.run(asyncio.wait_for(main(), 5))


@pytest.mark.parametrize("payload", [123, 0, True])
def test_send_bytes_of_an_int_is_a_typeerror_and_writes_nothing(impl: Any, codec: Any, payload: Any) -> None:
    # bytes(123) is 123 zero bytes: an int is refused as a payload instead of reaching the wire.
    async def body(ws: Any, protocol: Any) -> Any:
        before = len(protocol.transport.written)
        with pytest.raises(TypeError, match="bytes-like"):
            await ws.send_bytes(payload)
        await asyncio.sleep(0.01)
        return len(protocol.transport.written) - before

    async def main() -> None:
        box, _, _ = await ws_session(impl, codec, body)
        await asyncio.sleep(0.05)  # the body's own sleep ends after ws_session's
        assert box["result"] == 0

    asyncio.run(asyncio.wait_for(main(), 5))
