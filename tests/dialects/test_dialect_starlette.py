"""fastws.dialects.starlette against starlette.websockets.WebSocket 1.10.0: the scripted
conversations of ``dialect_scripts`` give the same results, exceptions (Starlette's own classes)
and sent messages on both implementations; ``install()`` makes Starlette and FastAPI apps build
fastws's class (checked in a subprocess, since it rebinds module globals for the whole process)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import starlette.websockets as sw
from dialect_harness import CONNECT, assert_same, disconnect, text
from dialect_scripts import SCRIPTS

from fastws.dialects import starlette as dialect

# The client offers "chat", the subprotocol the scripts accept (fastws rejects one not offered).
SCOPE = {
    "type": "websocket",
    "path": "/ws",
    "query_string": b"",
    "headers": [],
    "path_params": {},
    "subprotocols": ["chat"],
}


@pytest.fixture
def cls(impl: Any) -> Any:
    return dialect.build(impl.WebSocket)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_scripted_conversation(cls: Any, name: str) -> None:
    events, steps = SCRIPTS[name]
    assert_same(
        lambda server: sw.WebSocket(dict(SCOPE), server.receive, server.send),
        lambda server: cls(dict(SCOPE), server.receive, server.send),
        events,
        steps,
    )


def test_exception_identity(cls: Any) -> None:
    import asyncio

    async def main() -> None:
        events = [CONNECT, text("a"), disconnect(1001, "bye")]

        async def receive() -> Any:
            return events.pop(0)

        async def send(message: Any) -> None:
            pass

        ws = cls(dict(SCOPE), receive, send)
        with pytest.raises(sw.WebSocketDisconnected):
            await ws.receive_text()
        await ws.accept()
        assert ws.application_state is sw.WebSocketState.CONNECTED
        assert await ws.receive_text() == "a"
        with pytest.raises(sw.WebSocketDisconnect) as info:
            await ws.receive_text()
        assert (info.value.code, info.value.reason) == (1001, "bye")
        assert ws.client_state is sw.WebSocketState.DISCONNECTED
        ws.client_state = sw.WebSocketState.CONNECTED  # assignable with Starlette's members
        assert ws.client_state is sw.WebSocketState.CONNECTED

    asyncio.run(main())


def test_build_is_cached_and_named(impl: Any) -> None:
    assert dialect.build(impl.WebSocket) is dialect.build(impl.WebSocket)
    assert dialect.build(impl.WebSocket).__name__ == "WebSocket"
    assert issubclass(dialect.build(impl.WebSocket), impl.WebSocket)


FASTAPI_APP = textwrap.dedent(
    """
    import asyncio, json, socket, sys, threading, time

    import fastws.dialects.starlette as dialect
    assert dialect.install(), "nothing rebound"
    assert dialect.install() == [], "install() is not idempotent"

    from fastapi import FastAPI, WebSocket, WebSocketDisconnect
    from fastapi.testclient import TestClient
    import starlette.websockets

    app = FastAPI()
    seen = []

    @app.websocket("/typed")
    async def typed(websocket: WebSocket, q: int):
        await websocket.accept()
        await websocket.send_json({"q": q})
        await websocket.close()

    @app.websocket("/ws/{room}")
    async def ws_endpoint(websocket: WebSocket, room: str):
        seen.append(type(websocket))
        await websocket.accept()
        try:
            while True:
                data = await websocket.receive_json()
                await websocket.send_json({"room": room, "echo": data, "type": type(websocket).__module__})
        except starlette.websockets.WebSocketDisconnect as exc:
            seen.append(("disconnect", exc.code))

    with TestClient(app) as client:
        # FastAPI's validation error closes before accept with a list as the reason (issue 18).
        try:
            with client.websocket_connect("/typed?q=notint"):
                raise AssertionError("a query parameter failing validation was accepted")
        except WebSocketDisconnect as exc:
            assert exc.code == 1008 and isinstance(exc.reason, list), (exc.code, exc.reason)
        with client.websocket_connect("/typed?q=7") as ws:
            assert ws.receive_json() == {"q": 7}
        with client.websocket_connect("/ws/lobby") as ws:
            ws.send_json({"n": 1})
            assert ws.receive_json() == {"room": "lobby", "echo": {"n": 1}, "type": "fastws.dialects.starlette"}
    assert seen[0] is dialect.WebSocket, seen
    assert seen[1] == ("disconnect", 1000), seen

    # A plain Starlette app: a class-based endpoint behind the exception middleware.
    from starlette.applications import Starlette
    from starlette.endpoints import WebSocketEndpoint
    from starlette.routing import WebSocketRoute

    class Echo(WebSocketEndpoint):
        encoding = "text"

        async def on_connect(self, websocket):
            seen.append(type(websocket))
            await websocket.accept()

        async def on_receive(self, websocket, data):
            await websocket.send_text("echo " + data)

    seen.clear()
    with TestClient(Starlette(routes=[WebSocketRoute("/e", Echo)])) as client:
        with client.websocket_connect("/e") as ws:
            ws.send_text("x")
            assert ws.receive_text() == "echo x"
    assert seen == [dialect.WebSocket], seen

    # The same app under uvicorn, driven by a real websockets client.
    import uvicorn
    from websockets.sync.client import connect

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    seen.clear()
    with connect(f"ws://127.0.0.1:{port}/ws/real", open_timeout=5) as client:
        client.send(json.dumps({"n": 2}))
        reply = json.loads(client.recv(timeout=5))
        assert reply == {"room": "real", "echo": {"n": 2}, "type": "fastws.dialects.starlette"}
    deadline = time.monotonic() + 5
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    from websockets.exceptions import InvalidStatus
    try:
        with connect(f"ws://127.0.0.1:{port}/typed?q=notint", open_timeout=5):
            raise AssertionError("a query parameter failing validation was accepted")
    except InvalidStatus as exc:
        assert exc.response.status_code == 403, exc.response.status_code  # not 500
    server.should_exit = True
    thread.join(5)
    assert seen[0] is dialect.WebSocket and seen[1][0] == "disconnect", seen
    import fastws
    print("OK", fastws.IMPLEMENTATION)
    """
)


@pytest.mark.e2e
@pytest.mark.parametrize("implementation", ["cython", "python"])
def test_fastapi_install_testclient_and_uvicorn(implementation: str, request: pytest.FixtureRequest) -> None:
    if implementation == "cython" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    env = dict(os.environ)
    env.pop("FASTWS_NO_EXTENSIONS", None)
    if implementation == "python":
        env["FASTWS_NO_EXTENSIONS"] = "1"
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", FASTAPI_APP],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=Path(__file__).parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split()[-2:] == ["OK", implementation]


def test_denial_response_with_the_extension(cls: Any) -> None:
    from starlette.responses import PlainTextResponse

    scope = dict(SCOPE, extensions={"websocket.http.response": {}})

    async def deny(ws: Any) -> None:
        await ws.send_denial_response(PlainTextResponse("go away", status_code=401))

    async def states(ws: Any) -> Any:
        return [s for s in (ws.client_state, ws.application_state)]

    steps = [deny, states, lambda ws: ws.accept(), lambda ws: ws.send_denial_response(PlainTextResponse("x"))]
    _, sent = assert_same(
        lambda server: sw.WebSocket(dict(scope), server.receive, server.send),
        lambda server: cls(dict(scope), server.receive, server.send),
        [CONNECT],
        steps,
    )
    assert [m["type"] for m in sent] == ["websocket.http.response.start", "websocket.http.response.body"]


PRODUCTION_INSTALL = textwrap.dedent(
    """
    import sys

    # A production install: no HTTP client for the test clients. starlette.testclient then raises
    # RuntimeError (not ImportError) when imported.
    sys.modules["httpx"] = sys.modules["httpx2"] = None
    try:
        import starlette.testclient
    except RuntimeError:
        pass
    else:
        raise AssertionError("starlette.testclient imported without an HTTP client")
    sys.modules.pop("starlette.testclient", None)

    import fastws, fastws.dialects.starlette as dialect
    rebound = dialect.install()
    assert "starlette.websockets.WebSocket" in rebound and "fastapi.routing.WebSocket" in rebound, rebound
    import fastapi
    assert fastapi.WebSocket is dialect.WebSocket
    print("OK", fastws.IMPLEMENTATION)
    """
)


@pytest.mark.parametrize("implementation", ["cython", "python"])
def test_install_without_the_test_clients_http_client(implementation: str, request: pytest.FixtureRequest) -> None:
    # Issue 18: install() raised starlette.testclient's RuntimeError in a production install.
    # .ci/frameworks checks the same in real environments holding only the framework.
    if implementation == "cython" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    from dialect_harness import run_snippet

    assert run_snippet(PRODUCTION_INSTALL, implementation).split()[-2:] == ["OK", implementation]
