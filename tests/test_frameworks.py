"""fastws.WebSocket inside real Starlette and FastAPI apps, driven by their own TestClient (which
speaks the ASGI WebSocket protocol, denial-response extension included), on both
implementations. This is the README's "In a Starlette or FastAPI app" pattern."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect as StarletteWebSocketDisconnect

from fastws import WebSocketDisconnect


def make_endpoint(impl: Any, seen: list[Any]) -> Any:
    class Echo:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            websocket = impl.WebSocket(scope, receive, send)
            if websocket.query_params.get("deny"):
                await websocket.send_denial_response(PlainTextResponse("denied", status_code=401))
                return
            await websocket.accept(subprotocol="chat" if "chat" in scope["subprotocols"] else None)
            await websocket.send_json({"room": websocket.path_params["room"], "q": dict(websocket.query_params)})
            try:
                async for data in websocket.iter_json():
                    await websocket.send_json({"echo": data})
            except WebSocketDisconnect as exc:  # pragma: no cover - iter_json ends instead
                seen.append(("raised", exc.code))
            seen.append(("ended", websocket.client_state.name))

    return Echo()


@pytest.fixture
def starlette_app(impl: Any) -> tuple[Starlette, list[Any]]:
    seen: list[Any] = []
    return Starlette(routes=[WebSocketRoute("/ws/{room}", make_endpoint(impl, seen))]), seen


def test_starlette_route_echo_and_path_params(starlette_app: tuple[Starlette, list[Any]]) -> None:
    app, seen = starlette_app
    with TestClient(app) as client:
        with client.websocket_connect("/ws/lobby?x=1", subprotocols=["chat"]) as ws:
            assert ws.accepted_subprotocol == "chat"
            assert ws.receive_json() == {"room": "lobby", "q": {"x": "1"}}
            ws.send_json({"hello": ["wörld", 1.5, None]})
            assert ws.receive_json() == {"echo": {"hello": ["wörld", 1.5, None]}}
    assert seen == [("ended", "DISCONNECTED")]


def test_starlette_denial_response(starlette_app: tuple[Starlette, list[Any]]) -> None:
    from starlette.testclient import WebSocketDenialResponse

    app, _ = starlette_app
    with TestClient(app) as client:
        with pytest.raises(WebSocketDenialResponse) as info:
            with client.websocket_connect("/ws/lobby?deny=1"):
                pass  # pragma: no cover
    assert info.value.status_code == 401
    assert info.value.text == "denied"


def test_starlette_close_before_accept_is_seen_by_the_test_client(impl: Any) -> None:
    class Reject:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            websocket = impl.WebSocket(scope, receive, send)
            await websocket.close(code=4003, reason="go away")

    app = Starlette(routes=[WebSocketRoute("/ws", Reject())])
    with TestClient(app) as client:
        with pytest.raises(StarletteWebSocketDisconnect) as info:
            with client.websocket_connect("/ws"):
                pass  # pragma: no cover
    assert (info.value.code, info.value.reason) == (4003, "go away")


def test_fastapi_add_websocket_route(impl: Any) -> None:
    fastapi = pytest.importorskip("fastapi")
    seen: list[Any] = []
    app = fastapi.FastAPI()
    app.router.add_websocket_route("/ws/{room}", make_endpoint(impl, seen))
    with TestClient(app) as client:
        with client.websocket_connect("/ws/kitchen") as ws:
            assert ws.receive_json() == {"room": "kitchen", "q": {}}
            ws.send_json([1, 2, 3])
            assert ws.receive_json() == {"echo": [1, 2, 3]}
    assert seen == [("ended", "DISCONNECTED")]
