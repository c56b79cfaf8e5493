"""The WebSocket class of both twins against ``starlette.websockets.WebSocket`` 1.10.0: state
machine, errors and their messages, connection info, denial responses, and the twins' surface."""

from __future__ import annotations

import collections.abc
import copy
import enum
import importlib
import inspect
import re
from collections.abc import Iterable
from typing import Any

import pytest
import starlette.websockets as sw
from conftest import FakeServer, make_scope, run
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import NoMatchFound, Router, WebSocketRoute

import fastws
import fastws.websockets
from fastws import (
    CloseCode,
    UnexpectedMessageType,
    WebSocketClose,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)

CONNECT = {"type": "websocket.connect"}

NOT_ACCEPTED = 'WebSocket is not connected. Need to call "accept" first.'
RECEIVE_AFTER_DISCONNECT = 'Cannot call "receive" once a disconnect message has been received.'
SEND_AFTER_CLOSE = 'Cannot call "send" once a close message has been sent.'
BAD_MODE = 'The "mode" argument should be "text" or "binary".'


def text(data: str) -> dict[str, Any]:
    return {"type": "websocket.receive", "text": data}


def binary(data: bytes) -> dict[str, Any]:
    return {"type": "websocket.receive", "bytes": data}


def disconnect(code: int = 1000, reason: str | None = None) -> dict[str, Any]:
    return {"type": "websocket.disconnect", "code": code, "reason": reason}


def connect(
    impl: Any, events: Iterable[dict[str, Any]] = (), fail_send: bool = False, **scope: Any
) -> tuple[Any, FakeServer]:
    server = FakeServer(events, fail_send=fail_send)
    return impl.WebSocket(make_scope(**scope), server.receive, server.send), server


def states(ws: Any) -> tuple[WebSocketState, WebSocketState]:
    return ws.client_state, ws.application_state


# -- a scripted runner, for comparing a twin with Starlette step by step --------------------------


def describe(exc: BaseException) -> tuple[Any, ...]:
    """An exception as comparable data. fastws' UnexpectedMessageType is compared as the KeyError
    Starlette raises (its documented improvement is the message, not the type)."""
    if isinstance(exc, KeyError):
        return ("raise", "KeyError", exc.args)
    name = type(exc).__name__
    if name == "WebSocketDisconnect":
        return ("raise", name, exc.code, exc.reason)  # type: ignore[attr-defined]
    if isinstance(exc, AssertionError):  # FakeServer ran out of events; pytest adds object addresses
        return ("raise", name, str(exc).partition("\n")[0])
    return ("raise", name, str(exc))


async def play(
    cls: Any, scope: dict[str, Any], events: list[Any], steps: list[tuple[Any, ...]]
) -> tuple[list[Any], list[Any]]:
    server = FakeServer(copy.deepcopy(events))
    ws = cls(copy.deepcopy(scope), server.receive, server.send)
    transcript: list[Any] = []
    for name, *args in steps:
        try:
            if name == "fail":
                server.fail_send = args[0]
                continue
            if name.startswith("iter_"):
                items = []
                async for item in getattr(ws, name)():
                    items.append(item)
                result: Any = ("ok", items)
            elif name == "denial":
                result = ("ok", await ws.send_denial_response(PlainTextResponse("denied", status_code=403)))
            else:
                result = ("ok", await getattr(ws, name)(*args))
        except Exception as exc:  # noqa: BLE001 - the exception is the result under test
            result = describe(exc)
        transcript.append((name, result, ws.client_state.name, ws.application_state.name))
    return transcript, server.sent


def assert_like_starlette(
    impl: Any, events: list[Any], steps: list[tuple[Any, ...]], **scope: Any
) -> tuple[list[Any], list[Any]]:
    scope.setdefault("subprotocols", ["chat"])  # the subprotocol the scenarios accept
    full_scope = make_scope(**scope)
    ours = run(play(impl.WebSocket, full_scope, events, steps))
    theirs = run(play(sw.WebSocket, full_scope, events, steps))
    assert ours[0] == theirs[0]
    assert ours[1] == theirs[1]
    return ours


