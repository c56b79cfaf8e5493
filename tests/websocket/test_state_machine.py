"""Differential test of the connection state machine: random sequences of client events and app
calls, played against a fastws twin and ``starlette.websockets.WebSocket`` 1.10.0 side by side.

After every call both must have returned the same value (or raised the same exception type with
the same message) and be in the same client/application state; at the end both servers must have
received the same events. fastws' documented improvement, ``UnexpectedMessageType`` where Starlette
raises a bare ``KeyError('text')``/``KeyError('bytes')``, is compared as "both KeyError with the
same key". Client events are generated as uvicorn sends them (only the key that is set); the
``"text": None`` style of other servers is a documented difference, tested on its own below.
"""

from __future__ import annotations

import copy
import json
import math
import types
from typing import Any

import starlette.websockets as sw
from conftest import FakeServer, make_scope, run
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.responses import PlainTextResponse

import fastws

SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

CONNECT = {"type": "websocket.connect"}


# -- comparing results ----------------------------------------------------------------------------------


def norm(value: Any) -> Any:
    """A value in a form where == is exact: NaN equals NaN, -0.0 differs from 0.0, 1 from 1.0."""
    if isinstance(value, float):
        if math.isnan(value):
            return ("float", "nan")
        return ("float", repr(value))
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, dict):
        return ("dict", [(norm(k), norm(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [norm(v) for v in value])
    return value


def describe(exc: BaseException) -> tuple[Any, ...]:
    if isinstance(exc, KeyError):  # UnexpectedMessageType is a KeyError carrying the same key
        return ("raise", "KeyError", exc.args)
    name = type(exc).__name__
    if name == "WebSocketDisconnect":
        return ("raise", name, exc.code, exc.reason)  # type: ignore[attr-defined]
    if isinstance(exc, AssertionError):  # FakeServer ran out of events (pytest adds addresses)
        return ("raise", name, str(exc).partition("\n")[0])
    return ("raise", name, str(exc))


@types.coroutine
def _yield_to_event_loop() -> Any:
    yield  # what asyncio.sleep(0) does: let the event loop run once, no time passes


class SuspendingServer(FakeServer):
    """A FakeServer whose receive and send suspend once before acting, as a real server's do when
    they wait for the socket: the awaitables of the WebSocket must then pass the suspension to the
    event loop and resume (a failing send raises its OSError after the suspension)."""

    async def receive(self) -> dict[str, Any]:
        await _yield_to_event_loop()
        return await super().receive()

    async def send(self, message: dict[str, Any]) -> None:
        await _yield_to_event_loop()
        await super().send(message)


async def play(
    cls: Any, scope: dict[str, Any], events: list[Any], steps: list[tuple[Any, ...]], suspend: bool = False
) -> dict[str, Any]:
    server = (SuspendingServer if suspend else FakeServer)(copy.deepcopy(events))
    ws = cls(copy.deepcopy(scope), server.receive, server.send)
    transcript: list[Any] = []
    for step in steps:
        name, args = step[0], copy.deepcopy(step[1:])
        if name == "fail":
            server.fail_send = args[0]
            continue
        try:
            if name.startswith("iter_"):
                items: list[Any] = []
                try:
                    async for item in getattr(ws, name)():
                        items.append(norm(item))
                except Exception as exc:  # noqa: BLE001
                    result: Any = ("iter", items, describe(exc))
                else:
                    result = ("iter", items, None)
            elif name == "denial":
                result = ("ok", await ws.send_denial_response(PlainTextResponse(args[0], status_code=args[1])))
            else:
                result = ("ok", norm(await getattr(ws, name)(*args)))
        except Exception as exc:  # noqa: BLE001 - the exception is the result under test
            result = describe(exc)
        transcript.append((name, result, ws.client_state.name, ws.application_state.name))
    return {"transcript": transcript, "sent": norm(server.sent), "left": len(server.events)}


def compare(
    impl: Any, events: list[Any], steps: list[tuple[Any, ...]], scope: dict[str, Any], suspend: bool = False
) -> None:
    ours = run(play(impl.WebSocket, scope, events, steps, suspend))
    theirs = run(play(sw.WebSocket, scope, events, steps, suspend))
    for index, (got, want) in enumerate(zip(ours["transcript"], theirs["transcript"], strict=True)):
        assert got == want, f"step {index}: {steps[index]!r}"
    assert ours == theirs


# -- generating events and calls ------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=4),
        st.sampled_from(["\ud800", 2**70, 1e-7]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=3), st.integers()), children, max_size=3),
    ),
    max_leaves=6,
)
texts = st.one_of(
    st.text(max_size=8),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
    st.sampled_from(
        [
            '{"a":[1,2.5,null]}',
            "[1,2]",
            "NaN",
            "[Infinity]",
            '"x"',
            "{bad",
            "1e400",
            "12345678901234567890123",
            "",
            "\ufeff[]",
            '"\\ud800"',
        ]
    ),
)
binaries = st.one_of(
    st.binary(max_size=8),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b'{"a":1}', b"[true]", b"\xff", b"\xef\xbb\xbf{}", b"", b"-0", b"123456789012345678901"]),
)
codes = st.one_of(st.sampled_from([1000, 1001, 1005, 1006, 1008, 1011, 4000]), st.integers(1000, 4999))
reasons = st.one_of(st.none(), st.text(max_size=6))
# What the app may pass to close(): fastws rejects the others with ValueError (docs/errors.md,
# tests/websocket/test_bad_input.py); Starlette sends them as they are.
close_codes = st.one_of(st.sampled_from([1000, 1001, 1008, 1011, 4000]), st.integers(3000, 4999))


