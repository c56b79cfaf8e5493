"""fastws.dialects.lilya against lilya.websockets.WebSocket 0.29.0: the scripted conversations of
``dialect_scripts`` give the same results, exceptions (Lilya's own classes and messages), states
(Lilya's IntEnum) and sent messages on both implementations; plus Lilya's extras."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("lilya")

import lilya.websockets as lw  # noqa: E402
from dialect_harness import CONNECT, Server, assert_same, converse, text  # noqa: E402
from dialect_scripts import SCRIPTS, call, states  # noqa: E402
from lilya.datastructures import Header, QueryParam  # noqa: E402
from lilya.enums import WebSocketState  # noqa: E402
from lilya.exceptions import WebSocketRuntimeError  # noqa: E402

from fastws.dialects import lilya as dialect  # noqa: E402

SCOPE = {
    "type": "websocket",
    "path": "/ws",
    "query_string": b"a=1&a=2&b=x",
    "headers": [(b"host", b"h"), (b"cookie", b"k=v; s=t"), (b"x-m", b"1"), (b"x-m", b"2")],
    "path_params": {"room": "r"},
}


@pytest.fixture
def cls(impl: Any) -> Any:
    return dialect.build(impl.WebSocket)


LILYA_SCRIPTS = {
    **SCRIPTS,
    "accept_with_bad_first_event": ([text("no connect"), CONNECT], [call("accept"), states, call("accept"), states]),
    "accept_after_client_disconnect": (
        [CONNECT, text("x"), {"type": "websocket.disconnect", "code": 1000}],
        [call("receive"), call("receive"), call("receive"), states, call("accept"), states],
    ),
}


@pytest.mark.parametrize("name", sorted(LILYA_SCRIPTS))
def test_scripted_conversation(cls: Any, name: str) -> None:
    events, steps = LILYA_SCRIPTS[name]
    assert_same(
        lambda server: lw.WebSocket(dict(SCOPE), server.receive, server.send),
        lambda server: cls(dict(SCOPE), server.receive, server.send),
        events,
        steps,
    )


def test_states_and_errors_are_lilyas(cls: Any) -> None:
    results, _ = converse(
        lambda server: cls(dict(SCOPE), server.receive, server.send),
        [CONNECT, text("x")],
        [states, call("receive_text"), call("accept"), states],
    )
    assert results[0] == ("ok", [(WebSocketState, "CONNECTING")] * 2)
    assert results[1][1][0] is WebSocketRuntimeError
    assert results[3] == ("ok", [(WebSocketState, "CONNECTED")] * 2)


def test_connection_info_uses_lilyas_multidicts(cls: Any) -> None:
    server = Server([])
    ours = cls(dict(SCOPE), server.receive, server.send)
    theirs = lw.WebSocket(dict(SCOPE), server.receive, server.send)
    assert type(ours.headers) is Header and type(ours.query_params) is QueryParam
    assert ours.headers.getall("x-m") == theirs.headers.getall("x-m") == ["1", "2"]
    assert ours.query_params.getall("a") == theirs.query_params.getall("a")
    assert ours.cookies == theirs.cookies == {"k": "v", "s": "t"}
    assert ours.path_params == theirs.path_params == {"room": "r"}
    assert str(ours.url) == str(theirs.url)


def _outcome(fn: Any) -> Any:
    # What a member gives: ("ok", value as text) or ("raised", class, str(exc)).
    try:
        value = fn()
    except Exception as exc:  # noqa: BLE001 - every exception is an outcome to compare
        return ("raised", type(exc), str(exc))
    return ("ok", type(value).__name__, str(value))


def _lilya_app() -> Any:
    from lilya.apps import Lilya
    from lilya.routing import WebSocketPath

    async def room(websocket: Any) -> None:  # pragma: no cover - only its URL is built
        pass

    return Lilya(routes=[WebSocketPath("/ws/{room}", room, name="room")])


EXTRA_SCOPES = {
    "bare": {},
    "full": {
        "app": "APP",
        "server": ("10.0.0.1", 8443),
        "scheme": "wss",
        "auth": "creds",
        "user": "ann",
        "session": {"k": 1},
        "server_push": True,
        "root_path": "/api",
    },
    "app_root_path": {"scheme": "ws", "server": ("h", 80), "root_path": "/x", "app_root_path": "/y"},
    "no_host_header": {"headers": [], "server": ("srv", 8000), "scheme": "ws"},
}
MEMBERS = {
    "app": lambda ws: ws.app,
    "server": lambda ws: ws.server,
    "auth": lambda ws: ws.auth,
    "user": lambda ws: ws.user,
    "session": lambda ws: ws.session,
    "is_server_push": lambda ws: ws.is_server_push,
    "is_server_pull": lambda ws: ws.is_server_pull,
    "is_secure": lambda ws: ws.is_secure(),
    "url": lambda ws: ws.url,
    "base_url": lambda ws: ws.base_url,
    "url_path_for": lambda ws: ws.url_path_for("room", room="r1"),
    "path_for": lambda ws: ws.path_for("room", room="r1"),
    "client": lambda ws: ws.client,
}


@pytest.mark.parametrize("scope_name", sorted(EXTRA_SCOPES))
@pytest.mark.parametrize("member", sorted(MEMBERS))
def test_connection_extras_as_lilyas(cls: Any, scope_name: str, member: str) -> None:
    # Issue 18: Lilya's Connection members, differential against lilya.websockets.WebSocket.
    scope = {**SCOPE, **EXTRA_SCOPES[scope_name]}
    if member.endswith("path_for") and scope.get("app") == "APP":
        scope["app"] = _lilya_app()
    server = Server([])
    ours = _outcome(lambda: MEMBERS[member](cls(dict(scope), server.receive, server.send)))
    theirs = _outcome(lambda: MEMBERS[member](lw.WebSocket(dict(scope), server.receive, server.send)))
    assert ours == theirs


def test_url_for_is_lilyas_path_for(cls: Any) -> None:
    # Lilya 0.29's class has no url_for; the dialect's is path_for (docs/dialects.md).
    server = Server([])
    scope = {**SCOPE, "app": _lilya_app(), "scheme": "ws"}
    ours = cls(dict(scope), server.receive, server.send)
    theirs = lw.WebSocket(dict(scope), server.receive, server.send)
    assert str(ours.url_for("room", room="a")) == str(theirs.path_for("room", room="a")) == "ws://h/ws/a"
    assert not hasattr(theirs, "url_for")


def test_set_and_clear_session_as_lilyas(cls: Any) -> None:
    server = Server([])
    for make in (cls, lw.WebSocket):
        ws = make(dict(SCOPE), server.receive, server.send)
        ws.set_session({"user": 1})
        assert ws.session == {"user": 1} and ws.scope["session"] == {"user": 1}
        ws.clear_session()
        assert ws.scope["session"] is None and ws.session is None


def test_send_denial_response_without_the_extension_raises_runtimeerror(cls: Any) -> None:
    # Lilya docs, WebSockets, "Send Denial Response": without the server extension, RuntimeError;
    # an app that catches it can fall back to its own close code.
    from lilya.responses import PlainText as PlainTextResponse

    async def main() -> Any:
        server = Server([CONNECT])
        ws = cls(dict(SCOPE), server.receive, server.send)
        try:
            await ws.send_denial_response(PlainTextResponse("no", status_code=401))
        except RuntimeError as exc:
            await ws.close(4001)
            return str(exc), server.sent
        raise AssertionError("no RuntimeError")

    message, sent = asyncio.run(main())
    assert "Denial Response" in message
    assert sent == [{"type": "websocket.close", "code": 4001, "reason": ""}]


def test_send_denial_response_with_the_extension(cls: Any) -> None:
    from lilya.responses import PlainText as PlainTextResponse

    async def main() -> Any:
        server = Server([CONNECT])
        ws = cls(dict(SCOPE, extensions={"websocket.http.response": {}}), server.receive, server.send)
        await ws.send_denial_response(PlainTextResponse("no", status_code=401))
        return server.sent

    sent = asyncio.run(main())
    assert [m["type"] for m in sent] == ["websocket.http.response.start", "websocket.http.response.body"]
    assert sent[0]["status"] == 401 and sent[1]["body"] == b"no"


def test_failing_send_raises_the_oserror_as_lilya(cls: Any) -> None:
    async def main(make: Any) -> str:
        async def receive() -> Any:
            return CONNECT

        async def send(message: Any) -> None:
            if message["type"] == "websocket.send":
                raise ConnectionResetError("gone")

        ws = make(dict(SCOPE), receive, send)
        await ws.accept()
        with pytest.raises(ConnectionResetError):
            await ws.send_json({"a": 1})
        return ws.application_state.name

    # Lilya keeps the state CONNECTED after a failed send; fastws marks it DISCONNECTED (as
    # Starlette does), so a later send raises "Cannot call "send" once a close message..." (docs/dialects.md).
    assert asyncio.run(main(lw.WebSocket)) == "CONNECTED"
    assert asyncio.run(main(cls)) == "DISCONNECTED"


def test_cleanup_callbacks_run_after_close(cls: Any) -> None:
    async def main(make: Any) -> list[Any]:
        server = Server([CONNECT])
        ws = make(dict(SCOPE), server.receive, server.send)
        ran: list[Any] = []

        async def later() -> None:
            ran.append(("async", len(server.sent)))

        ws.add_cleanup(lambda: ran.append(("sync", len(server.sent))))
        ws.add_cleanup(later)
        await ws.accept()
        await ws.close(1001)
        return ran

    assert asyncio.run(main(cls)) == asyncio.run(main(lw.WebSocket)) == [("sync", 2), ("async", 2)]


LILYA_APP = """
import fastws, fastws.dialects.lilya as dialect
assert dialect.install() and dialect.install() == []
from lilya.apps import Lilya
from lilya.routing import WebSocketPath
from lilya.testclient import TestClient
from lilya.websockets import WebSocket, WebSocketDisconnect

seen = []

async def echo(websocket: WebSocket) -> None:
    seen.append(type(websocket))
    await websocket.accept()
    try:
        while True:
            data = await websocket.receive_json()
            await websocket.send_json({"echo": data, "room": websocket.path_params["room"]})
    except WebSocketDisconnect as exc:
        seen.append(exc.code)

app = Lilya(routes=[WebSocketPath("/ws/{room}", echo)])
with TestClient(app) as client:
    with client.websocket_connect("/ws/lobby") as ws:
        ws.send_json({"n": 1})
        assert ws.receive_json() == {"echo": {"n": 1}, "room": "lobby"}
assert seen == [dialect.WebSocket, 1000], seen
print("OK", fastws.IMPLEMENTATION)
"""


@pytest.mark.parametrize("implementation", ["cython", "python"])
def test_install_serves_a_lilya_app(implementation: str, request: pytest.FixtureRequest) -> None:
    if implementation == "cython" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    from dialect_harness import run_snippet

    assert run_snippet(LILYA_APP, implementation).split()[-2:] == ["OK", implementation]