SCENARIOS: dict[str, tuple[list[Any], list[tuple[Any, ...]]]] = {
    "echo": (
        [CONNECT, text("hi"), binary(b"\x00"), disconnect(1001, "bye")],
        [
            ("accept",),
            ("receive_text",),
            ("send_text", "hi"),
            ("receive_bytes",),
            ("send_bytes", b"\x00"),
            ("receive_text",),
            ("receive_text",),
            ("close",),
        ],
    ),
    "raw receive": ([CONNECT, text("a"), disconnect()], [("receive",), ("receive",), ("receive",), ("receive",)]),
    "wrong first event": ([text("a")], [("receive",)]),
    "wrong first event on accept": ([disconnect()], [("accept",)]),
    "junk after connect": ([CONNECT, {"type": "http.request"}], [("receive",), ("receive",)]),
    "accept twice": ([CONNECT], [("accept",), ("accept",)]),
    "accept with subprotocol and headers": ([CONNECT], [("accept", "chat", [(b"x-a", b"1")])]),
    "send before accept": (
        [],
        [
            ("send_text", "x"),
            ("send_bytes", b"x"),
            ("send_json", {}),
            ("send", {"type": "websocket.send", "text": "x"}),
        ],
    ),
    "junk send before accept": ([], [("send", {"type": "websocket.junk"})]),
    "junk send after accept": (
        [CONNECT],
        [("accept",), ("send", {"type": "websocket.accept"}), ("send", {"type": "http.response.start"})],
    ),
    "send after close": (
        [CONNECT],
        [("accept",), ("close", 1001, "going"), ("send_text", "x"), ("close",), ("accept",)],
    ),
    "close before accept": ([], [("close", 4000), ("send_text", "x")]),
    "receive before accept": (
        [CONNECT],
        [
            ("receive_text",),
            ("receive_bytes",),
            ("receive_json",),
            ("receive_json", "binary"),
            ("iter_text",),
            ("iter_bytes",),
            ("iter_json",),
        ],
    ),
    "receive after disconnect": (
        [CONNECT, disconnect(1006)],
        [("accept",), ("receive_text",), ("receive_text",), ("receive",), ("receive_bytes",), ("iter_text",)],
    ),
    "disconnect reasons": (
        [
            CONNECT,
            disconnect(4001, "why"),
        ],
        [("accept",), ("receive_json",)],
    ),
    "disconnect without reason key": (
        [CONNECT, {"type": "websocket.disconnect", "code": 1005}],
        [("accept",), ("receive_bytes",)],
    ),
    "receive after raw connect only": ([CONNECT, disconnect()], [("receive",), ("receive_text",)]),
    "app accepts without reading connect": (
        [CONNECT, text("x")],
        [("send", {"type": "websocket.accept"}), ("receive_text",), ("receive_text",)],
    ),
    "wrong message type": (
        [CONNECT, binary(b"b"), text("t"), {"type": "websocket.receive"}],
        [("accept",), ("receive_text",), ("receive_bytes",), ("receive_text",)],
    ),
    "json modes": (
        [CONNECT, text('{"a":[1,2.5,null]}'), binary(b'{"b":true}'), binary(b'["x"]'), text("[1]")],
        [
            ("accept",),
            ("receive_json",),
            ("receive_json", "binary"),
            ("receive_json", "text"),
            ("receive_json", "binary"),
        ],
    ),
    "invalid json": (
        [CONNECT, text("{nope"), binary(b"\xff"), binary(b"\xef\xbb\xbf{}")],
        [("accept",), ("receive_json",), ("receive_json", "binary"), ("receive_json", "binary")],
    ),
    "invalid mode": (
        [CONNECT],
        [
            ("receive_json", "bytes"),
            ("send_json", {}, "bytes"),
            ("accept",),
            ("receive_json", "TEXT"),
            ("send_json", {}, ""),
        ],
    ),
    "send_json modes": (
        [CONNECT],
        [
            ("accept",),
            ("send_json", {"k": [1, "é", None]}),
            ("send_json", ["é"], "binary"),
            ("send_json", float("nan")),
            ("send_json", {1: 2}),
        ],
    ),
    "send_json unserialisable": (
        [CONNECT],
        [("accept",), ("send_json", object()), ("send_json", {"k": "\ud800"}, "binary"), ("send_json", "\ud800")],
    ),
    "iterators": ([CONNECT, text("a"), text("b"), disconnect()], [("accept",), ("iter_text",), ("iter_text",)]),
    "iter_bytes": ([CONNECT, binary(b"a"), binary(b""), disconnect(1001)], [("accept",), ("iter_bytes",)]),
    "iter_json": ([CONNECT, text("1"), text('{"a":2}'), disconnect()], [("accept",), ("iter_json",)]),
    "iter_text on bytes": ([CONNECT, text("a"), binary(b"b")], [("accept",), ("iter_text",)]),
    "iter_json on junk": ([CONNECT, text("1"), {"type": "websocket.junk"}], [("accept",), ("iter_json",)]),
    "http response flow": (
        [],
        [
            ("send", {"type": "websocket.http.response.start", "status": 403, "headers": []}),
            ("send", {"type": "websocket.http.response.body", "body": b"a", "more_body": True}),
            ("send", {"type": "websocket.http.response.body", "body": b"b"}),
            ("send", {"type": "websocket.http.response.body", "body": b"c"}),
        ],
    ),
    "http response wrong follow-up": (
        [CONNECT],
        [
            ("send", {"type": "websocket.http.response.start", "status": 500, "headers": []}),
            ("send_text", "x"),
            ("close",),
            ("accept",),
            ("send", {"type": "websocket.http.response.body", "body": b"", "more_body": False}),
            ("send_text", "x"),
        ],
    ),
    "http response after accept": (
        [CONNECT],
        [("accept",), ("send", {"type": "websocket.http.response.start", "status": 403, "headers": []})],
    ),
    "oserror on send": (
        [CONNECT],
        [("accept",), ("fail", True), ("send_text", "x"), ("fail", False), ("send_text", "y"), ("close",)],
    ),
    "oserror on each send kind": ([CONNECT], [("accept",), ("fail", True), ("send_bytes", b"x")]),
    "oserror on send_json": ([CONNECT], [("accept",), ("fail", True), ("send_json", [1])]),
    "oserror on raw send": (
        [CONNECT],
        [("accept",), ("fail", True), ("send", {"type": "websocket.send", "text": "x"})],
    ),
    "oserror on close": ([CONNECT], [("accept",), ("fail", True), ("close", 1000)]),
    "oserror on accept": ([CONNECT], [("fail", True), ("accept",), ("fail", False), ("accept",)]),
    "oserror on close before accept": ([], [("fail", True), ("close",)]),
    "oserror on denial": ([], [("fail", True), ("denial",)]),
    "denial response": ([], [("denial",), ("send_text", "x"), ("denial",)]),
    "denial after accept": ([CONNECT], [("accept",), ("denial",)]),
    "missing disconnect code": ([CONNECT, {"type": "websocket.disconnect"}], [("accept",), ("receive_text",)]),
    "missing disconnect code in iter_text": (
        [CONNECT, text("a"), {"type": "websocket.disconnect"}],
        [("accept",), ("iter_text",), ("receive",)],
    ),
    "missing disconnect code in iter_json": (
        [CONNECT, {"type": "websocket.disconnect", "reason": "r"}],
        [("accept",), ("iter_json",), ("iter_json",)],
    ),
    "receive with no events left": ([], [("accept",)]),
}


@pytest.mark.parametrize(("events", "steps"), list(SCENARIOS.values()), ids=list(SCENARIOS))
def test_scenario_matches_starlette(impl: Any, events: list[Any], steps: list[tuple[Any, ...]]) -> None:
    assert_like_starlette(impl, events, steps)


# -- state transitions and errors, one by one ----------------------------------------------------------


def test_initial_state(impl: Any) -> None:
    ws, _ = connect(impl)
    assert states(ws) == (WebSocketState.CONNECTING, WebSocketState.CONNECTING)
    assert ws.client_state is WebSocketState.CONNECTING


def test_receive_connect_then_events(impl: Any) -> None:
    ws, server = connect(impl, [CONNECT, text("a"), disconnect(1001, "gone")])

    async def main() -> None:
        assert await ws.receive() == CONNECT
        assert states(ws) == (WebSocketState.CONNECTED, WebSocketState.CONNECTING)
        assert await ws.receive() == text("a")
        assert await ws.receive() == disconnect(1001, "gone")  # raw receive does not raise
        assert ws.client_state is WebSocketState.DISCONNECTED
        with pytest.raises(WebSocketDisconnected) as info:
            await ws.receive()
        assert str(info.value) == RECEIVE_AFTER_DISCONNECT
        assert isinstance(info.value, RuntimeError)

    run(main())
    assert server.sent == []


@pytest.mark.parametrize("first", [text("x"), disconnect(), {"type": "websocket.accept"}, {"type": "lifespan.startup"}])
def test_receive_wrong_first_event(impl: Any, first: dict[str, Any]) -> None:
    ws, _ = connect(impl, [first])
    with pytest.raises(RuntimeError) as info:
        run(ws.receive())
    assert type(info.value) is RuntimeError
    assert str(info.value) == f'Expected ASGI message "websocket.connect", but got {first["type"]!r}'
    assert ws.client_state is WebSocketState.CONNECTING


def test_receive_unexpected_event_after_connect(impl: Any) -> None:
    ws, _ = connect(impl, [CONNECT, {"type": "websocket.connect"}])
    run(ws.receive())
    with pytest.raises(RuntimeError) as info:
        run(ws.receive())
    assert (
        str(info.value)
        == 'Expected ASGI message "websocket.receive" or "websocket.disconnect", but got \'websocket.connect\''
    )