@st.composite
def disconnects(draw: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "websocket.disconnect", "code": draw(codes)}
    style = draw(st.sampled_from(["reason", "no reason key", "no code key"]))
    if style == "reason":
        event["reason"] = draw(reasons)
    elif style == "no code key":
        del event["code"]
    return event


client_events = st.one_of(
    st.just(CONNECT),
    texts.map(lambda t: {"type": "websocket.receive", "text": t}),
    binaries.map(lambda b: {"type": "websocket.receive", "bytes": b}),
    texts.map(lambda t: {"type": "websocket.receive", "text": t}),
    binaries.map(lambda b: {"type": "websocket.receive", "bytes": b}),
    disconnects(),
    st.sampled_from(
        [
            {"type": "websocket.junk"},
            {"type": "http.disconnect"},
            {"type": "websocket.receive"},
            {"type": "lifespan.startup"},
        ]
    ),
)
modes = st.sampled_from(["text", "text", "text", "binary", "binary", "bytes", ""])
raw_messages = st.one_of(
    st.builds(lambda sub: {"type": "websocket.accept", "subprotocol": sub}, st.sampled_from([None, "chat"])),
    texts.map(lambda t: {"type": "websocket.send", "text": t}),
    binaries.map(lambda b: {"type": "websocket.send", "bytes": b}),
    st.builds(lambda c, r: {"type": "websocket.close", "code": c, "reason": r}, codes, st.text(max_size=4)),
    st.builds(
        lambda s: {"type": "websocket.http.response.start", "status": s, "headers": []}, st.sampled_from([403, 500])
    ),
    st.builds(
        lambda body, more: {"type": "websocket.http.response.body", "body": body, **more},
        st.binary(max_size=3),
        st.sampled_from([{}, {"more_body": True}, {"more_body": False}]),
    ),
    st.sampled_from(
        [{"type": "websocket.junk"}, {"type": "http.response.start", "status": 200}, {"type": "websocket.connect"}]
    ),
)
receive_calls = st.one_of(
    st.just(("receive",)),
    st.just(("receive_text",)),
    st.just(("receive_bytes",)),
    modes.map(lambda m: ("receive_json", m)),
    st.sampled_from([("iter_text",), ("iter_bytes",), ("iter_json",)]),
)
send_calls = st.one_of(
    texts.map(lambda t: ("send_text", t)),
    binaries.map(lambda b: ("send_bytes", b)),
    st.tuples(st.just("send_json"), json_values, modes),
)
other_calls = st.one_of(
    st.tuples(st.just("accept"), st.sampled_from([None, "chat"]), st.sampled_from([None, [], [(b"x-a", b"1")]])),
    st.tuples(st.just("close"), close_codes, reasons),
    st.just(("close",)),
    raw_messages.map(lambda m: ("send", m)),
    st.tuples(st.just("denial"), st.text(max_size=4), st.sampled_from([403, 401])),
    st.booleans().map(lambda b: ("fail", b)),
)
# Any call, with the handshake, close and raw events often enough to walk every state.
app_calls = st.sampled_from([receive_calls, send_calls, other_calls, other_calls]).flatmap(lambda strategy: strategy)
# After accept: mostly messages, so that the open connection is explored before it closes.
open_calls = st.sampled_from([receive_calls] * 3 + [send_calls] * 2 + [other_calls]).flatmap(lambda strategy: strategy)


