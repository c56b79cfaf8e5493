"""fastws.dialects.yaat against yaat.websockets.WebSocket 0.1.10: scripted conversations give the
same results, exceptions (Yaat's own classes; its asserts), states and sent messages on both
implementations; Yaat's DISCONNECTED bug and fastws's choice; install() with Yaat's app."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("yaat")

import yaat.websockets as yw  # noqa: E402
from dialect_harness import CONNECT, assert_same, binary, collect, converse, disconnect, run_snippet, text  # noqa: E402
from dialect_scripts import accept, call  # noqa: E402
from yaat.exceptions import WebSocketException  # noqa: E402

from fastws.dialects import yaat as dialect  # noqa: E402

SCOPE = {"type": "websocket", "path": "/ws", "query_string": b"", "headers": [], "path_params": {}}


async def states(ws: Any) -> Any:
    return [(type(s), s.name) for s in (ws.client_state, ws.server_state)]


SCRIPTS: dict[str, tuple[list[Any], list[Any]]] = {
    "text_and_disconnect": (
        [CONNECT, text("hi"), text("ünï"), disconnect(1001, "bye")],
        [
            states,
            accept(),
            states,
            call("receive_text"),
            call("receive_text"),
            call("send_text", "x"),
            call("receive_text"),
            call("send_text", "still open"),
        ],
    ),
    "bytes_and_json_modes": (
        [CONNECT, binary(b"\x00"), text('{"a": [1, null]}'), binary(b'{"b": 2}'), text("[1,"), disconnect(1000)],
        [
            accept("chat"),
            call("receive_bytes"),
            call("receive_json"),
            call("receive_json", mode="bytes"),
            call("receive_json"),
            call("send_bytes", b"\x01"),
            call("send_json", {"b": "ü", "a": [1, None]}),
            call("send_json", [1, 2], mode="bytes"),
            call("send_json", 1, mode="binary"),
            call("receive_json", mode="binary"),
            call("receive_bytes"),
        ],
    ),
    "wrong_kind": (
        [CONNECT, binary(b"x"), text("y")],
        [accept(), call("receive_text"), call("receive_bytes"), states],
    ),
    "close_and_misuse_after": (
        [CONNECT],
        [accept(), call("close", 4001), states, call("send_text", "late"), call("close"), call("accept")],
    ),
    "close_default": (
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
            call("send_json", {}),
            states,
            call("receive"),
            call("receive"),
            states,
        ],
    ),
    "denial_by_close": (
        [CONNECT],
        [call("close", 1008), states, call("send_text", "x"), states],
    ),
    "double_accept": (
        [CONNECT],
        [accept(), accept(), states],
    ),
    "raw_events": (
        [CONNECT, text("t")],
        [
            call("receive"),
            call("send", {"type": "websocket.accept"}),
            call("receive"),
            call("send", {"type": "websocket.send", "text": "z"}),
            call("send", {"type": "websocket.close", "code": 1000}),
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
}


@pytest.fixture
def cls(impl: Any) -> Any:
    return dialect.build(impl.WebSocket)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_scripted_conversation(cls: Any, name: str) -> None:
    events, steps = SCRIPTS[name]
    assert_same(
        lambda server: yw.WebSocket(dict(SCOPE), server.receive, server.send),
        lambda server: cls(dict(SCOPE), server.receive, server.send),
        events,
        steps,
    )


def test_disconnected_state_is_reached_unlike_yaat(cls: Any) -> None:
    """Yaat's typo (``self.cleint_state``) keeps its client state CONNECTED after a disconnect, so
    its next receive awaits the server again; fastws's dialect reaches DISCONNECTED and raises
    Yaat's own "Cannot 'receive' when disconnected" instead (docs/dialects.md)."""
    events = [CONNECT, disconnect(1001), text("after")]
    steps = [accept(), call("receive_text"), states, call("receive_text")]
    theirs, _ = converse(lambda s: yw.WebSocket(dict(SCOPE), s.receive, s.send), events, steps)
    ours, _ = converse(lambda s: cls(dict(SCOPE), s.receive, s.send), events, steps)
    assert theirs[2] == ("ok", [(yw.WebSocketStates, "CONNECTED")] * 2)
    assert theirs[3] == ("ok", "after")
    assert ours[:2] == theirs[:2]
    assert ours[2] == ("ok", [(yw.WebSocketStates, "DISCONNECTED"), (yw.WebSocketStates, "CONNECTED")])
    assert ours[3][0] == "raised" and ours[3][1][:2] == (WebSocketException, "Cannot 'receive' when disconnected")