def test_accept_waits_for_connect_and_sends_accept(impl: Any) -> None:
    ws, server = connect(impl, [CONNECT], subprotocols=["chat"])
    run(ws.accept(subprotocol="chat", headers=[(b"x-a", b"1")]))
    assert server.sent == [{"type": "websocket.accept", "subprotocol": "chat", "headers": [(b"x-a", b"1")]}]
    assert states(ws) == (WebSocketState.CONNECTED, WebSocketState.CONNECTED)
    assert server.events == []


def test_accept_after_manual_connect_does_not_receive_again(impl: Any) -> None:
    ws, server = connect(impl, [CONNECT, text("left alone")])

    async def main() -> None:
        await ws.receive()
        await ws.accept()

    run(main())
    assert server.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]
    assert server.events == [text("left alone")]


def test_accept_twice(impl: Any) -> None:
    ws, server = connect(impl, [CONNECT])

    async def main() -> None:
        await ws.accept()
        with pytest.raises(RuntimeError) as info:
            await ws.accept()
        assert (
            str(info.value)
            == 'Expected ASGI message "websocket.send" or "websocket.close", but got \'websocket.accept\''
        )

    run(main())
    assert len(server.sent) == 1


@pytest.mark.parametrize("method", ["send_text", "send_bytes", "send_json"])
def test_send_before_accept(impl: Any, method: str) -> None:
    ws, server = connect(impl)
    payload = {"send_text": "x", "send_bytes": b"x", "send_json": {"a": 1}}[method]
    with pytest.raises(RuntimeError) as info:
        run(getattr(ws, method)(payload))
    assert str(info.value) == (
        'Expected ASGI message "websocket.accept", "websocket.close" or "websocket.http.response.start", '
        "but got 'websocket.send'"
    )
    assert server.sent == []
    assert ws.application_state is WebSocketState.CONNECTING


def test_send_after_close(impl: Any) -> None:
    ws, server = connect(impl, [CONNECT])

    async def main() -> None:
        await ws.accept()
        await ws.close(1001, None)
        assert ws.application_state is WebSocketState.DISCONNECTED
        for call in (
            ws.send_text("x"),
            ws.send_bytes(b"x"),
            ws.send_json(1),
            ws.close(),
            ws.send({"type": "websocket.send", "text": "x"}),
        ):
            with pytest.raises(WebSocketDisconnected) as info:
                await call
            assert str(info.value) == SEND_AFTER_CLOSE

    run(main())
    assert server.sent[-1] == {"type": "websocket.close", "code": 1001, "reason": ""}
    assert len(server.sent) == 2


def test_close_before_accept_rejects(impl: Any) -> None:
    ws, server = connect(impl)
    run(ws.close(code=CloseCode.POLICY_VIOLATION, reason="no"))
    assert server.sent == [{"type": "websocket.close", "code": 1008, "reason": "no"}]
    assert states(ws) == (WebSocketState.CONNECTING, WebSocketState.DISCONNECTED)


def test_http_response_flow_with_more_body(impl: Any) -> None:
    ws, server = connect(impl)
    start = {"type": "websocket.http.response.start", "status": 403, "headers": [(b"content-type", b"text/plain")]}

    async def main() -> None:
        await ws.send(start)
        assert ws.application_state is WebSocketState.RESPONSE
        with pytest.raises(RuntimeError) as info:
            await ws.send_text("x")
        assert str(info.value) == "Expected ASGI message \"websocket.http.response.body\", but got 'websocket.send'"
        await ws.send({"type": "websocket.http.response.body", "body": b"a", "more_body": True})
        assert ws.application_state is WebSocketState.RESPONSE
        await ws.send({"type": "websocket.http.response.body", "body": b"b", "more_body": False})
        assert ws.application_state is WebSocketState.DISCONNECTED
        with pytest.raises(WebSocketDisconnected) as info2:
            await ws.send({"type": "websocket.http.response.body", "body": b"c"})
        assert str(info2.value) == SEND_AFTER_CLOSE

    run(main())
    assert [m["type"] for m in server.sent] == ["websocket.http.response.start"] + ["websocket.http.response.body"] * 2


def test_http_response_body_without_more_body_key_finishes(impl: Any) -> None:
    ws, _ = connect(impl)

    async def main() -> None:
        await ws.send({"type": "websocket.http.response.start", "status": 400, "headers": []})
        await ws.send({"type": "websocket.http.response.body", "body": b""})

    run(main())
    assert ws.application_state is WebSocketState.DISCONNECTED


@pytest.mark.parametrize("mode", ["bytes", "TEXT", "", None])
def test_invalid_json_mode(impl: Any, mode: Any) -> None:
    ws, server = connect(impl, [CONNECT])

    async def main() -> None:
        for _ in range(2):  # before and after accept: the mode is checked first
            with pytest.raises(RuntimeError) as info:
                await ws.send_json({"a": 1}, mode=mode)
            assert type(info.value) is RuntimeError and str(info.value) == BAD_MODE
            with pytest.raises(RuntimeError) as info:
                await ws.receive_json(mode=mode)
            assert type(info.value) is RuntimeError and str(info.value) == BAD_MODE
            if ws.application_state is WebSocketState.CONNECTING:
                await ws.accept()

    run(main())
    assert server.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]


@pytest.mark.parametrize(
    "call",
    ["receive_text", "receive_bytes", "receive_json", "receive_json_binary", "iter_text", "iter_bytes", "iter_json"],
)
def test_receive_before_accept(impl: Any, call: str) -> None:
    ws, server = connect(impl, [CONNECT, text("x")])

    async def main() -> None:
        if call.startswith("iter_"):
            async for _ in getattr(ws, call)():
                pass
        elif call == "receive_json_binary":
            await ws.receive_json(mode="binary")
        else:
            await getattr(ws, call)()

    with pytest.raises(WebSocketDisconnected) as info:
        run(main())
    assert str(info.value) == NOT_ACCEPTED
    assert len(server.events) == 2  # nothing was read


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("send_text", ("x",)),
        ("send_bytes", (b"x",)),
        ("send_json", ({"a": 1},)),
        ("send_json", ([1], "binary")),
        ("close", ()),
        ("close", (1001, "bye")),
        ("send", ({"type": "websocket.send", "text": "x"},)),
        ("send", ({"type": "websocket.close", "code": 1000},)),
    ],
)
def test_oserror_from_server_send_is_abnormal_closure(impl: Any, method: str, args: tuple[Any, ...]) -> None:
    ws, server = connect(impl, [CONNECT])
    run(ws.accept())
    server.fail_send = True
    with pytest.raises(WebSocketDisconnect) as info:
        run(getattr(ws, method)(*args))
    assert type(info.value) is WebSocketDisconnect
    assert (info.value.code, info.value.reason) == (1006, "")
    assert isinstance(info.value.__context__, OSError)
    assert ws.application_state is WebSocketState.DISCONNECTED
    server.fail_send = False
    with pytest.raises(WebSocketDisconnected):
        run(ws.send_text("after"))