@SETTINGS
@given(events=st.lists(client_events, max_size=12), steps=st.lists(app_calls, max_size=14), suspend=st.booleans())
@example(
    events=[
        CONNECT,
        {"type": "websocket.receive", "bytes": b"x"},
        {"type": "websocket.receive", "text": "[1]"},
        {"type": "websocket.disconnect", "code": 1001, "reason": "bye"},
    ],
    steps=[
        ("accept", None, None),
        ("receive_text",),
        ("receive_json", "binary"),
        ("receive_json", "text"),
        ("send_text", "x"),
        ("receive_text",),
        ("receive",),
        ("close",),
        ("send_text", "y"),
    ],
    suspend=False,
)
@example(
    events=[CONNECT],
    steps=[
        ("send", {"type": "websocket.http.response.start", "status": 403, "headers": []}),
        ("send", {"type": "websocket.http.response.body", "body": b"a", "more_body": True}),
        ("send_text", "no"),
        ("send", {"type": "websocket.http.response.body", "body": b""}),
        ("accept", None, None),
        ("denial", "x", 403),
    ],
    suspend=True,
)
@example(
    events=[CONNECT, {"type": "websocket.receive", "text": "a"}, {"type": "websocket.disconnect", "code": 1000}],
    steps=[
        ("accept", "chat", [(b"x-a", b"1")]),
        ("fail", True),
        ("send_json", {"k": float("nan")}, "text"),
        ("fail", False),
        ("iter_text",),
        ("iter_text",),
    ],
    suspend=True,
)
def test_random_sequences_match_starlette(
    impl: Any, events: list[Any], steps: list[tuple[Any, ...]], suspend: bool
) -> None:
    compare(impl, events, steps, make_scope(subprotocols=["chat"]), suspend)


@SETTINGS
@given(
    events=st.lists(client_events, min_size=1, max_size=10),
    steps=st.lists(open_calls, max_size=10),
    suspend=st.booleans(),
)
def test_random_sequences_after_connect_and_accept_match_starlette(
    impl: Any, events: list[Any], steps: list[tuple[Any, ...]], suspend: bool
) -> None:
    # The common path: an accepted connection receiving and sending messages.
    compare(impl, [CONNECT, *events], [("accept", None, None), *steps], make_scope(subprotocols=["chat"]), suspend)


# -- the documented difference: an event carrying "text": None or "bytes": None ---------------------------

DOCUMENTED_STARLETTE_FAILURES = {
    # json.loads(None) and None.decode("utf-8"): what Starlette hits on a None payload in receive_json.
    ("TypeError", "the JSON object must be str, bytes or bytearray, not NoneType"),
    ("AttributeError", "'NoneType' object has no attribute 'decode'"),
}


def is_documented_difference(call: tuple[Any, ...], ours: Any, theirs: Any) -> bool:
    """fastws raises UnexpectedMessageType (a KeyError with the expected key) where Starlette, given
    a websocket.receive event whose wanted key is present but None, returns None or fails later."""
    if ours[0] != "raise" or ours[1] != "KeyError":
        return False
    key = "bytes" if call[0] == "receive_bytes" or call[1:] == ("binary",) else "text"
    if ours[2] != (key,):
        return False
    return theirs == ("ok", None) or (theirs[0] == "raise" and (theirs[1], theirs[2]) in DOCUMENTED_STARLETTE_FAILURES)


