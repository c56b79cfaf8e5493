"""Serve one WebSocket route of a framework through its fastws dialect under uvicorn, and talk to
it with a real ``websockets`` client (issue 18: ``install()`` in a production install).

Usage: ``python dialect_serve_probe.py FRAMEWORK [WS_PROTOCOL]``, FRAMEWORK one of ``starlette``,
``fastapi``, ``lilya``, ``micropie``, ``yaat``; WS_PROTOCOL a uvicorn ``ws`` setting (default
``auto``; ``fastws.server:WebSocketProtocol`` for fastws's). Run by ``.ci/frameworks`` in a virtual
environment holding only that framework, fastws, uvicorn and websockets. It calls the dialect's
``install()`` before importing the framework's app code, serves on a free port of 127.0.0.1,
checks that the endpoint got the dialect's class, that a text message is echoed and the close
code comes back, and (FastAPI) that a query parameter failing validation is denied with HTTP 403
(FastAPI closes before accept with a list as the reason). Prints ``OK <framework> <implementation>``
and exits 0; any failure raises. Bounded: 20 s in all.
"""

import asyncio
import importlib
import socket
import sys
from typing import Any

import fastws

FRAMEWORK = sys.argv[1]
WS = sys.argv[2] if len(sys.argv) > 2 else "auto"
dialect = importlib.import_module(f"fastws.dialects.{'starlette' if FRAMEWORK == 'fastapi' else FRAMEWORK}")
rebound = dialect.install()
assert rebound, f"{FRAMEWORK}: install() rebound nothing"
seen: list[Any] = []


def build_app() -> Any:
    if FRAMEWORK == "starlette":
        from starlette.applications import Starlette
        from starlette.routing import WebSocketRoute
        from starlette.websockets import WebSocket, WebSocketDisconnect

        async def echo(websocket: WebSocket) -> None:
            seen.append(type(websocket))
            await websocket.accept()
            try:
                while True:
                    await websocket.send_text("echo " + await websocket.receive_text())
            except WebSocketDisconnect as exc:
                seen.append(exc.code)

        return Starlette(routes=[WebSocketRoute("/ws", echo)])
    if FRAMEWORK == "fastapi":
        from fastapi import FastAPI, WebSocket, WebSocketDisconnect

        app = FastAPI()

        @app.websocket("/ws")
        async def echo(websocket: WebSocket, q: int = 0) -> None:
            seen.append(type(websocket))
            await websocket.accept()
            try:
                while True:
                    await websocket.send_text("echo " + await websocket.receive_text())
            except WebSocketDisconnect as exc:
                seen.append(exc.code)

        return app
    if FRAMEWORK == "lilya":
        from lilya.apps import Lilya
        from lilya.routing import WebSocketPath
        from lilya.websockets import WebSocket, WebSocketDisconnect

        async def lilya_echo(websocket: WebSocket) -> None:
            seen.append(type(websocket))
            await websocket.accept()
            try:
                while True:
                    await websocket.send_text("echo " + await websocket.receive_text())
            except WebSocketDisconnect as exc:
                seen.append(exc.code)

        return Lilya(routes=[WebSocketPath("/ws", lilya_echo)])
    if FRAMEWORK == "micropie":
        from micropie import App, ConnectionClosed

        class Root(App):
            async def ws_ws(self, ws: Any) -> None:
                seen.append(type(ws))
                await ws.accept()
                try:
                    while True:
                        await ws.send_text("echo " + await ws.receive_text())
                except ConnectionClosed:
                    seen.append(1000)

        return Root()
    if FRAMEWORK == "yaat":
        from yaat import Yaat
        from yaat.websockets import WebSocket, WebSocketDisconnect

        yaat_app = Yaat()

        @yaat_app.websocket_route("/ws")
        async def yaat_echo(websocket: WebSocket) -> None:
            seen.append(type(websocket))
            await websocket.accept()
            try:
                while True:
                    await websocket.send_text("echo " + await websocket.receive_text())
            except WebSocketDisconnect as exc:
                seen.append(exc.code)

        return yaat_app
    raise SystemExit(f"unknown framework {FRAMEWORK!r}")


async def probe(app: Any) -> None:
    import uvicorn
    import websockets
    from websockets.asyncio.client import connect

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, ws=WS, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        async with connect(f"ws://127.0.0.1:{port}/ws") as client:
            await client.send("hi")
            assert await client.recv() == "echo hi"
        for _ in range(100):  # the endpoint sees the disconnect after the client's close completes
            if len(seen) == 2:
                break
            await asyncio.sleep(0.02)
        assert seen == [dialect.WebSocket, 1000], seen
        if FRAMEWORK == "fastapi":
            try:
                async with connect(f"ws://127.0.0.1:{port}/ws?q=notint"):
                    raise AssertionError("a query parameter failing validation was accepted")
            except websockets.InvalidStatus as exc:
                assert exc.response.status_code == 403, exc.response.status_code
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 5)


async def main() -> None:
    await asyncio.wait_for(probe(build_app()), 20)


if __name__ == "__main__":
    asyncio.run(main())
    print("OK", FRAMEWORK, fastws.IMPLEMENTATION, WS)