def test_oserror_before_accept_propagates_like_starlette(impl: Any) -> None:
    # Starlette only translates OSError once the connection is open.
    ws, _ = connect(impl, [CONNECT], fail_send=True)
    with pytest.raises(OSError):
        run(ws.accept())
    ws, _ = connect(impl, fail_send=True)
    with pytest.raises(OSError):
        run(ws.close())


@pytest.mark.parametrize(
    ("event", "code", "reason"),
    [
        (disconnect(1001, "bye"), 1001, "bye"),
        (disconnect(1000, None), 1000, ""),
        ({"type": "websocket.disconnect", "code": 4999}, 4999, ""),
        (disconnect(1006, ""), 1006, ""),
    ],
)
@pytest.mark.parametrize("call", ["receive_text", "receive_bytes", "receive_json", "receive_json_binary"])
def test_disconnect_event_raises_websocket_disconnect(
    impl: Any, event: dict[str, Any], code: int, reason: str, call: str
) -> None:
    ws, _ = connect(impl, [CONNECT, event])

    async def main() -> None:
        await ws.accept()
        with pytest.raises(WebSocketDisconnect) as info:
            if call == "receive_json_binary":
                await ws.receive_json(mode="binary")
            else:
                await getattr(ws, call)()
        assert (info.value.code, info.value.reason) == (code, reason)
        assert ws.client_state is WebSocketState.DISCONNECTED
        with pytest.raises(WebSocketDisconnected) as again:
            await ws.receive_text()
        assert str(again.value) == RECEIVE_AFTER_DISCONNECT

    run(main())


def test_iterators_end_on_disconnect(impl: Any) -> None:
    async def collect(method: str, events: list[Any]) -> tuple[list[Any], Any]:
        ws, _ = connect(impl, [CONNECT, *events])
        await ws.accept()
        items = [item async for item in getattr(ws, method)()]
        return items, ws

    items, ws = run(collect("iter_text", [text("a"), text(""), text("é"), disconnect(1001)]))
    assert items == ["a", "", "é"] and ws.client_state is WebSocketState.DISCONNECTED
    items, _ = run(collect("iter_bytes", [binary(b"a"), binary(b""), disconnect()]))
    assert items == [b"a", b""]
    items, _ = run(
        collect("iter_json", [text('{"a":1}'), text("[NaN]"), text("12345678901234567890123"), disconnect()])
    )
    assert items[0] == {"a": 1} and items[1][0] != items[1][0] and items[2] == 12345678901234567890123
    items, _ = run(collect("iter_text", [disconnect()]))
    assert items == []

    async def second_iteration() -> None:
        ws, _ = connect(impl, [CONNECT, disconnect()])
        await ws.accept()
        assert [x async for x in ws.iter_text()] == []
        with pytest.raises(WebSocketDisconnected) as info:
            async for _ in ws.iter_text():
                pass
        assert str(info.value) == RECEIVE_AFTER_DISCONNECT

    run(second_iteration())


ITERATOR_CASES = {
    "error then exhausted": ([CONNECT, text("a"), binary(b"b"), text("c")], "iter_text", True, 4),
    "disconnect then exhausted": ([CONNECT, text("a"), disconnect(1001), text("never read")], "iter_text", True, 4),
    "json error": ([CONNECT, text("[1]"), text("{bad"), text("2")], "iter_json", True, 4),
    "bytes": ([CONNECT, binary(b"a"), text("t"), binary(b"c")], "iter_bytes", True, 4),
    "not accepted": ([CONNECT, text("a")], "iter_text", False, 3),
    "aclose": ([CONNECT, text("a"), text("b"), text("c")], "iter_text", True, -3),
}


@pytest.mark.parametrize(
    ("events", "method", "accept", "steps"), list(ITERATOR_CASES.values()), ids=list(ITERATOR_CASES)
)
def test_iterator_protocol_matches_starlette(
    impl: Any, events: list[Any], method: str, accept: bool, steps: int
) -> None:
    # Driving the async iterator by hand: once it raised or ended, it stays exhausted.
    async def drive(cls: Any) -> tuple[list[Any], int]:
        server = FakeServer(copy.deepcopy(events))
        ws = cls(make_scope(), server.receive, server.send)
        if accept:
            await ws.accept()
        iterator = getattr(ws, method)()
        assert iterator.__aiter__() is iterator
        out: list[Any] = []
        for index in range(abs(steps)):
            if steps < 0 and index == 1:
                await iterator.aclose()
            try:
                out.append(("ok", await iterator.__anext__()))
            except StopAsyncIteration:
                out.append("stop")
            except Exception as exc:  # noqa: BLE001
                out.append(describe(exc))
        return out, len(server.events)

    ours, theirs = run(drive(impl.WebSocket)), run(drive(sw.WebSocket))
    assert ours == theirs
    assert "stop" in ours[0]


@pytest.mark.parametrize(
    ("call", "event", "expected", "got"),
    [
        ("receive_text", binary(b"x"), "text", "a binary (bytes) message"),
        ("receive_bytes", text("x"), "bytes", "a text message"),
        ("receive_json", binary(b"{}"), "text", "a binary (bytes) message"),
        ("receive_json_binary", text("{}"), "bytes", "a text message"),
        ("iter_text", binary(b"x"), "text", "a binary (bytes) message"),
        ("iter_bytes", text("x"), "bytes", "a text message"),
        ("iter_json", binary(b"[]"), "text", "a binary (bytes) message"),
        (
            "receive_text",
            {"type": "websocket.receive"},
            "text",
            "a websocket.receive event with neither 'text' nor 'bytes'",
        ),
        (
            "receive_bytes",
            {"type": "websocket.receive", "bytes": None},
            "bytes",
            "a websocket.receive event with neither 'text' nor 'bytes'",
        ),
    ],
)
def test_unexpected_message_type(impl: Any, call: str, event: dict[str, Any], expected: str, got: str) -> None:
    ws, _ = connect(impl, [CONNECT, event])

    async def main() -> None:
        await ws.accept()
        if call.startswith("iter_"):
            async for _ in getattr(ws, call)():
                pass
        elif call == "receive_json_binary":
            await ws.receive_json(mode="binary")
        else:
            await getattr(ws, call)()

    with pytest.raises(UnexpectedMessageType) as info:
        run(main())
    exc = info.value
    assert isinstance(exc, KeyError)
    assert exc.args == (expected,)  # what Starlette's KeyError carries
    assert exc.expected == expected
    assert exc.message is event
    want = "a text message" if expected == "text" else "a binary (bytes) message"
    assert str(exc) == f"Expected {want} (ASGI key {expected!r}) but received {got}."
    assert ws.client_state is WebSocketState.CONNECTED  # the connection is still usable


def test_unexpected_message_type_is_caught_as_key_error(impl: Any) -> None:
    ws, _ = connect(impl, [CONNECT, binary(b"x"), text("next")])

    async def main() -> str:
        await ws.accept()
        try:
            await ws.receive_text()
        except KeyError as exc:
            assert exc.args[0] == "text"
        return await ws.receive_text()

    assert run(main()) == "next"


