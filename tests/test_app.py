"""fastws.App: Yaat 0.1.10's routing (websocket_route, add_websocket_route, mount) with path
parameters, a denial (HTTP 403) for unknown WebSocket paths and a plain 404 for HTTP, on both
implementations; under Starlette's TestClient and under uvicorn with a real client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import make_scope
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from fastws import App


def make_app(impl: Any) -> App:
    app = App(websocket_class=impl.WebSocket)

    @app.websocket_route("/ws/{room}")
    async def room(websocket: Any) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_json({"room": websocket.path_params["room"], "text": text})

    async def item(websocket: Any) -> None:
        await websocket.accept()
        await websocket.send_json(websocket.path_params)
        await websocket.close()

    app.add_websocket_route("/items/{id:int}/{rest:path}", item)
    chat = App(websocket_class=impl.WebSocket)
    chat.add_websocket_route("/chat/{name}", item)
    app.mount("api/", chat, websocket=True)
    return app


async def _converse(app: App, path: str, events: list[dict[str, Any]]) -> tuple[list[Any], dict[str, Any]]:
    sent: list[Any] = []
    queue = list(events)

    async def receive() -> Any:
        return queue.pop(0) if queue else {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = make_scope(path=path, raw_path=path.encode())
    await app(scope, receive, send)
    return sent, scope


def test_routes_and_path_params(impl: Any) -> None:
    app = make_app(impl)
    connect = {"type": "websocket.connect"}
    sent, scope = asyncio.run(_converse(app, "/ws/lobby", [connect, {"type": "websocket.receive", "text": "hi"}]))
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send"]
    assert sent[1]["text"] == '{"room":"lobby","text":"hi"}'
    sent, _ = asyncio.run(_converse(app, "/items/42/a/b", [connect]))
    assert sent[1]["text"] == '{"id":42,"rest":"a/b"}'
    sent, _ = asyncio.run(_converse(app, "/api/chat/ann", [connect]))
    assert sent[1]["text"] == '{"name":"ann"}'


@pytest.mark.parametrize("path", ["/nope", "/ws", "/ws/a/b", "/items/x/y", "/api", "/api/chat/"])
def test_unknown_path_is_denied_before_accept(impl: Any, path: str) -> None:
    sent, _ = asyncio.run(_converse(make_app(impl), path, [{"type": "websocket.connect"}]))
    assert sent == [{"type": "websocket.close", "code": 1000, "reason": ""}]


def test_http_gets_404_and_mounted_http_app(impl: Any) -> None:
    app = make_app(impl)

    async def hello(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["root_path"].encode()})

    app.mount("/static", hello, websocket=False)
    with TestClient(app) as client:
        response = client.get("/ws/lobby")
        assert (response.status_code, response.text) == (404, "Not Found")
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert client.get("/static/x").text == "/static"
        with client.websocket_connect("/ws/tc") as ws:
            ws.send_text("yo")
            assert ws.receive_json() == {"room": "tc", "text": "yo"}
        with pytest.raises(WebSocketDisconnect) as info:
            with client.websocket_connect("/unknown"):
                pass  # pragma: no cover
        assert info.value.code == 1000


def test_bad_routes_are_rejected(impl: Any) -> None:
    app = App(websocket_class=impl.WebSocket)

    async def handler(websocket: Any) -> None:  # pragma: no cover
        pass

    with pytest.raises(ValueError, match="start with"):
        app.add_websocket_route("ws", handler)
    with pytest.raises(ValueError, match="convertor"):
        app.add_websocket_route("/ws/{x:float}", handler)
    with pytest.raises(ValueError, match="Duplicate"):
        app.add_websocket_route("/ws/{x}/{x}", handler)
    with pytest.raises(TypeError):
        app.mount("/x", handler, websocket=True)


def test_default_class_and_lifespan() -> None:
    import sys

    import fastws

    app = App()
    # The Yaat routing API builds Yaat's WebSocket (issue 18); fastws.WebSocket when asked.
    assert app.websocket_class is sys.modules["fastws.dialects.yaat"].WebSocket
    assert App(websocket_class=fastws.WebSocket).websocket_class is fastws.WebSocket
    events = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Any] = []

    async def receive() -> Any:
        return events.pop(0)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.e2e
def test_uvicorn_real_client_and_403(impl: Any) -> None:
    import socket
    import threading
    import time

    import uvicorn
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(
        uvicorn.Config(make_app(impl), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        with connect(f"ws://127.0.0.1:{port}/ws/real", open_timeout=5) as client:
            client.send("x")
            assert client.recv(timeout=5) == '{"room":"real","text":"x"}'
        with pytest.raises(InvalidStatus) as info:
            connect(f"ws://127.0.0.1:{port}/missing", open_timeout=5)
        assert info.value.response.status_code == 403
    finally:
        server.should_exit = True
        thread.join(5)
