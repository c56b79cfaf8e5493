"""Scripted conversations for the Starlette-shaped WebSocket APIs (Starlette and Lilya): each is
``(client events, steps)``; every step is a function of the connection returning an awaitable."""

from __future__ import annotations

from typing import Any

from dialect_harness import CONNECT, binary, collect, disconnect, text


async def states(ws: Any) -> Any:
    """Both states, as (enum class, member name) pairs, so the enum's identity is compared too."""
    return [(type(s), s.name) for s in (ws.client_state, ws.application_state)]


def accept(*args: Any, **kwargs: Any) -> Any:
    return lambda ws: ws.accept(*args, **kwargs)


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    return lambda ws: getattr(ws, name)(*args, **kwargs)


SCRIPTS: dict[str, tuple[list[Any], list[Any]]] = {
    "text_and_disconnect": (
        [CONNECT, text("hi"), text("ünï €"), disconnect(1001, "bye")],
        [
            states,
            accept(),
            states,
            call("receive_text"),
            call("receive_text"),
            call("send_text", "x"),
            call("receive_text"),
            states,
            call("receive_text"),
            call("receive"),
            call("send_text", "after"),
            states,
        ],
    ),
    "bytes_and_json_modes": (
        [
            CONNECT,
            binary(b"\x00\xff"),
            text('{"a": [1, 2.5, null]}'),
            binary('{"é": true}'.encode()),
            text("[1,"),
            disconnect(1000),
        ],
        [
            accept(),
            call("receive_bytes"),
            call("receive_json"),
            call("receive_json", mode="binary"),
            call("receive_json"),
            call("send_bytes", b"\x01"),
            call("send_json", {"b": "ü", "a": [1, None]}),
            call("send_json", [1, 2], mode="binary"),
            call("send_json", 1, mode="xml"),
            call("receive_json", mode="xml"),
            call("receive_bytes"),
            states,
        ],
    ),
    "wrong_kind": (
        [CONNECT, binary(b"x"), text("y")],
        [accept(), call("receive_text"), call("receive_bytes"), states],
    ),
    "close_with_reason": (
        [CONNECT],
        [
            accept("chat", headers=[(b"x-a", b"1")]),
            call("close", 4001, "going"),
            states,
            call("send_text", "late"),
            call("close"),
            call("accept"),
        ],
    ),
    "close_without_reason": (
        [CONNECT],
        [accept(), call("close"), states],
    ),
    "misuse_before_accept": (
        [CONNECT, text("early")],
        [
            call("receive_text"),
            call("receive_bytes"),
            call("receive_json"),
            call("send_text", "x"),
            call("send_bytes", b"x"),
            call("send_json", {}),
            states,
            call("receive"),
            call("receive"),
            states,
        ],
    ),
    "denial_by_close": (
        [CONNECT],
        [call("close", 1008, "no"), states, call("accept"), call("send_text", "x"), states],
    ),
    "double_accept": (
        [CONNECT],
        [accept(), accept(), call("send", {"type": "websocket.accept"}), states],
    ),
    "iter_text_disconnect_midway": (
        [CONNECT, text("a"), text("b"), disconnect(1001), text("never")],
        [accept(), lambda ws: collect(ws.iter_text()), states, call("receive_text")],
    ),
    "iter_bytes_and_json": (
        [CONNECT, binary(b"a"), binary(b"b"), disconnect(1000)],
        [accept(), lambda ws: collect(ws.iter_bytes()), states],
    ),
    "iter_json": (
        [CONNECT, text("1"), text('{"x": "y"}'), disconnect(1000)],
        [accept(), lambda ws: collect(ws.iter_json()), states],
    ),
    "iter_before_accept": (
        [CONNECT],
        [lambda ws: collect(ws.iter_text()), states],
    ),
    "raw_events": (
        [CONNECT, text("t"), disconnect(1005)],
        [
            call("receive"),
            call("send", {"type": "websocket.accept", "subprotocol": None, "headers": []}),
            call("receive"),
            call("receive"),
            call("receive"),
            call("send", {"type": "websocket.send", "text": "z"}),
            call("send", {"type": "websocket.close", "code": 1000, "reason": ""}),
            call("send", {"type": "websocket.send", "text": "z"}),
            states,
        ],
    ),
    "bad_first_event": (
        [text("not connect")],
        [call("receive"), states],
    ),
    "unexpected_event_type": (
        [CONNECT, {"type": "websocket.bogus"}],
        [accept(), call("receive"), call("send", {"type": "websocket.bogus"}), states],
    ),
    # Issue 18: what the framework hands to the server unchecked, the dialect hands on too.
    # FastAPI's validation handler closes before accept with a list as the reason (a 403 either way).
    "close_before_accept_with_a_list_reason": (
        [CONNECT],
        [call("close", 1008, [{"loc": ["query", "q"], "msg": "bad"}]), states],
    ),
    # An error handler closing with 1006 (FastAPI's tests do): passed on, the server decides.
    "close_with_a_reserved_code_and_long_reason": (
        [CONNECT],
        [accept(), call("close", 1006, "x" * 200), states],
    ),
    "accept_with_a_subprotocol_not_offered": (
        [CONNECT],
        [accept("not-offered"), states],
    ),
}