def test_unexpected_message_type_for_a_raw_connect_event(impl: Any) -> None:
    # The app sent accept itself without reading websocket.connect: Starlette raises KeyError('text').
    ws, _ = connect(impl, [CONNECT])

    async def main() -> None:
        await ws.send({"type": "websocket.accept"})
        await ws.receive_text()

    with pytest.raises(UnexpectedMessageType) as info:
        run(main())
    assert info.value.args == ("text",)
    assert (
        str(info.value)
        == "Expected a text message (ASGI key 'text') but received an ASGI event of type 'websocket.connect'."
    )


def test_receive_values(impl: Any) -> None:
    ws, _ = connect(
        impl, [CONNECT, text("é"), binary(b"\xff"), text('{"k":[1,2.5,"x",null,true]}'), binary('{"é":"✓"}'.encode())]
    )

    async def main() -> list[Any]:
        await ws.accept()
        return [
            await ws.receive_text(),
            await ws.receive_bytes(),
            await ws.receive_json(),
            await ws.receive_json("binary"),
        ]

    assert run(main()) == ["é", b"\xff", {"k": [1, 2.5, "x", None, True]}, {"é": "✓"}]


def test_send_values(impl: Any) -> None:
    ws, server = connect(impl, [CONNECT])

    async def main() -> None:
        await ws.accept()
        await ws.send_text("é")
        await ws.send_bytes(b"\x00")
        await ws.send_json({"a": [1, float("inf")], "b": "✓"})
        await ws.send_json({"a": 2**70}, mode="binary")
        await ws.close(reason=None)

    run(main())
    assert server.sent[1:] == [
        {"type": "websocket.send", "text": "é"},
        {"type": "websocket.send", "bytes": b"\x00"},
        {"type": "websocket.send", "text": '{"a":[1,Infinity],"b":"✓"}'},
        {"type": "websocket.send", "bytes": b'{"a":1180591620717411303424}'},
        {"type": "websocket.close", "code": 1000, "reason": ""},
    ]


def test_send_json_errors_before_state_check(impl: Any) -> None:
    # As in Starlette, the value is encoded before the state is checked.
    ws, server = connect(impl)
    with pytest.raises(TypeError) as info:
        run(ws.send_json(object()))
    assert "is not JSON serializable" in str(info.value)
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular reference detected"):
        run(ws.send_json(circular))
    assert server.sent == [] and ws.application_state is WebSocketState.CONNECTING


def test_scope_type_must_be_websocket(impl: Any) -> None:
    with pytest.raises(AssertionError):
        impl.WebSocket({"type": "http"}, None, None)
    with pytest.raises(AssertionError):
        sw.WebSocket({"type": "http"}, None, None)  # type: ignore[arg-type]


# -- the mapping interface, identity and typing -------------------------------------------------------


def test_mapping_interface_over_the_scope(impl: Any) -> None:
    scope = make_scope(path_params={"room": "1"})
    ws = impl.WebSocket(scope, None, None)
    theirs = sw.WebSocket(scope, None, None)  # type: ignore[arg-type]
    assert isinstance(ws, collections.abc.Mapping)
    assert ws["path"] == "/ws" and ws["type"] == "websocket"
    assert len(ws) == len(scope) == len(theirs)
    assert list(ws) == list(scope) == list(theirs)
    assert list(ws.keys()) == list(theirs.keys())
    assert list(ws.values()) == list(theirs.values())
    assert list(ws.items()) == list(theirs.items())
    assert dict(ws) == scope
    assert "path" in ws and "nope" not in ws
    assert ws.get("path") == "/ws" and ws.get("nope") is None and ws.get("nope", 5) == 5
    with pytest.raises(KeyError):
        ws["nope"]
    scope["late"] = 1
    assert ws["late"] == 1  # a view, not a copy


def test_identity_equality_and_hash(impl: Any) -> None:
    scope = make_scope()
    a = impl.WebSocket(scope, None, None)
    b = impl.WebSocket(scope, None, None)
    assert a == a and a != b and not (a == b)
    assert a != scope  # not Mapping equality
    assert hash(a) == hash(a) and len({a, b, a}) == 2
    assert {a: 1}[a] == 1


def test_subscriptable_and_generic(impl: Any) -> None:
    class MyState(dict):  # type: ignore[type-arg]
        pass

    alias = impl.WebSocket[MyState]
    assert alias.__origin__ is impl.WebSocket
    assert alias.__args__ == (MyState,)
    assert isinstance(impl.WebSocket(make_scope(), None, None), collections.abc.Mapping)
    assert issubclass(impl.WebSocket, collections.abc.Mapping)


# -- connection info -------------------------------------------------------------------------------------


def info_view(ws: Any) -> dict[str, Any]:
    return {
        "url": str(ws.url),
        "url.path": ws.url.path,
        "url.port": ws.url.port,
        "url.is_secure": ws.url.is_secure,
        "base_url": str(ws.base_url),
        "headers": ws.headers.items(),
        "headers.raw": ws.headers.raw,
        "query_params": ws.query_params.multi_items(),
        "cookies": ws.cookies,
        "client": tuple(ws.client) if ws.client is not None else None,
        "client.host": ws.client.host if ws.client is not None else None,
        "path_params": ws.path_params,
    }


INFO_SCOPES: dict[str, dict[str, Any]] = {
    "default": {},
    "query and cookies": {
        "query_string": b"a=1&a=2&b=%C3%A9&c",
        "headers": [(b"host", b"example.com"), (b"cookie", b'a=1; b="q\\"x"'), (b"cookie", b"c=3; a=override")],
    },
    "root path": {"root_path": "/api", "path": "/api/ws"},
    "app root path": {"root_path": "/sub", "app_root_path": "/api/", "path": "/api/sub/ws"},
    "wss default port": {"scheme": "wss", "headers": [], "server": ("example.org", 443)},
    "ipv6 server": {"headers": [], "server": ("::1", 9000)},
    "invalid host": {"headers": [(b"host", b"evil.com/x")]},
    "no client": {"client": None},
    "tuple headers": {"headers": ((b"host", b"t.example"), (b"x-a", b"1"))},
    "path params": {"path_params": {"room": "lobby", "n": 3}},
    "no server no host": {"headers": [], "server": None, "path": "//x"},
}


@pytest.mark.parametrize("overrides", list(INFO_SCOPES.values()), ids=list(INFO_SCOPES))
def test_connection_info_matches_starlette(impl: Any, overrides: dict[str, Any]) -> None:
    ours = impl.WebSocket(make_scope(**copy.deepcopy(overrides)), None, None)
    theirs = sw.WebSocket(make_scope(**copy.deepcopy(overrides)), None, None)  # type: ignore[arg-type]
    assert info_view(ours) == info_view(theirs)
    assert type(ours.headers) is impl.Headers
    assert type(ours.query_params) is impl.QueryParams
    assert type(ours.url) is fastws.URL and type(ours.base_url) is fastws.URL
    assert ours.url is ours.url  # computed once
    assert type(ours.scope["headers"]) is list


