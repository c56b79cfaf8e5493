"""fastws.server.WebSocketProtocol on a fake transport (deterministic, both codec twins):
cancellation safety of ``receive``/``send``, validation of every byte the app hands the handshake,
control frames under write backpressure, and the denial-response error paths.

The same behaviours over real sockets are in tests/protocol/test_server.py.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import anyio
import pytest
from test_server_protocol import HEAD, MASK, FakeTransport, frames, make

from fastws.protocol._frame_types import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT


@pytest.fixture(params=["c", "py"])
def codec(request: pytest.FixtureRequest) -> Any:
    if request.param == "c" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    return importlib.import_module(f"fastws.protocol._frame_{request.param}")


async def accepted(codec: Any, app: Any = None) -> tuple[Any, FakeTransport, dict[str, Any]]:
    """A protocol past the handshake; ``box["receive"]``/``box["send"]`` are the app's callables
    (the app itself idles until the test ends)."""
    box: dict[str, Any] = {}
    ready = asyncio.Event()

    async def idle_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        box.update(receive=receive, send=send)
        ready.set()
        await asyncio.Event().wait()

    protocol, transport = make(app or idle_app, codec)
    protocol.data_received(HEAD)
    await asyncio.wait_for(ready.wait(), 1)
    return protocol, transport, box


def text_frame(codec: Any, text: str) -> bytes:
    return codec.encode_frame(OP_TEXT, text.encode(), mask=MASK)


# -- 2. cancellation safety ----------------------------------------------------------------------


def test_receive_cancelled_by_a_timeout_then_the_next_message_arrives(codec: Any) -> None:
    async def main() -> None:
        protocol, _, box = await accepted(codec)
        receive = box["receive"]
        for _ in range(3):  # the timeout pattern, repeatedly (heartbeat / auth deadline)
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(receive(), 0.01)
        assert not protocol._receivers  # the cancelled waiters removed themselves
        protocol.data_received(text_frame(codec, "after"))
        assert await asyncio.wait_for(receive(), 1) == {"type": "websocket.receive", "text": "after"}
        # A message already queued is not lost to a receive cancelled just after its wake-up.
        waiter = asyncio.ensure_future(receive())
        await asyncio.sleep(0)
        protocol.data_received(text_frame(codec, "kept"))
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert await asyncio.wait_for(receive(), 1) == {"type": "websocket.receive", "text": "kept"}

    asyncio.run(asyncio.wait_for(main(), 5))


def test_cancelling_one_receiver_leaves_the_other(codec: Any) -> None:
    async def main() -> None:
        protocol, _, box = await accepted(codec)
        first = asyncio.ensure_future(box["receive"]())
        second = asyncio.ensure_future(box["receive"]())
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.sleep(0)
        protocol.data_received(text_frame(codec, "x"))
        assert await asyncio.wait_for(second, 1) == {"type": "websocket.receive", "text": "x"}
        assert first.cancelled()

    asyncio.run(asyncio.wait_for(main(), 5))


def test_concurrent_senders_under_backpressure_some_cancelled(codec: Any) -> None:
    async def main() -> None:
        protocol, transport, box = await accepted(codec)
        send = box["send"]
        protocol.pause_writing()
        before = len(transport.written)

        async def sender(name: str) -> str:
            for i in range(3):
                await send({"type": "websocket.send", "text": f"{name}{i}"})
            return name

        tasks = [asyncio.ensure_future(sender(name)) for name in "abcd"]
        await asyncio.sleep(0.01)
        assert not any(task.done() for task in tasks)  # all wait for the buffer to drain
        tasks[0].cancel()
        tasks[2].cancel()
        await asyncio.sleep(0.01)
        assert len(transport.written) == before  # nothing was written while paused
        protocol.resume_writing()
        assert await asyncio.wait_for(asyncio.gather(tasks[1], tasks[3]), 1) == ["b", "d"]
        assert tasks[0].cancelled() and tasks[2].cancelled()
        await asyncio.sleep(0.01)  # the coalesced frames are flushed at the end of the iteration
        texts = [data for op, data in frames(codec, b"".join(transport.written[before:])) if op == OP_TEXT]
        assert sorted(texts) == ["b0", "b1", "b2", "d0", "d1", "d2"]
        assert not protocol._writers
        # A later pause/resume still works (no waiter left poisoned by the cancellations).
        protocol.pause_writing()
        late = asyncio.ensure_future(send({"type": "websocket.send", "text": "late"}))
        await asyncio.sleep(0.01)
        assert not late.done()
        protocol.resume_writing()
        await asyncio.wait_for(late, 1)

    asyncio.run(asyncio.wait_for(main(), 5))


def test_close_is_not_held_back_by_write_backpressure(codec: Any) -> None:
    # A client that stopped reading can still be closed (fastws.broadcast's "close" policy): the
    # close frame is one bounded write; the close timer then drops a peer that never answers.
    async def main() -> None:
        protocol, transport, box = await accepted(codec)
        protocol.close_timeout = 0.05
        protocol.pause_writing()
        await asyncio.wait_for(box["send"]({"type": "websocket.close", "code": 1013, "reason": "slow"}), 1)
        assert frames(codec, transport.written[-1]) == [(OP_CLOSE, codec.close_payload(1013, "slow"))]
        assert not transport.closed  # waits for the peer's close frame...
        await asyncio.sleep(0.1)
        assert transport.closed  # ...for close_timeout at most

    asyncio.run(asyncio.wait_for(main(), 5))


def test_lost_connection_wakes_every_waiting_sender(codec: Any) -> None:
    async def main() -> None:
        protocol, _, box = await accepted(codec)
        protocol.pause_writing()
        tasks = [asyncio.ensure_future(box["send"]({"type": "websocket.send", "text": "x"})) for _ in range(3)]
        await asyncio.sleep(0.01)
        protocol.connection_lost(None)
        for task in tasks:
            with pytest.raises(OSError):
                await asyncio.wait_for(task, 1)

    asyncio.run(asyncio.wait_for(main(), 5))


# -- 4. control frames under write backpressure --------------------------------------------------


def test_pings_while_paused_get_one_pong_for_the_latest(codec: Any) -> None:
    async def main() -> None:
        protocol, transport, _ = await accepted(codec)
        protocol.pause_writing()
        before = len(transport.written)
        for i in range(1000):
            protocol.data_received(codec.encode_frame(OP_PING, b"%d" % i, mask=MASK))
        assert len(transport.written) == before  # no pong grows the buffer while it is over its mark
        protocol.resume_writing()
        assert frames(codec, b"".join(transport.written[before:])) == [(OP_PONG, b"999")]
        protocol.data_received(codec.encode_frame(OP_PING, b"now", mask=MASK))
        assert frames(codec, transport.written[-1]) == [(OP_PONG, b"now")]  # answered at once again

    asyncio.run(asyncio.wait_for(main(), 5))


def test_close_reply_while_paused_is_one_frame_then_tcp_closes(codec: Any) -> None:
    async def main() -> None:
        protocol, transport, box = await accepted(codec)
        protocol.pause_writing()
        before = len(transport.written)
        protocol.data_received(codec.encode_frame(OP_PING, b"p", mask=MASK))
        protocol.data_received(codec.encode_frame(OP_CLOSE, codec.close_payload(1000), mask=MASK))
        assert frames(codec, b"".join(transport.written[before:])) == [(OP_CLOSE, b"\x03\xe8")]
        assert transport.closed
        protocol.resume_writing()  # the held pong is dropped: a close was sent
        assert frames(codec, b"".join(transport.written[before:])) == [(OP_CLOSE, b"\x03\xe8")]
        assert await asyncio.wait_for(box["receive"](), 1) == {
            "type": "websocket.disconnect",
            "code": 1000,
            "reason": "",
        }

    asyncio.run(asyncio.wait_for(main(), 5))


# -- 3. header and status validation -------------------------------------------------------------

BAD_ACCEPTS = [
    ({"headers": [(b"x-a", b"1\r\nSet-Cookie: evil=1")]}, ValueError, "CR, LF or NUL"),
    ({"headers": [(b"x-a", b"1\nx")]}, ValueError, "CR, LF or NUL"),
    ({"headers": [(b"x-a", b"1\x00")]}, ValueError, "CR, LF or NUL"),
    ({"headers": [(b"x a", b"1")]}, ValueError, "not an RFC 9110 token"),
    ({"headers": [(b"x-a:", b"1")]}, ValueError, "not an RFC 9110 token"),
    ({"headers": [(b"", b"1")]}, ValueError, "not an RFC 9110 token"),
    ({"headers": [(b"x\r\nevil", b"1")]}, ValueError, "not an RFC 9110 token"),
    ({"headers": [("x-a", "1")]}, TypeError, "must be bytes"),
    ({"headers": [(b"x-a",)]}, TypeError, "pairs of bytes"),
    ({"subprotocol": "chat\r\nSet-Cookie: evil=1"}, ValueError, "not an RFC 9110 token"),
    ({"subprotocol": "a b"}, ValueError, "not an RFC 9110 token"),
    ({"subprotocol": "é"}, ValueError, "not an RFC 9110 token"),
    ({"subprotocol": b"chat"}, TypeError, "must be a str"),
]


@pytest.mark.parametrize(("fields", "error", "message"), BAD_ACCEPTS)
def test_invalid_accept_raises_and_writes_nothing_then_500(
    codec: Any, fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    async def main() -> None:
        raised: list[BaseException] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            try:
                await send({"type": "websocket.accept", **fields})
            except Exception as exc:
                raised.append(exc)
                raise

        protocol, transport = make(app, codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        assert len(raised) == 1 and isinstance(raised[0], error) and message in str(raised[0])
        # The only bytes written: uvicorn's answer to an app that failed before the handshake.
        wire = b"".join(transport.written)
        assert wire.startswith(b"HTTP/1.1 500 Internal Server Error\r\n") and wire.endswith(b"Internal Server Error")
        assert b"evil" not in wire and b"101" not in wire
        assert transport.closed

    asyncio.run(asyncio.wait_for(main(), 5))


def test_valid_accept_headers_and_subprotocol_pass(codec: Any) -> None:
    async def main() -> None:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send(
                {
                    "type": "websocket.accept",
                    "subprotocol": "v2.chat+json",
                    "headers": [(b"X-Tchar!#$%&'*+-.^_`|~", b"tab\tand latin-1 \xe9"), (bytearray(b"x-b"), b"")],
                }
            )
            await asyncio.Event().wait()

        protocol, transport = make(app, codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        head = transport.written[0]
        assert head.startswith(b"HTTP/1.1 101 ")
        assert b"\r\nX-Tchar!#$%&'*+-.^_`|~: tab\tand latin-1 \xe9\r\n" in head
        assert b"\r\nx-b: \r\n" in head and b"\r\nsec-websocket-protocol: v2.chat+json\r\n" in head

    asyncio.run(asyncio.wait_for(main(), 5))


BAD_DENIALS = [
    ({"status": 403, "headers": [(b"x-a", b"1\r\nSet-Cookie: evil=1")]}, ValueError, "CR, LF or NUL"),
    ({"status": 403, "headers": [(b"content-length", b"0"), (b"bad name", b"1")]}, ValueError, "RFC 9110 token"),
    ({"status": 403, "headers": [(b"x", 1)]}, TypeError, "must be bytes"),
    ({"status": "403"}, TypeError, "must be an int"),
    ({"status": 403.0}, TypeError, "must be an int"),
    ({"status": 700}, RuntimeError, "Invalid HTTP status code '700' in response."),
    ({"status": 99}, RuntimeError, "Invalid HTTP status code '99' in response."),
]


@pytest.mark.parametrize(("fields", "error", "message"), BAD_DENIALS)
def test_invalid_denial_start_raises_and_writes_nothing_then_500(
    codec: Any, fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    async def main() -> None:
        raised: list[BaseException] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            try:
                await send({"type": "websocket.http.response.start", **fields})
            except Exception as exc:
                raised.append(exc)
                raise

        protocol, transport = make(app, codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        assert len(raised) == 1 and isinstance(raised[0], error) and message in str(raised[0])
        wire = b"".join(transport.written)
        assert wire.startswith(b"HTTP/1.1 500 Internal Server Error\r\n") and b"evil" not in wire
        assert transport.closed

    asyncio.run(asyncio.wait_for(main(), 5))


def test_denial_that_fails_before_its_body_gets_500_without_content_length(codec: Any) -> None:
    # Without a content-length the head is held until the body is complete, so an app that fails
    # half-way still gets a well-formed answer.
    async def main() -> None:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.http.response.start", "status": 401, "headers": [(b"x-why", b"no")]})
            await send({"type": "websocket.http.response.body", "body": b"part", "more_body": True})
            raise RuntimeError("boom in the middle of the denial")

        protocol, transport = make(app, codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        wire = b"".join(transport.written)
        assert wire.startswith(b"HTTP/1.1 500 ") and b"x-why" not in wire and b"part" not in wire

    asyncio.run(asyncio.wait_for(main(), 5))


def test_denial_with_content_length_streams_its_body(codec: Any) -> None:
    async def main() -> None:
        events: list[Any] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.http.response.start", "status": 404, "headers": [(b"Content-Length", b"8")]})
            events.append(len(transport.written))
            await send({"type": "websocket.http.response.body", "body": b"not ", "more_body": True})
            await send({"type": "websocket.http.response.body", "body": b"here"})
            events.append(await receive())

        protocol, transport = make(app, codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        wire = b"".join(transport.written)
        assert events[0] == 1  # the head went out at websocket.http.response.start
        assert wire.startswith(b"HTTP/1.1 404 Not Found\r\nContent-Length: 8\r\n")
        assert wire.endswith(b"\r\n\r\nnot here") and wire.count(b"content-length") == 0
        assert events[1] == {"type": "websocket.disconnect", "code": 1006}
        assert transport.closed

    asyncio.run(asyncio.wait_for(main(), 5))


def test_close_before_accept_and_shutdown_events_carry_no_reason(codec: Any) -> None:
    # uvicorn's protocols send only the code in these disconnect events (uvicorn 0.54 tests).
    async def main() -> None:
        got: list[Any] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.close"})
            got.append(await receive())

        protocol, transport = make(app, codec)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        assert transport.written[0].startswith(b"HTTP/1.1 403 ")
        assert got == [{"type": "websocket.disconnect", "code": 1006}]

    asyncio.run(asyncio.wait_for(main(), 5))


def test_close_resumes_reads_paused_by_ws_max_queue(codec: Any) -> None:
    # uvicorn's test_close_resumes_reads_paused_on_an_unconsumed_message, with ws_max_queue=1 (the
    # uvicorn test assumes reads pause after one message, whatever ws_max_queue says).
    async def main() -> None:
        gate = asyncio.Event()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            await gate.wait()
            await send({"type": "websocket.close", "code": 1000})

        protocol, transport = make(app, codec, max_queue=1)
        protocol.data_received(HEAD)
        await asyncio.sleep(0.01)
        protocol.data_received(text_frame(codec, "x"))
        assert transport.paused
        gate.set()
        await asyncio.sleep(0.01)
        assert not transport.paused and not transport.closed
        protocol.data_received(codec.encode_frame(OP_CLOSE, codec.close_payload(1000), mask=MASK))
        assert transport.closed and protocol.close_timer is None

    asyncio.run(asyncio.wait_for(main(), 5))


def test_anyio_cancel_scopes_and_task_groups_leave_receive_usable(codec: Any) -> None:
    async def main() -> None:
        protocol, _, box = await accepted(codec)
        receive = box["receive"]
        with anyio.move_on_after(0.01) as scope:
            await receive()
        assert scope.cancelled_caught
        async with anyio.create_task_group() as group:  # a sibling's cancellation of the group
            group.start_soon(receive)
            await asyncio.sleep(0.01)
            group.cancel_scope.cancel()
        assert not protocol._receivers
        protocol.data_received(text_frame(codec, "next"))
        assert await asyncio.wait_for(receive(), 1) == {"type": "websocket.receive", "text": "next"}

    asyncio.run(asyncio.wait_for(main(), 5))