def test_server_state_assignable_and_iteration_extra(cls: Any) -> None:
    results, sent = converse(
        lambda s: cls(dict(SCOPE), s.receive, s.send),
        [CONNECT, text("a"), text("b"), disconnect(1000)],
        [accept(), lambda ws: collect(ws.iter_text()), states],
    )
    assert results[1] == ("ok", ["a", "b"])
    ws = cls(dict(SCOPE), None, None)
    ws.server_state = yw.WebSocketStates.CONNECTED
    assert ws.application_state is yw.WebSocketStates.CONNECTED


INFO_SCOPES = {
    "host_header": {
        "scheme": "wss",
        "server": ("10.0.0.1", 8443),
        "root_path": "/api",
        "query_string": b"a=1&a=2&b=&c=x%20y",
        "headers": [(b"host", b"example.com"), (b"x-m", b"1"), (b"x-m", b"2"), (b"cookie", b"k=v; s=t")],
        "client": ("1.2.3.4", 5555),
        "app": "APP",
    },
    "server_only": {
        "scheme": "ws",
        "server": ("srv", 80),
        "query_string": b"",
        "headers": [(b"X-Up", b"A")],
    },
    "odd_port": {"scheme": "ws", "server": ("srv", 8000), "query_string": b"q=1", "headers": []},
    "bare": {},
}
INFO = {
    "url": lambda ws: str(ws.url),
    "url.url": lambda ws: ws.url.url,
    "url.host": lambda ws: ws.url.host,
    "url.port": lambda ws: ws.url.port,
    "url.server": lambda ws: ws.url.server,
    "url.scheme": lambda ws: ws.url.scheme,
    "url.path": lambda ws: ws.url.path,
    "url.query": lambda ws: ws.url.query,
    "url.netloc": lambda ws: ws.url.netloc,
    "url.is_secure()": lambda ws: ws.url.is_secure(),
    "headers": lambda ws: dict(ws.headers.items()),
    "headers[x-m]": lambda ws: ws.headers["x-m"],
    "query_params": lambda ws: dict(ws.query_params.items()),
    "query_params[a]": lambda ws: ws.query_params["a"],
    "query_params.get(c)": lambda ws: ws.query_params.get("c"),
    "cookies": lambda ws: ws.cookies,
    "client": lambda ws: str(ws.client),
    "app": lambda ws: ws.app,
    "path": lambda ws: ws.path,
    "method": lambda ws: ws.method,
}


def _info(fn: Any) -> Any:
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - every exception is an outcome to compare
        return ("raised", type(exc), str(exc))


@pytest.mark.parametrize("scope_name", sorted(INFO_SCOPES))
@pytest.mark.parametrize("member", sorted(INFO))
def test_connection_info_as_yaats(cls: Any, scope_name: str, member: str) -> None:
    # Issue 18: Yaat's HTTPConnection info, differential against yaat.websockets.WebSocket.
    scope = {**SCOPE, **INFO_SCOPES[scope_name]}
    ours = _info(lambda: INFO[member](cls(dict(scope), None, None)))
    theirs = _info(lambda: INFO[member](yw.WebSocket(dict(scope), None, None)))
    assert ours == theirs


def test_repeated_query_key_and_header_as_yaat(cls: Any) -> None:
    scope = {**SCOPE, **INFO_SCOPES["host_header"]}
    ws = cls(dict(scope), None, None)
    assert ws.query_params["a"] == ["1", "2"]  # Yaat's list, not Starlette's last value
    assert ws.headers["x-m"] == "2"  # Yaat's dict keeps the last
    assert ws.url.is_secure() is True and ws.url.host == "10.0.0.1"  # Yaat: from server, not Host
    assert str(ws.url) == "wss://example.com/api/ws?a=1&a=2&b=&c=x%20y"