handshake_query = st.lists(
    st.sampled_from([b"a", b"=", b"&", b"%", b"%41", b"%zz", b"+", b"\xe9", b"%C3%A9", b"b", b"%"]), max_size=12
).map(b"".join)
handshake_cookie = st.lists(
    st.sampled_from(["a", "=", ";", " ", '"', "\\", "\\012", "\xa0", "\x85", "b", "\xe9"]), max_size=12
).map("".join)
handshake_header_names = st.sampled_from([b"cookie", b"Cookie", b"x-a", b"host", b"\xe9"])


@settings(max_examples=60, deadline=None)
@given(
    query=handshake_query,
    cookies=st.lists(handshake_cookie, max_size=3),
    extra=st.lists(st.tuples(handshake_header_names, st.binary(max_size=6)), max_size=4),
)
def test_handshake_info_property_vs_starlette(impl: Any, query: bytes, cookies: list[str], extra: list[Any]) -> None:
    headers = [(b"host", b"example.com:8000")] + [(b"cookie", c.encode("latin-1")) for c in cookies] + extra
    overrides = {"query_string": query, "headers": headers}
    ours = impl.WebSocket(make_scope(**copy.deepcopy(overrides)), None, None)
    theirs = sw.WebSocket(make_scope(**copy.deepcopy(overrides)), None, None)  # type: ignore[arg-type]
    for view in (info_view, lambda ws: ws.url.path):  # url raises on a non-UTF-8 query: both must
        assert outcome_of(lambda v=view: v(ours)) == outcome_of(lambda v=view: v(theirs))
    assert ours.query_params.multi_items() == theirs.query_params.multi_items()
    assert ours.cookies == theirs.cookies
    for name in ("cookie", "COOKIE", "x-a", "host", "\xe9", "missing"):
        assert ours.headers.getlist(name) == theirs.headers.getlist(name)
        assert ours.headers.get(name) == theirs.headers.get(name)


def test_client_is_address(impl: Any) -> None:
    ws = impl.WebSocket(make_scope(client=("10.0.0.2", 1234)), None, None)
    assert ws.client == fastws.Address("10.0.0.2", 1234)
    assert type(ws.client) is fastws.Address
    assert (ws.client.host, ws.client.port) == ("10.0.0.2", 1234)
    scope = make_scope()
    del scope["client"]
    assert impl.WebSocket(scope, None, None).client is None


def test_state(impl: Any) -> None:
    scope = make_scope(state={"db": "conn"})
    ws = impl.WebSocket(scope, None, None)
    assert ws.state.db == "conn"
    ws.state.user = "alice"
    assert scope["state"] == {"db": "conn", "user": "alice"}
    assert ws.state is ws.state
    assert isinstance(ws.state, fastws.State)
    with pytest.raises(AttributeError) as info:
        _ = ws.state.missing
    assert str(info.value) == "'State' object has no attribute 'missing'"
    bare = make_scope()
    del bare["state"]
    ws = impl.WebSocket(bare, None, None)
    ws.state.k = 1
    assert bare["state"] == {"k": 1}


def test_app_session_auth_user(impl: Any) -> None:
    class Session(dict):  # type: ignore[type-arg]
        accessed = False

        def mark_accessed(self) -> None:
            self.accessed = True

    session = Session(a=1)
    app = object()
    scope = make_scope(app=app, session=session, auth="credentials", user="alice")
    ws = impl.WebSocket(scope, None, None)
    assert ws.app is app
    assert ws.session is session and session.accessed
    assert ws.auth == "credentials" and ws.user == "alice"
    plain = impl.WebSocket(make_scope(session={"b": 2}), None, None)
    assert plain.session == {"b": 2}

    bare_ours = impl.WebSocket(make_scope(), None, None)
    bare_theirs = sw.WebSocket(make_scope(), None, None)  # type: ignore[arg-type]
    for name in ("session", "auth", "user", "app"):
        got = outcome_of(lambda name=name: getattr(bare_ours, name))
        want = outcome_of(lambda name=name: getattr(bare_theirs, name))
        assert got == want, name
    assert outcome_of(lambda: bare_ours.session) == (
        "raise",
        "AssertionError",
        "SessionMiddleware must be installed to access request.session",
    )
    assert outcome_of(lambda: bare_ours.auth) == (
        "raise",
        "AssertionError",
        "AuthenticationMiddleware must be installed to access request.auth",
    )
    assert outcome_of(lambda: bare_ours.user) == (
        "raise",
        "AssertionError",
        "AuthenticationMiddleware must be installed to access request.user",
    )


def outcome_of(func: Any) -> tuple[Any, ...]:
    try:
        return ("ok", func())
    except Exception as exc:  # noqa: BLE001
        return ("raise", type(exc).__name__, str(exc))


async def _endpoint(websocket: Any) -> None:  # pragma: no cover - never called
    pass


def test_url_for(impl: Any) -> None:
    router = Router([WebSocketRoute("/chat/{room}", _endpoint, name="chat")])
    for overrides in (
        {"router": router},
        {"router": router, "scheme": "wss", "headers": [(b"host", b"example.com")]},
        {"router": router, "root_path": "/api", "path": "/api/ws"},
    ):
        ours = impl.WebSocket(make_scope(**overrides), None, None)
        theirs = sw.WebSocket(make_scope(**overrides), None, None)  # type: ignore[arg-type]
        assert str(ours.url_for("chat", room="r 1")) == str(theirs.url_for("chat", room="r 1"))
    ours = impl.WebSocket(make_scope(router=router), None, None)
    assert str(ours.url_for("chat", room="x")) == "ws://127.0.0.1:8000/chat/x"
    with pytest.raises(NoMatchFound):
        ours.url_for("nope")
    with pytest.raises(NoMatchFound):
        ours.url_for("chat")
    with pytest.raises(RuntimeError) as info:
        impl.WebSocket(make_scope(), None, None).url_for("chat", room="x")
    assert str(info.value) == "The `url_for` method can only be used inside a Starlette application or with a router."


# -- the state setters ---------------------------------------------------------------------------------------


def test_setting_states_to_websocket_state(impl: Any) -> None:
    ws, server = connect(impl, [text("no connect needed")])
    ws.client_state = WebSocketState.CONNECTED
    ws.application_state = WebSocketState.CONNECTED
    assert states(ws) == (WebSocketState.CONNECTED, WebSocketState.CONNECTED)

    async def main() -> None:
        assert await ws.receive_text() == "no connect needed"
        await ws.send_text("x")
        ws.application_state = WebSocketState.DISCONNECTED
        with pytest.raises(WebSocketDisconnected):
            await ws.send_text("y")
        ws.client_state = WebSocketState.DISCONNECTED
        with pytest.raises(WebSocketDisconnected):
            await ws.receive()
        ws.application_state = WebSocketState.RESPONSE
        await ws.send({"type": "websocket.http.response.body", "body": b""})
        assert ws.application_state is WebSocketState.DISCONNECTED

    run(main())
    assert server.sent == [
        {"type": "websocket.send", "text": "x"},
        {"type": "websocket.http.response.body", "body": b""},
    ]