def hypercorn_style(kind: str, payload: Any) -> dict[str, Any]:
    if kind == "text":
        return {"type": "websocket.receive", "bytes": None, "text": payload}
    return {"type": "websocket.receive", "bytes": payload, "text": None}


@SETTINGS
@given(
    messages=st.lists(
        st.one_of(texts.map(lambda t: hypercorn_style("text", t)), binaries.map(lambda b: hypercorn_style("bytes", b))),
        max_size=8,
    ),
    calls=st.lists(
        st.one_of(st.just(("receive_text",)), st.just(("receive_bytes",)), modes.map(lambda m: ("receive_json", m))),
        max_size=8,
    ),
)
def test_none_payloads_differ_only_as_documented(impl: Any, messages: list[Any], calls: list[tuple[Any, ...]]) -> None:
    steps = [("accept", None, None), *calls]
    ours = run(play(impl.WebSocket, make_scope(), [CONNECT, *messages], steps))
    theirs = run(play(sw.WebSocket, make_scope(), [CONNECT, *messages], steps))
    for step, got, want in zip(steps, ours["transcript"], theirs["transcript"], strict=True):
        if got != want:
            assert got[2:] == want[2:], step  # the same states either way
            assert is_documented_difference(step, got[1], want[1]), (step, got, want)
    assert ours["sent"] == theirs["sent"] and ours["left"] == theirs["left"]


def test_none_payload_examples(impl: Any) -> None:
    # Starlette returns None from receive_text for {"text": None, "bytes": b"..."} (and yields None
    # from iter_text); fastws raises UnexpectedMessageType, which says what arrived.
    events = [CONNECT, hypercorn_style("bytes", b"x"), hypercorn_style("text", "t"), hypercorn_style("bytes", b"y")]

    async def main(cls: Any) -> list[Any]:
        server = FakeServer(copy.deepcopy(events))
        ws = cls(make_scope(), server.receive, server.send)
        await ws.accept()
        out: list[Any] = []
        for call in (ws.receive_text, ws.receive_bytes, ws.receive_json):
            try:
                out.append(("ok", await call()))
            except Exception as exc:  # noqa: BLE001
                out.append((type(exc), str(exc)))
        return out

    theirs = run(main(sw.WebSocket))
    assert theirs[0] == ("ok", None) and theirs[1] == ("ok", None)
    assert theirs[2][0] is TypeError
    ours = run(main(impl.WebSocket))
    assert ours == [
        (
            fastws.UnexpectedMessageType,
            "Expected a text message (ASGI key 'text') but received a binary (bytes) message.",
        ),
        (
            fastws.UnexpectedMessageType,
            "Expected a binary (bytes) message (ASGI key 'bytes') but received a text message.",
        ),
        (
            fastws.UnexpectedMessageType,
            "Expected a text message (ASGI key 'text') but received a binary (bytes) message.",
        ),
    ]


def test_none_payload_in_iter_text(impl: Any) -> None:
    events = [
        CONNECT,
        hypercorn_style("text", "a"),
        hypercorn_style("bytes", b"b"),
        {"type": "websocket.disconnect", "code": 1000},
    ]

    async def main(cls: Any) -> tuple[list[Any], Any]:
        server = FakeServer(copy.deepcopy(events))
        ws = cls(make_scope(), server.receive, server.send)
        await ws.accept()
        items: list[Any] = []
        try:
            async for item in ws.iter_text():
                items.append(item)
        except KeyError as exc:
            return items, exc
        return items, None

    assert run(main(sw.WebSocket)) == (["a", None], None)
    items, exc = run(main(impl.WebSocket))
    assert items == ["a"] and isinstance(exc, fastws.UnexpectedMessageType) and exc.args == ("text",)
