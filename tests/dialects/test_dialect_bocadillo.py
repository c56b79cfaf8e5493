"""fastws.dialects.bocadillo against bocadillo.websockets.WebSocket 0.18.3 (on Starlette 0.12, so
these run in their own virtual environment: .ci/bocadillo). Scripted conversations give the same
results, exceptions and sent messages on both implementations; the reject() choice; install()
with a Bocadillo app. Without Bocadillo installed, the look-alike behaviour is checked alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from dialect_harness import CONNECT, binary, converse, disconnect, text
from dialect_scripts import accept, call

from fastws.dialects import bocadillo as dialect

SCOPE = {"type": "websocket", "path": "/ws", "query_string": b"", "headers": [], "path_params": {}}


async def states(ws: Any) -> Any:
    return [(type(s), s.name) for s in (ws.client_state, ws.application_state)]


async def take(iterator: Any, n: int) -> list[Any]:
    out = []
    async for item in iterator:
        out.append(item)
        if len(out) == n:
            break
    return out


async def in_context(ws: Any, body: Any) -> Any:
    async with ws:
        return await body(ws)


SCRIPTS: dict[str, tuple[dict[str, Any], list[Any], list[Any]]] = {
    "typed_text": (
        {},
        [CONNECT, text("hi"), text("ü"), disconnect(1001)],
        [
            states,
            accept(),
            call("receive"),
            call("send", "x"),
            call("receive_text"),
            call("receive"),
            states,
            call("receive"),
            call("send_text", "still"),
        ],
    ),
    "typed_json_value_type": (
        {"value_type": "json"},
        [CONNECT, text('{"a": [1, null]}'), text("[1,"), disconnect(1000)],
        [accept("chat"), call("receive"), call("send", {"b": "ü", "a": [1, None]}), call("receive"), call("receive")],
    ),
    "typed_bytes_receive_send_types": (
        {"receive_type": "bytes", "send_type": "json"},
        [CONNECT, binary(b"\x00"), text("t")],
        [accept(), call("receive"), call("send", [1, 2]), call("receive"), call("send_bytes", b"b")],
    ),
    "events_and_close": (
        {},
        [CONNECT, text("e")],
        [
            call("receive_event"),
            call("send_event", {"type": "websocket.accept"}),
            call("receive_event"),
            call("close", 4001),
            states,
            call("send", "late"),
            call("ensure_closed"),
            call("close"),
        ],
    ),
    "misuse_before_accept": (
        {},
        [CONNECT, text("early")],
        [
            call("receive"),
            call("receive_bytes"),
            call("receive_json"),
            call("send", "x"),
            call("send_json", {}),
            states,
            call("receive_event"),
            states,
        ],
    ),
    "reject_before_accept": (
        {},
        [CONNECT],
        [call("reject"), states, call("accept"), call("ensure_closed"), states],
    ),
    "context_manager_caught_close": (
        {},
        [CONNECT, text("a"), disconnect(1001)],
        [lambda ws: in_context(ws, lambda w: take(w, 5)), states],
    ),
    "context_manager_uncaught_close": (
        {"caught_close_codes": (1000,)},
        [CONNECT, text("a"), disconnect(1001)],
        [lambda ws: in_context(ws, lambda w: take(w, 5)), states],
    ),
    "context_manager_all_codes_and_normal_exit": (
        {"caught_close_codes": all},
        [CONNECT, text("a"), disconnect(4000)],
        [lambda ws: in_context(ws, lambda w: w.receive()), states],
    ),
    "context_manager_error_closes_1011": (
        {},
        [CONNECT, text("not json")],
        [lambda ws: in_context(ws, lambda w: w.receive_json()), states],
    ),
    "iteration": (
        {},
        [CONNECT, text("1"), text("2"), text("3")],
        [accept(), lambda ws: take(ws, 2), call("receive")],
    ),
    "wrong_kind": (
        {},
        [CONNECT, binary(b"x")],
        [accept(), call("receive")],
    ),
}


def make_reference(kwargs: dict[str, Any]) -> Any:
    import bocadillo.websockets as bw

    return lambda server: bw.WebSocket(dict(SCOPE), server.receive, server.send, **kwargs)


@pytest.fixture
def cls(impl: Any) -> Any:
    return dialect.build(impl.WebSocket)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_scripted_conversation(cls: Any, name: str) -> None:
    pytest.importorskip("bocadillo")
    from dialect_harness import assert_same

    kwargs, events, steps = SCRIPTS[name]
    assert_same(
        make_reference(kwargs), lambda server: cls(dict(SCOPE), server.receive, server.send, **kwargs), events, steps
    )


def test_reject_after_accept_sends_1008(cls: Any) -> None:
    """Bocadillo's reject() after accept sends close code 403 (invalid on the wire); the dialect
    sends 1008 Policy Violation instead (docs/dialects.md)."""
    results, sent = converse(
        lambda s: cls(dict(SCOPE), s.receive, s.send), [CONNECT], [accept(), call("reject"), states]
    )
    assert sent[-1] == {"type": "websocket.close", "code": 1008}
    assert results[2][1][1] == (type(dialect.WebSocketState.DISCONNECTED), "DISCONNECTED")
    results, sent = converse(lambda s: cls(dict(SCOPE), s.receive, s.send), [CONNECT], [call("reject")])
    assert sent == [{"type": "websocket.close", "code": 403}]


def test_look_alike_behaviour(cls: Any) -> None:
    # Holds with or without Bocadillo installed.
    results, sent = converse(
        lambda s: cls(dict(SCOPE), s.receive, s.send, value_type="json"),
        [CONNECT, text('{"a": 1}'), disconnect(1000)],
        [lambda ws: in_context(ws, lambda w: take(w, 3)), states],
    )
    assert sent == [{"type": "websocket.accept", "subprotocol": None}]
    assert results[0] == ("ok", None)  # the 1000 disconnect was silenced by `async with`
    assert results[1][1][0] == (dialect.WebSocketState, "DISCONNECTED")


def test_failing_send_raises_the_oserror(cls: Any) -> None:
    async def main() -> None:
        async def receive() -> Any:
            return CONNECT

        async def send(message: Any) -> None:
            if message["type"] == "websocket.send":
                raise ConnectionResetError("gone")

        ws = cls(dict(SCOPE), receive, send)
        await ws.accept()
        with pytest.raises(ConnectionResetError):
            await ws.send("x")

    asyncio.run(main())


BOCADILLO_APP = """
import fastws, fastws.dialects.bocadillo as dialect
assert dialect.install() and dialect.install() == []
from bocadillo import App, configure, create_client

app = configure(App())
seen = []

@app.websocket_route("/ws/{room}", value_type="json")
async def echo(ws, room):
    seen.append(type(ws))
    async for message in ws:
        await ws.send({"room": room, "echo": message})

with create_client(app) as client:
    with client.websocket_connect("/ws/lobby") as ws:
        ws.send_json({"n": 1})
        assert ws.receive_json() == {"room": "lobby", "echo": {"n": 1}}
assert seen == [dialect.WebSocket], seen
print("OK", fastws.IMPLEMENTATION)
"""


@pytest.mark.parametrize("implementation", ["cython", "python"])
def test_install_serves_a_bocadillo_app(implementation: str, request: pytest.FixtureRequest) -> None:
    pytest.importorskip("bocadillo")
    if implementation == "cython" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    from dialect_harness import run_snippet

    out = run_snippet(
        BOCADILLO_APP, implementation, warnings=["ignore::DeprecationWarning", "ignore::PendingDeprecationWarning"]
    )
    assert out.split()[-2:] == ["OK", implementation]