class OtherEnum(enum.Enum):
    CONNECTED = "c"
    ELSEWHERE = "e"


@pytest.mark.parametrize("attribute", ["client_state", "application_state"])
@pytest.mark.parametrize(
    ("value", "stored"),
    [(member, member) for member in WebSocketState]
    + [(member, WebSocketState[member.name]) for member in sw.WebSocketState]
    + [(OtherEnum.CONNECTED, WebSocketState.CONNECTED)],
    ids=repr,
)
def test_assigning_a_state(impl: Any, attribute: str, value: Any, stored: WebSocketState) -> None:
    # A WebSocketState, or a same-named member of another enum (Starlette's, so Starlette code keeps
    # working), is stored as fastws' member.
    ws, _ = connect(impl)
    setattr(ws, attribute, value)
    assert getattr(ws, attribute) is stored


@pytest.mark.parametrize("attribute", ["client_state", "application_state"])
@pytest.mark.parametrize("value", [1, 0, "CONNECTED", None, OtherEnum.ELSEWHERE, CloseCode.NORMAL_CLOSURE], ids=repr)
def test_assigning_a_non_state_is_a_type_error(impl: Any, attribute: str, value: Any) -> None:
    ws, _ = connect(impl)
    setattr(ws, "client_state" if attribute == "application_state" else "application_state", WebSocketState.CONNECTED)
    with pytest.raises(TypeError) as info:
        setattr(ws, attribute, value)
    assert str(info.value) == f"Expected a WebSocketState, got {value!r}"
    assert getattr(ws, attribute) is WebSocketState.CONNECTING


def test_assigned_starlette_states_drive_the_state_machine(impl: Any) -> None:
    # The pattern of Starlette apps that mark a socket closed by hand.
    ws, server = connect(impl, [CONNECT])
    run(ws.accept())
    ws.application_state = sw.WebSocketState.DISCONNECTED
    with pytest.raises(WebSocketDisconnected) as info:
        run(ws.send_text("x"))
    assert str(info.value) == SEND_AFTER_CLOSE
    ws.client_state = sw.WebSocketState.DISCONNECTED
    with pytest.raises(WebSocketDisconnected):
        run(ws.receive())
    assert len(server.sent) == 1


# -- denial responses -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["send_denial_response", "send_response"])
def test_denial_response_with_extension(impl: Any, method: str) -> None:
    response = PlainTextResponse("go away", status_code=403, headers={"x-reason": "test"})
    ws, server = connect(impl)
    run(getattr(ws, method)(response))
    theirs_server = FakeServer()
    theirs = sw.WebSocket(make_scope(), theirs_server.receive, theirs_server.send)
    run(theirs.send_denial_response(response))
    assert server.sent == theirs_server.sent
    assert server.sent == [
        {
            "type": "websocket.http.response.start",
            "status": 403,
            "headers": [
                (b"x-reason", b"test"),
                (b"content-length", b"7"),
                (b"content-type", b"text/plain; charset=utf-8"),
            ],
        },
        {"type": "websocket.http.response.body", "body": b"go away"},
    ]
    assert states(ws) == (WebSocketState.CONNECTING, WebSocketState.DISCONNECTED)
    with pytest.raises(WebSocketDisconnected):
        run(ws.send_text("x"))


def test_denial_streaming_response_uses_more_body(impl: Any) -> None:
    async def chunks() -> Any:
        yield b"a"
        yield "b"

    async def deny(cls: Any) -> list[Any]:
        server = FakeServer()
        ws = cls(make_scope(), server.receive, server.send)
        await ws.send_denial_response(StreamingResponse(chunks(), status_code=401))
        assert ws.application_state.name == "DISCONNECTED"
        return server.sent

    ours, theirs = run(deny(impl.WebSocket)), run(deny(sw.WebSocket))
    assert ours == theirs
    assert [m.get("more_body") for m in ours] == [None, True, True, False]


@pytest.mark.parametrize(
    "extensions", [{}, None, ..., {"websocket.http.other": {}}], ids=["empty", "None", "missing", "other"]
)
@pytest.mark.parametrize("method", ["send_denial_response", "send_response"])
def test_denial_response_without_extension_closes(impl: Any, extensions: Any, method: str) -> None:
    # Documented fastws behaviour (Starlette docs: "Otherwise, it behaves like websocket.close()");
    # Starlette 1.10's code raises RuntimeError instead.
    scope = make_scope(extensions=extensions)
    if extensions is ...:
        del scope["extensions"]
    server = FakeServer()
    ws = impl.WebSocket(scope, server.receive, server.send)
    run(getattr(ws, method)(PlainTextResponse("no", status_code=403)))
    assert server.sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]
    assert states(ws) == (WebSocketState.CONNECTING, WebSocketState.DISCONNECTED)
    with pytest.raises(WebSocketDisconnected) as info:
        run(getattr(ws, method)(PlainTextResponse("again")))
    assert str(info.value) == SEND_AFTER_CLOSE
    if extensions is not None:
        theirs_scope = make_scope(extensions=extensions)
        if extensions is ...:
            del theirs_scope["extensions"]
        theirs = sw.WebSocket(theirs_scope, server.receive, server.send)
        with pytest.raises(RuntimeError, match="doesn't support the Websocket Denial Response extension"):
            run(theirs.send_denial_response(PlainTextResponse("no")))


def test_denial_response_after_accept_is_runtime_error(impl: Any) -> None:
    # With the extension: the response's first event is refused, with Starlette's message.
    ws, server = connect(impl, [CONNECT])
    run(ws.accept())
    with pytest.raises(RuntimeError) as info:
        run(ws.send_denial_response(PlainTextResponse("late")))
    assert (
        str(info.value)
        == 'Expected ASGI message "websocket.send" or "websocket.close", but got \'websocket.http.response.start\''
    )
    assert len(server.sent) == 1
    # Without it: fastws' own message, and nothing is sent.
    ws, server = connect(impl, [CONNECT], extensions={})
    run(ws.accept())
    with pytest.raises(RuntimeError) as info:
        run(ws.send_response(PlainTextResponse("late")))
    assert str(info.value) == "A denial response can only be sent before accept(); the application state is CONNECTED."
    assert len(server.sent) == 1 and ws.application_state is WebSocketState.CONNECTED


def test_denial_response_during_response_without_extension(impl: Any) -> None:
    ws, server = connect(impl, extensions={})
    run(ws.send({"type": "websocket.http.response.start", "status": 403, "headers": []}))
    with pytest.raises(RuntimeError) as info:
        run(ws.send_denial_response(PlainTextResponse("x")))
    assert str(info.value) == "A denial response can only be sent before accept(); the application state is RESPONSE."