def test_failing_send_raises_the_oserror_as_yaat(cls: Any) -> None:
    async def main(make: Any) -> None:
        async def receive() -> Any:
            return CONNECT

        async def send(message: Any) -> None:
            if message["type"] == "websocket.send":
                raise ConnectionResetError("gone")

        ws = make(dict(SCOPE), receive, send)
        await ws.accept()
        with pytest.raises(ConnectionResetError):
            await ws.send_text("x")

    asyncio.run(main(yw.WebSocket))
    asyncio.run(main(cls))


YAAT_APP = """
import asyncio, fastws, fastws.dialects.yaat as dialect
assert dialect.install() and dialect.install() == []
from yaat import Yaat
from yaat.websockets import WebSocket, WebSocketDisconnect

app = Yaat()
seen = []

@app.websocket_route("/ws")
async def echo(websocket: WebSocket):
    seen.append(type(websocket))
    await websocket.accept()
    try:
        while True:
            await websocket.send_text("echo " + await websocket.receive_text())
    except WebSocketDisconnect as exc:
        seen.append(exc.code)

async def main():
    events = [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "hi"},
              {"type": "websocket.disconnect", "code": 1000}]
    sent = []
    async def receive():
        return events.pop(0)
    async def send(message):
        sent.append(message)
    scope = {"type": "websocket", "path": "/ws", "root_path": "", "query_string": b"", "headers": [],
             "scheme": "ws", "server": ("t", 80)}
    await app(scope, receive, send)
    return sent

sent = asyncio.run(main())
assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send"], sent
assert sent[1]["text"] == "echo hi"
assert seen == [dialect.WebSocket, 1000], seen
print("OK", fastws.IMPLEMENTATION)
"""


@pytest.mark.parametrize("implementation", ["cython", "python"])
def test_install_serves_a_yaat_app(implementation: str, request: pytest.FixtureRequest) -> None:
    if implementation == "cython" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    # Yaat imports the old `multipart` module name, which warns on import.
    out = run_snippet(YAAT_APP, implementation, warnings=["ignore::PendingDeprecationWarning"])
    assert out.split()[-2:] == ["OK", implementation]


def test_fastws_app_builds_yaats_class_and_mounts_a_yaat_router() -> None:
    # Issue 18: fastws.App is the Yaat routing API (Yaat docs, "Mounting WebSocket Routes"): it
    # builds the Yaat dialect's class by default and mount(..., websocket=True) takes a Yaat router.
    from yaat.routing import Router

    import fastws

    seen: list[Any] = []

    async def chat(websocket: Any) -> None:
        seen.append((type(websocket), dict(websocket.path_params), websocket.query_params.get("a")))
        await websocket.accept()
        await websocket.send_text("hi " + await websocket.receive_text())
        await websocket.close(dialect.WebSocketCloseEvent.NORMAL_CLOSURE)

    router = Router()
    router.add_websocket_route("/chat/{name}", chat)
    app = fastws.App()
    app.mount(prefix="ws", router=router, websocket=True)

    async def main(path: str) -> list[Any]:
        events = [CONNECT, text("bob")]
        sent: list[Any] = []

        async def receive() -> Any:
            return events.pop(0) if events else {"type": "websocket.disconnect", "code": 1000}

        async def send(message: Any) -> None:
            sent.append(message)

        scope = {**SCOPE, "path": path, "query_string": b"a=1&a=2", "headers": [], "server": ("h", 80)}
        await app(scope, receive, send)
        return sent

    sent = asyncio.run(main("/ws/chat/ann"))
    assert sent == [
        {"type": "websocket.accept", "subprotocol": None},  # Yaat's accept: no headers key
        {"type": "websocket.send", "text": "hi bob"},
        {"type": "websocket.close", "code": 1000},  # Yaat's close: no reason
    ]
    assert seen == [(dialect.WebSocket, {"name": "ann"}, ["1", "2"])]
    # An unknown path under the mount is denied before accept (HTTP 403 from the server).
    assert asyncio.run(main("/ws/nothing")) == [{"type": "websocket.close", "code": 1000, "reason": ""}]
    with pytest.raises(TypeError, match="fastws.App or a Yaat router"):
        app.mount("x", object(), websocket=True)
