"""Bad input: a clear error or close code, never a crash, a hang or a silent drop (issue 7).

One test (or parametrised group) per row of the catalogue in ``docs/errors.md``, run on both
implementations (the ``impl`` fixture). Row ids (``A1``, ``B3``, ...) match the document.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from conftest import FakeServer, make_scope, run

from fastws.codec._limits import DEFAULT_MAX_JSON_SIZE, TOO_BIG_REASON
from fastws.protocol.close import CloseCode
from fastws.websockets import UnexpectedMessageType, WebSocketDisconnect, WebSocketDisconnected, WebSocketState

CONNECT = {"type": "websocket.connect"}
# Generous wall-clock bound for the "bounded time" rows: the inputs are large enough that a
# quadratic algorithm would take minutes, a linear one takes milliseconds. Builds that run several
# times slower on purpose (the coverage leg's line-tracing build) scale it with
# FASTWS_TEST_TIME_SCALE.
TIME_BOUND = 5.0 * float(os.environ.get("FASTWS_TEST_TIME_SCALE", "1"))


def opened(impl: Any, events: list[Any], **scope: Any) -> tuple[Any, FakeServer]:
    """An accepted connection whose server delivers ``events`` next."""
    server = FakeServer([CONNECT, *events])
    ws = impl.WebSocket(make_scope(**scope), server.receive, server.send)
    run(ws.accept())
    server.sent.clear()
    return ws, server


def fresh(impl: Any, events: list[Any], **scope: Any) -> tuple[Any, FakeServer]:
    server = FakeServer(events)
    return impl.WebSocket(make_scope(**scope), server.receive, server.send), server


def receive_with(method: str) -> Any:
    async def call(ws: Any) -> Any:
        if method.startswith("iter_"):
            async for item in getattr(ws, method)():
                return item
            return StopAsyncIteration
        return await getattr(ws, method)()

    return call


# -- A. malformed ASGI events from a buggy server -------------------------------------------------------

MALFORMED_TYPE = [
    pytest.param({"text": "x"}, "an event without 'type' (keys ['text'])", id="A1-missing-type"),
    pytest.param(None, "a NoneType, not a dict", id="A2-none"),
    pytest.param(["websocket.receive"], "a list, not a dict", id="A2-list"),
    pytest.param("websocket.receive", "a str, not a dict", id="A2-str"),
    pytest.param({"type": b"websocket.receive", "text": "x"}, "'type' = b'websocket.receive'", id="A3-type-bytes"),
    pytest.param({"type": None}, "'type' = None", id="A3-type-none"),
]
ALL_RECEIVES = ["receive", "receive_text", "receive_bytes", "receive_json", "iter_text", "iter_bytes", "iter_json"]


@pytest.mark.parametrize("method", ALL_RECEIVES)
@pytest.mark.parametrize(("event", "described"), MALFORMED_TYPE)
def test_a1_a3_event_without_a_type_string(impl: Any, method: str, event: Any, described: str) -> None:
    ws, _ = opened(impl, [event])
    with pytest.raises(RuntimeError) as info:
        run(receive_with(method)(ws))
    assert (
        str(info.value)
        == f"Malformed ASGI event from the server: expected a dict with a 'type' string, got {described}"
    )
    assert ws.client_state is WebSocketState.CONNECTED


@pytest.mark.parametrize(("event", "described"), MALFORMED_TYPE)
def test_a1_a3_malformed_first_event_on_accept(impl: Any, event: Any, described: str) -> None:
    ws, server = fresh(impl, [event])
    with pytest.raises(RuntimeError, match="Malformed ASGI event from the server"):
        run(ws.accept())
    assert server.sent == []


WRONG_PAYLOAD = [
    # (event, methods that must reject it, message)
    pytest.param(
        {"type": "websocket.receive", "text": b"x"},
        ["receive_text", "receive_json", "iter_text", "iter_json"],
        "expected 'text' to be a str, got bytes",
        id="A4-text-bytes",
    ),
    pytest.param(
        {"type": "websocket.receive", "text": 42},
        ["receive_text", "receive_json", "iter_text", "iter_json"],
        "expected 'text' to be a str, got int",
        id="A4-text-int",
    ),
    pytest.param(
        {"type": "websocket.receive", "bytes": "x"},
        ["receive_bytes", "iter_bytes"],
        "expected 'bytes' to be bytes, got str",
        id="A5-bytes-str",
    ),
    pytest.param(
        {"type": "websocket.receive", "bytes": bytearray(b"x")},
        ["receive_bytes", "iter_bytes"],
        "expected 'bytes' to be bytes, got bytearray",
        id="A5-bytes-bytearray",
    ),
    pytest.param(
        {"type": "websocket.receive", "text": "x", "bytes": b"x"},
        ["receive_text", "receive_bytes", "receive_json", "iter_text", "iter_bytes", "iter_json"],
        "expected a websocket.receive event with one of 'text' or 'bytes', got both set",
        id="A6-both",
    ),
]


@pytest.mark.parametrize(("event", "methods", "message"), WRONG_PAYLOAD)
def test_a4_a6_payload_of_the_wrong_type_or_both(impl: Any, event: Any, methods: list[str], message: str) -> None:
    for method in methods:
        ws, _ = opened(impl, [dict(event)])
        with pytest.raises(RuntimeError) as info:
            run(receive_with(method)(ws))
        assert str(info.value) == f"Malformed ASGI event from the server: {message}", method


def test_a4_binary_json_payload_of_the_wrong_type(impl: Any) -> None:
    ws, _ = opened(impl, [{"type": "websocket.receive", "bytes": "[1]"}])
    with pytest.raises(RuntimeError, match="expected 'bytes' to be bytes, got str"):
        run(ws.receive_json("binary"))


def test_a4_a6_raw_receive_passes_payloads_through(impl: Any) -> None:
    # receive() is the raw ASGI interface: it checks the event type, not the payload keys.
    events = [
        {"type": "websocket.receive", "text": b"x"},
        {"type": "websocket.receive", "bytes": "x"},
        {"type": "websocket.receive", "text": "x", "bytes": b"x"},
        {"type": "websocket.receive"},
    ]
    ws, _ = opened(impl, [dict(e) for e in events])
    for event in events:
        assert run(ws.receive()) == event


@pytest.mark.parametrize(
    "event",
    [
        pytest.param({"type": "websocket.receive"}, id="A7-no-keys"),
        pytest.param({"type": "websocket.receive", "text": None, "bytes": None}, id="A7-both-none"),
    ],
)
@pytest.mark.parametrize("method", ["receive_text", "receive_bytes", "receive_json", "iter_text", "iter_bytes"])
def test_a7_neither_text_nor_bytes(impl: Any, event: Any, method: str) -> None:
    ws, _ = opened(impl, [dict(event)])
    with pytest.raises(UnexpectedMessageType) as info:
        run(receive_with(method)(ws))
    assert isinstance(info.value, KeyError)
    assert "with neither 'text' nor 'bytes'" in str(info.value)


@pytest.mark.parametrize("method", ALL_RECEIVES)
@pytest.mark.parametrize("kind", ["http.request", "websocket.junk", "websocket.connect", "lifespan.startup"])
def test_a8_unknown_event_type_after_connect(impl: Any, method: str, kind: str) -> None:
    ws, _ = opened(impl, [{"type": kind}])
    with pytest.raises(RuntimeError) as info:
        run(receive_with(method)(ws))
    assert str(info.value) == f'Expected ASGI message "websocket.receive" or "websocket.disconnect", but got {kind!r}'


@pytest.mark.parametrize("kind", ["websocket.receive", "websocket.disconnect", "http.request"])
def test_a9_first_event_not_connect(impl: Any, kind: str) -> None:
    for call in (lambda ws: ws.accept(), lambda ws: ws.receive()):
        ws, server = fresh(impl, [{"type": kind, "code": 1000}])
        with pytest.raises(RuntimeError) as info:
            run(call(ws))
        assert str(info.value) == f'Expected ASGI message "websocket.connect", but got {kind!r}'
        assert server.sent == []


@pytest.mark.parametrize("method", ALL_RECEIVES)
def test_a10_events_after_disconnect_are_never_read(impl: Any, method: str) -> None:
    ws, server = opened(
        impl, [{"type": "websocket.disconnect", "code": 1001}, {"type": "websocket.receive", "text": "late"}]
    )
    with pytest.raises(WebSocketDisconnect):
        run(ws.receive_text())
    with pytest.raises(
        WebSocketDisconnected, match='Cannot call "receive" once a disconnect message has been received.'
    ):
        run(receive_with(method)(ws))
    assert server.events == [{"type": "websocket.receive", "text": "late"}]


def test_a11_disconnect_without_code(impl: Any) -> None:
    # Starlette's behaviour, kept: KeyError('code') (ASGI spec 2.4 makes `code` mandatory).
    ws, _ = opened(impl, [{"type": "websocket.disconnect"}])
    with pytest.raises(KeyError, match="code"):
        run(ws.receive_text())


# -- B. app misuse, rejected before anything is sent ------------------------------------------------------

INVALID_CODES = [1004, 1005, 1006, 1015, 999, 0, -1, 1016, 2000, 2999, 5000, 65535, 65536, 10**30]
VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999]


@pytest.mark.parametrize("code", INVALID_CODES)
def test_b1_invalid_close_code(impl: Any, code: int) -> None:
    ws, server = opened(impl, [])
    with pytest.raises(
        ValueError, match=f"invalid close code {code}: an app may send 1000-1003, 1007-1014 or 3000-4999"
    ):
        run(ws.close(code))
    assert server.sent == []
    assert ws.application_state is WebSocketState.CONNECTED
    # Before accept the close is a handshake denial (HTTP 403; servers drop code and reason): passed
    # on unchecked, as Starlette does (issue 18: FastAPI's validation close must stay a 403).
    ws, server = fresh(impl, [CONNECT])
    run(ws.close(code, ["a", "list"]))  # type: ignore[arg-type]
    assert server.sent == [{"type": "websocket.close", "code": code, "reason": ["a", "list"]}]
    assert ws.application_state is WebSocketState.DISCONNECTED


@pytest.mark.parametrize("code", VALID_CODES)
def test_b1_valid_close_code(impl: Any, code: int) -> None:
    ws, server = opened(impl, [])
    run(ws.close(code, "bye"))
    assert server.sent == [{"type": "websocket.close", "code": code, "reason": "bye"}]


@pytest.mark.parametrize("code", ["1000", 1000.0, True, None])
def test_b2_close_code_not_an_int(impl: Any, code: Any) -> None:
    ws, server = opened(impl, [])
    with pytest.raises(TypeError, match="close code must be an int"):
        run(ws.close(code))
    assert server.sent == []


@pytest.mark.parametrize(
    ("reason", "size"), [("a" * 124, 124), ("é" * 62, 124), ("€" * 42, 126), ("😀" * 31, 124), ("x" * 10_000, 10_000)]
)
def test_b3_close_reason_over_123_bytes(impl: Any, reason: str, size: int) -> None:
    ws, server = opened(impl, [])
    with pytest.raises(ValueError, match=f"close reason is {size} bytes of UTF-8; at most 123"):
        run(ws.close(1000, reason))
    assert server.sent == [] and ws.application_state is WebSocketState.CONNECTED


@pytest.mark.parametrize("reason", ["a" * 123, "é" * 61 + "a", "😀" * 30 + "abc", "", None])
def test_b3_close_reason_up_to_123_bytes(impl: Any, reason: Any) -> None:
    ws, server = opened(impl, [])
    run(ws.close(1000, reason))
    assert server.sent == [{"type": "websocket.close", "code": 1000, "reason": reason or ""}]


@pytest.mark.parametrize("reason", [b"bye", 42])
def test_b3_close_reason_not_a_str(impl: Any, reason: Any) -> None:
    ws, server = opened(impl, [])
    with pytest.raises(TypeError, match="close reason must be a str or None"):
        run(ws.close(1000, reason))
    assert server.sent == []


class _Code(int):
    pass


class _Reason(str):
    pass


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (1000, "😀" * 30),  # 30 characters, 120 bytes: the shortcut's longest reason
        (1000, "a" * 31),  # one character past it: check_close measures the bytes
        (CloseCode.NORMAL_CLOSURE, None),  # an int subclass: check_close
        (_Code(1000), "bye"),
        (1000, _Reason("bye")),  # a str subclass: check_close
        (1001, None),  # another code: check_close
    ],
)
def test_b1_b3_close_valid_around_the_plain_close_shortcut(impl: Any, code: Any, reason: Any) -> None:
    # close(1000) with no reason or a short str skips check_close (it would pass it); everything
    # else goes through it, and is sent as given.
    ws, server = opened(impl, [])
    run(ws.close(code, reason))
    assert server.sent == [{"type": "websocket.close", "code": code, "reason": reason or ""}]
    assert type(server.sent[0]["code"]) is type(code)


@pytest.mark.parametrize(
    ("code", "reason", "error", "match"),
    [
        (1000, _Reason("😀" * 31), ValueError, "close reason is 124 bytes of UTF-8"),
        (1000, _Reason("a" * 124), ValueError, "close reason is 124 bytes of UTF-8"),
        (_Code(1005), None, ValueError, "invalid close code 1005"),
        (1000.0, None, TypeError, "close code must be an int"),
        (1000, b"", TypeError, "close reason must be a str or None"),
    ],
)
def test_b1_b3_close_invalid_around_the_plain_close_shortcut(
    impl: Any, code: Any, reason: Any, error: type, match: str
) -> None:
    ws, server = opened(impl, [])
    with pytest.raises(error, match=match):
        run(ws.close(code, reason))
    assert server.sent == [] and ws.application_state is WebSocketState.CONNECTED


@pytest.mark.parametrize("checks", [True, False])
@pytest.mark.parametrize("headers", [None, [], ()])
def test_b4_b5_accept_without_subprotocol_or_headers(impl: Any, checks: bool, headers: Any) -> None:
    # Nothing to check (the check is skipped): the server gets no subprotocol and an empty list.
    cls = type("Plain", (impl.WebSocket,), {"_fastws_checks": checks})
    server = FakeServer([CONNECT])
    ws = cls(make_scope(subprotocols=["chat"]), server.receive, server.send)
    run(ws.accept(None, headers))
    assert server.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]
    assert ws.application_state is WebSocketState.CONNECTED
    with pytest.raises(RuntimeError):  # accepted once: a second accept is refused as before
        run(ws.accept())


@pytest.mark.parametrize("offered", [[], ["superchat"], ["CHAT"]])
def test_b4_subprotocol_not_offered(impl: Any, offered: list[str]) -> None:
    ws, server = fresh(impl, [CONNECT], subprotocols=offered)
    with pytest.raises(ValueError, match=r"subprotocol 'chat' was not offered by the client .*RFC 6455 section 4.2.2"):
        run(ws.accept("chat"))
    assert server.sent == [] and server.events == [CONNECT]  # nothing received, nothing sent
    assert ws.application_state is WebSocketState.CONNECTING


def test_b4_subprotocol_offered(impl: Any) -> None:
    ws, server = fresh(impl, [CONNECT], subprotocols=["v1", "chat"])
    run(ws.accept("chat"))
    assert server.sent == [{"type": "websocket.accept", "subprotocol": "chat", "headers": []}]


def test_b4_subprotocol_not_a_str(impl: Any) -> None:
    ws, server = fresh(impl, [CONNECT], subprotocols=["chat"])
    with pytest.raises(TypeError, match="subprotocol must be a str or None"):
        run(ws.accept(b"chat"))
    assert server.sent == []


@pytest.mark.parametrize(
    ("headers", "error", "match"),
    [
        ([(b"x-a", b"1\r\nSet-Cookie: evil=1")], ValueError, "CR, LF or NUL"),
        ([(b"x-a", b"1\n2")], ValueError, "CR, LF or NUL"),
        ([(b"x-a", b"1\x002")], ValueError, "CR, LF or NUL"),
        ([(b"x a", b"1")], ValueError, "not an RFC 9110 token"),
        ([(b"x:a", b"1")], ValueError, "not an RFC 9110 token"),
        ([(b"", b"1")], ValueError, "not an RFC 9110 token"),
        ([(b"x-\xe9", b"1")], ValueError, "not an RFC 9110 token"),
        ([(b"x-a\r\n", b"1")], ValueError, "not an RFC 9110 token"),
        ([("x-a", "1")], TypeError, "must be bytes"),
        ([(b"x-a", b"1", b"2")], TypeError, r"\(name, value\) pairs"),
        ([b"x-a"], TypeError, r"\(name, value\) pairs"),
    ],
)
def test_b5_invalid_accept_headers(impl: Any, headers: Any, error: type, match: str) -> None:
    ws, server = fresh(impl, [CONNECT])
    with pytest.raises(error, match=match):
        run(ws.accept(headers=headers))
    assert server.sent == [] and server.events == [CONNECT]


def test_b5_valid_accept_headers(impl: Any) -> None:
    headers = [(b"x-a", b"1"), (b"Set-Cookie", b"a=b; Path=/"), (b"x!#$%&'*+-.^_`|~09", b"\tv a l\x7f")]
    ws, server = fresh(impl, [CONNECT])
    run(ws.accept(headers=headers))
    assert server.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": headers}]
    ws, server = fresh(impl, [CONNECT])
    run(ws.accept(headers=iter(headers)))  # an iterator is read once, sent as a list
    assert server.sent[0]["headers"] == headers


@pytest.mark.parametrize(
    ("value", "error"), [(object(), TypeError), ({1, 2}, TypeError), (b"x", TypeError), ({(1, 2): 3}, TypeError)]
)
@pytest.mark.parametrize("mode", ["text", "binary"])
def test_b6_send_json_unserialisable(impl: Any, value: Any, error: type, mode: str) -> None:
    ws, server = opened(impl, [])
    with pytest.raises(error):
        run(ws.send_json(value, mode=mode))
    assert server.sent == [] and ws.application_state is WebSocketState.CONNECTED


def test_b6_send_json_circular(impl: Any) -> None:
    value: list[Any] = []
    value.append(value)
    ws, server = opened(impl, [])
    with pytest.raises(ValueError, match="Circular reference"):
        run(ws.send_json(value))
    assert server.sent == []


@pytest.mark.parametrize("mode", ["bytes", "", "TEXT", None])
def test_b7_json_mode_that_does_not_exist(impl: Any, mode: Any) -> None:
    ws, server = opened(impl, [{"type": "websocket.receive", "text": "1"}])
    with pytest.raises(RuntimeError, match='The "mode" argument should be "text" or "binary".'):
        run(ws.send_json(1, mode=mode))
    with pytest.raises(RuntimeError, match='The "mode" argument should be "text" or "binary".'):
        run(ws.receive_json(mode=mode))
    assert server.sent == [] and len(server.events) == 1  # nothing sent, nothing received


# -- C. hostile input --------------------------------------------------------------------------------------


def test_c1_invalid_utf8_in_binary_json(impl: Any) -> None:
    ws, _ = opened(
        impl, [{"type": "websocket.receive", "bytes": b'["\xff\xfe"]'}, {"type": "websocket.receive", "bytes": b"[1]"}]
    )
    with pytest.raises(UnicodeDecodeError):
        run(ws.receive_json("binary"))
    assert run(ws.receive_json("binary")) == [1]  # the connection is still usable


def test_c1_invalid_json(impl: Any) -> None:
    ws, _ = opened(impl, [{"type": "websocket.receive", "text": "{"}])
    with pytest.raises(json.JSONDecodeError):
        run(ws.receive_json())


@pytest.mark.parametrize(
    "document", ["[" * 1_000_000, "[" * 1_000_000 + "]" * 1_000_000, '{"a":' * 300_000 + "1" + "}" * 300_000]
)
@pytest.mark.parametrize("mode", ["text", "binary"])
def test_c2_json_nested_a_million_levels(impl: Any, document: str, mode: str) -> None:
    payload: Any = document if mode == "text" else document.encode()
    key = "text" if mode == "text" else "bytes"
    ws, _ = opened(
        impl,
        [
            {"type": "websocket.receive", key: payload},
            {"type": "websocket.receive", key: payload[:0] + ("[1]" if mode == "text" else b"[1]")},
        ],
    )
    start = time.perf_counter()
    with pytest.raises(json.JSONDecodeError) as info:
        run(ws.receive_json(mode))
    assert type(info.value) is json.JSONDecodeError
    assert str(info.value) == "JSON nested deeper than the recursion limit: line 1 column 1 (char 0)"
    assert time.perf_counter() - start < TIME_BOUND
    assert run(ws.receive_json(mode)) == [1]  # the connection is still usable


def test_c3_default_limit() -> None:
    assert DEFAULT_MAX_JSON_SIZE == 16 * 1024 * 1024


def test_c3_json_over_the_default_limit(impl: Any) -> None:
    big = "[" + "1," * (DEFAULT_MAX_JSON_SIZE // 2) + "1]"  # ~16 MiB + 3 bytes
    ws, server = opened(impl, [{"type": "websocket.receive", "text": big}])
    assert ws.max_json_size == DEFAULT_MAX_JSON_SIZE
    start = time.perf_counter()
    with pytest.raises(WebSocketDisconnect) as info:
        run(ws.receive_json())
    assert time.perf_counter() - start < TIME_BOUND
    assert (info.value.code, info.value.reason) == (1009, TOO_BIG_REASON)
    assert server.sent == [{"type": "websocket.close", "code": 1009, "reason": TOO_BIG_REASON}]
    assert ws.application_state is WebSocketState.DISCONNECTED


_C3_CASES = [
    ('"' + "a" * 8 + '"', "text", True),  # 10 bytes
    ('"' + "a" * 9 + '"', "text", False),  # 11 bytes
    ('"' + "é" * 4 + '"', "text", True),  # 10 bytes of UTF-8 (6 characters)
    ('"' + "é" * 5 + '"', "text", False),  # 12 bytes of UTF-8 (7 characters)
    ('"' + "😀" * 2 + '"', "text", True),  # 10 bytes of UTF-8
    (b'"' + b"a" * 8 + b'"', "binary", True),
    (b'"' + b"a" * 9 + b'"', "binary", False),
]


# iter_json reads text messages only, so it takes the text cases.
@pytest.mark.parametrize(
    ("payload", "mode", "fits", "method"),
    [(*case, "receive_json") for case in _C3_CASES] + [(*case, "iter_json") for case in _C3_CASES if case[1] == "text"],
)
def test_c3_limit_counts_utf8_bytes(impl: Any, payload: Any, mode: str, fits: bool, method: str) -> None:
    key = "text" if mode == "text" else "bytes"
    ws, server = opened(impl, [{"type": "websocket.receive", key: payload}])
    ws.max_json_size = 10

    async def call() -> Any:
        if method == "iter_json":
            async for value in ws.iter_json():
                return value
        return await ws.receive_json(mode)

    if fits:
        assert run(call()) == json.loads(payload)
        assert server.sent == []
    else:
        with pytest.raises(WebSocketDisconnect) as info:
            run(call())
        assert info.value.code == 1009
        assert server.sent == [{"type": "websocket.close", "code": 1009, "reason": TOO_BIG_REASON}]


def test_c3_limit_per_class_and_per_connection(impl: Any) -> None:
    class Small(impl.WebSocket):  # type: ignore[misc,name-defined]
        default_max_json_size = 4

    server = FakeServer(
        [CONNECT, {"type": "websocket.receive", "text": "12345"}, {"type": "websocket.receive", "text": "12345"}]
    )
    ws = Small(make_scope(), server.receive, server.send)
    run(ws.accept())
    assert ws.max_json_size == 4
    ws.max_json_size = None  # no limit on this connection
    assert ws.max_json_size is None
    assert run(ws.receive_json()) == 12345
    ws.max_json_size = 4
    with pytest.raises(WebSocketDisconnect):
        run(ws.receive_json())
    assert impl.WebSocket(make_scope()).max_json_size == DEFAULT_MAX_JSON_SIZE


@pytest.mark.parametrize(("value", "error"), [(-1, ValueError), ("10", TypeError), (1.5, TypeError), (True, TypeError)])
def test_c3_invalid_limit(impl: Any, value: Any, error: type) -> None:
    ws = impl.WebSocket(make_scope())
    with pytest.raises(error, match="max_json_size"):
        ws.max_json_size = value


def test_c3_limit_close_fails(impl: Any) -> None:
    # The client is already gone when the 1009 close is sent: still WebSocketDisconnect(1009).
    ws, server = opened(impl, [{"type": "websocket.receive", "text": "[1,2,3]"}])
    ws.max_json_size = 2
    server.fail_send = True
    with pytest.raises(WebSocketDisconnect) as info:
        run(ws.receive_json())
    assert info.value.code == 1009


def test_c3_receive_text_has_no_limit(impl: Any) -> None:
    ws, _ = opened(impl, [{"type": "websocket.receive", "text": "x" * 100}])
    ws.max_json_size = 10
    assert run(ws.receive_text()) == "x" * 100


def test_c4_thousands_of_headers_and_huge_values(impl: Any) -> None:
    headers = [(b"x-h%d" % i, b"v" * 100) for i in range(20_000)]
    headers += [(b"cookie", b"; ".join(b"c%d=%d" % (i, i) for i in range(20_000)))]
    headers += [(b"x-huge", b"h" * 5_000_000), (b"host", b"example.com:%d" % 80)]
    ws = impl.WebSocket(make_scope(headers=headers))
    start = time.perf_counter()
    assert len(ws.headers) == len(headers)
    assert ws.headers["x-h19999"] == "v" * 100
    assert len(ws.headers["x-huge"]) == 5_000_000
    assert len(ws.headers.getlist("x-h5")) == 1
    assert len(ws.cookies) == 20_000
    assert str(ws.url) == "ws://example.com:80/ws"
    assert time.perf_counter() - start < TIME_BOUND


@pytest.mark.parametrize(
    "query",
    [b"%" * 1_000_000, b"%zz" * 300_000, b"a=%E0%A4%A&" * 100_000, b"%25" * 300_000, b"=%" * 500_000, b"&" * 1_000_000],
)
def test_c5_pathological_percent_escapes(impl: Any, query: bytes) -> None:
    ws = impl.WebSocket(make_scope(query_string=query))
    start = time.perf_counter()
    params = ws.query_params
    items = params.multi_items()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in items)
    str(ws.url)
    assert time.perf_counter() - start < TIME_BOUND


# -- every dialect raises a clear error for a malformed event (never its AssertionError()) ----------------


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # python-multipart, imported by frameworks
@pytest.mark.parametrize("dialect", ["starlette", "lilya", "yaat", "bocadillo", "micropie"])
def test_a_dialects_report_malformed_events(impl: Any, dialect: str) -> None:
    import importlib

    module = importlib.import_module(f"fastws.dialects.{dialect}")
    cls = module.build(impl.WebSocket)
    server = FakeServer([CONNECT, {"type": "websocket.receive", "text": b"x"}])
    scope = make_scope()
    ws = cls(scope, server.receive, server.send) if dialect != "micropie" else cls(server.receive, server.send)
    run(ws.accept())
    with pytest.raises(RuntimeError, match="Malformed ASGI event from the server: expected 'text' to be a str"):
        run(ws.receive_text())


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
@pytest.mark.parametrize("dialect", ["starlette", "lilya", "micropie"])
def test_b1_b4_dialects_pass_them_on_as_their_framework(impl: Any, dialect: str) -> None:
    # docs/errors.md, "Which classes check B1-B5"; docs/dialects.md: Starlette, Lilya and MicroPie
    # hand the close code, reason and subprotocol to the server unchecked, and so do their dialects.
    import importlib

    cls = importlib.import_module(f"fastws.dialects.{dialect}").build(impl.WebSocket)
    server = FakeServer([CONNECT])
    ws = cls(make_scope(), server.receive, server.send) if dialect != "micropie" else cls(server.receive, server.send)
    run(ws.accept("not-offered"))
    assert server.sent[0]["subprotocol"] == "not-offered"
    server.sent.clear()
    run(ws.close(1006, "a" * 124))
    assert server.sent == [{"type": "websocket.close", "code": 1006, "reason": "a" * 124}]


def test_c2_iter_json_nested_a_million_levels(impl: Any) -> None:
    ws, _ = opened(impl, [{"type": "websocket.receive", "text": "[" * 1_000_000}])

    async def first() -> Any:
        async for value in ws.iter_json():
            return value

    with pytest.raises(json.JSONDecodeError, match="JSON nested deeper than the recursion limit"):
        run(first())