# -- WebSocketClose and CloseCode ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), ((4000,), {}), ((1001, "bye"), {}), ((), {"code": 1008, "reason": None}), ((), {"reason": ""})],
)
def test_websocket_close_app_matches_starlette(impl: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    ours, theirs = FakeServer(), FakeServer()
    run(WebSocketClose(*args, **kwargs)(make_scope(), ours.receive, ours.send))
    run(sw.WebSocketClose(*args, **kwargs)(make_scope(), theirs.receive, theirs.send))
    assert ours.sent == theirs.sent and len(ours.sent) == 1
    assert ours.sent[0]["type"] == "websocket.close"
    # As a denial "response" through a WebSocket of this twin: it rejects the handshake.
    server = FakeServer()
    ws = impl.WebSocket(make_scope(), server.receive, server.send)
    run(ws.send_denial_response(WebSocketClose(*args, **kwargs)))
    assert server.sent == theirs.sent
    assert ws.application_state is WebSocketState.DISCONNECTED


def test_close_codes(impl: Any) -> None:
    expected = {
        "NORMAL_CLOSURE": 1000,
        "GOING_AWAY": 1001,
        "PROTOCOL_ERROR": 1002,
        "UNSUPPORTED_DATA": 1003,
        "NO_STATUS_RECEIVED": 1005,
        "ABNORMAL_CLOSURE": 1006,
        "INVALID_FRAME_PAYLOAD_DATA": 1007,
        "POLICY_VIOLATION": 1008,
        "MESSAGE_TOO_BIG": 1009,
        "MISSING_EXTENSION": 1010,
        "INTERNAL_ERROR": 1011,
        "SERVICE_RESTART": 1012,
        "TRY_AGAIN_LATER": 1013,
        "BAD_GATEWAY": 1014,
        "TLS_HANDSHAKE": 1015,
    }
    assert {member.name: member.value for member in CloseCode} == expected
    # The names in Yaat 0.1.10's docs ("WebSockets" page) are the members; the RFC 6455 abbreviations are aliases.
    assert CloseCode.NO_STATUS_RCVD is CloseCode.NO_STATUS_RECEIVED
    assert CloseCode.MANDATORY_EXT is CloseCode.MISSING_EXTENSION
    assert all(isinstance(member, int) for member in CloseCode)
    ws, server = connect(impl, [CONNECT])

    async def main() -> None:
        await ws.accept()
        await ws.close(CloseCode.GOING_AWAY, "restart")

    run(main())
    assert server.sent[-1] == {"type": "websocket.close", "code": 1001, "reason": "restart"}


def test_exception_types(impl: Any) -> None:
    assert issubclass(WebSocketDisconnected, RuntimeError)
    assert issubclass(UnexpectedMessageType, KeyError)
    exc = WebSocketDisconnect()
    assert (exc.code, exc.reason) == (1000, "")
    assert (WebSocketDisconnect(1001, None).reason, WebSocketDisconnect(4000, "r").reason) == ("", "r")
    assert [s.name for s in WebSocketState] == [s.name for s in sw.WebSocketState]
    assert [s.value for s in WebSocketState] == [s.value for s in sw.WebSocketState]
    ws, _ = connect(impl, [CONNECT, disconnect(4001, "x")])

    async def main() -> None:
        await ws.accept()
        await ws.receive_text()

    with pytest.raises(WebSocketDisconnect) as info:
        run(main())
    assert type(info.value) is fastws.WebSocketDisconnect  # one class for both twins


def test_public_websockets_module() -> None:
    for name in ("WebSocket", "WebSocketClose", "WebSocketDisconnect", "WebSocketDisconnected", "WebSocketState"):
        assert hasattr(sw, name) and hasattr(fastws.websockets, name)
        assert getattr(fastws, name) is getattr(fastws.websockets, name)
    twin = "c" if fastws.IMPLEMENTATION == "cython" else "py"
    assert fastws.websockets.WebSocket is importlib.import_module(f"fastws.websocket._core_{twin}").WebSocket


# -- the two twins: same public names, same docstrings ---------------------------------------------------

_SIGNATURE_LINE = re.compile(r"^[A-Za-z_][\w.]*\(.*\)(\s*->\s*\S+)?$")
TWIN_MODULES = ["websocket._core", "datastructures._core", "codec._json"]
_MISSING = object()


def clean_doc(obj: Any, compiled: bool) -> str | None:
    """A docstring with its indentation normalised; on the compiled side without the signature
    line Cython embeds (``name(args)``, alone or followed by a blank line)."""
    if obj is _MISSING:
        return None
    doc = getattr(obj, "__doc__", None)
    if not isinstance(doc, str):
        return None
    if compiled:
        first, _, rest = doc.partition("\n")
        if _SIGNATURE_LINE.match(first.strip()) and (not rest or rest.startswith("\n") or not rest.strip()):
            doc = rest
    doc = inspect.cleandoc(doc)
    return doc or None


def public_names(obj: Any) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


# ``scope`` is an instance attribute on the pure-Python twin (its class has nothing to carry a
# docstring) and a ``cdef public`` attribute on the compiled one (Cython's "scope: object").
INSTANCE_ATTRIBUTES = {"scope"}


@pytest.mark.compiled
@pytest.mark.parametrize("module", TWIN_MODULES)
def test_twins_expose_the_same_names(module: str) -> None:
    c = importlib.import_module(f"fastws.{module}_c")
    py = importlib.import_module(f"fastws.{module}_py")
    assert c.__all__ == py.__all__
    for name in c.__all__:
        assert hasattr(c, name) and hasattr(py, name), name
        a, b = getattr(c, name), getattr(py, name)
        assert isinstance(a, type) == isinstance(b, type), name
        assert callable(a) and callable(b), name
        if isinstance(a, type):
            assert public_names(a) - INSTANCE_ATTRIBUTES == public_names(b) - INSTANCE_ATTRIBUTES, name


@pytest.mark.compiled
def test_twin_websocket_instances_expose_the_same_names() -> None:
    c = importlib.import_module("fastws.websocket._core_c").WebSocket(make_scope(), None, None)
    py = importlib.import_module("fastws.websocket._core_py").WebSocket(make_scope(), None, None)
    assert public_names(c) == public_names(py)


def twin_docstrings(module: str) -> list[tuple[str, Any, Any]]:
    """(name, compiled object, pure-Python object) for every public function, class and class
    attribute of the twin modules; an attribute that only one class has is paired with _MISSING."""
    c = importlib.import_module(f"fastws.{module}_c")
    py = importlib.import_module(f"fastws.{module}_py")
    pairs = []
    for name in c.__all__:
        a, b = getattr(c, name), getattr(py, name)
        pairs.append((name, a, b))
        if isinstance(a, type):
            for attr in sorted((public_names(a) | public_names(b)) - INSTANCE_ATTRIBUTES):
                pairs.append((f"{name}.{attr}", getattr(a, attr, _MISSING), getattr(b, attr, _MISSING)))
    return pairs


@pytest.mark.compiled
@pytest.mark.parametrize("module", TWIN_MODULES)
def test_twins_have_the_same_docstrings(module: str) -> None:
    differ = {
        name: (clean_doc(a, compiled=True), clean_doc(b, compiled=False))
        for name, a, b in twin_docstrings(module)
        if clean_doc(a, compiled=True) != clean_doc(b, compiled=False)
    }
    assert differ == {}
