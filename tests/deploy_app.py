"""The ASGI app the deployment tests serve (``fastws serve``, gunicorn, nginx in front).

Served as ``deploy_app:app`` (or ``deploy_app:create_app`` with ``--factory``) from this
directory (``--app-dir``/``--chdir``/``PYTHONPATH``). A WebSocket on any path is accepted and first
gets one JSON text message describing where it landed::

    {"pid": 1234, "impl": "cython", "codec": "fastws.protocol._frame_c",
     "protocol": "fastws.server:WebSocketProtocol", "root_path": "/api", "path": "/ws",
     "scheme": "ws", "client": ["127.0.0.1", 50000], "loop": "uvloop"}

then each text message ``T`` is appended to the worker's journal (when ``$FASTWS_TEST_JOURNAL``
names a directory: one file per worker process, one line per message, written before the
answer) and acknowledged with ``"ack:T"``; each binary message is echoed. An HTTP request gets
the same JSON description (without ``protocol``), so a proxy's health check has a target.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import fastws
from fastws import WebSocket, WebSocketDisconnect
from fastws.protocol._frame import FrameParser

JOURNAL_ENV = "FASTWS_TEST_JOURNAL"


def _describe(scope: dict[str, Any]) -> dict[str, Any]:
    client = scope.get("client")
    return {
        "pid": os.getpid(),
        "impl": fastws.IMPLEMENTATION,
        "codec": FrameParser.__module__,
        "root_path": scope.get("root_path", ""),
        "path": scope["path"],
        "scheme": scope["scheme"],
        "client": list(client) if client else None,
        "loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
    }


def _protocol(receive: Any) -> str:
    # The server's WebSocket protocol: uvicorn hands the app its protocol's bound `receive`.
    owner = getattr(receive, "__self__", None)
    return "unknown" if owner is None else f"{type(owner).__module__}:{type(owner).__qualname__}"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The deployment tests' ASGI app (see the module docstring)."""
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    elif scope["type"] == "http":
        body = json.dumps(_describe(scope)).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
    elif scope["type"] == "websocket":
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        await websocket.send_json({**_describe(scope), "protocol": _protocol(receive)})
        directory = os.environ.get(JOURNAL_ENV)
        journal = None
        if directory:
            path = os.path.join(directory, f"journal-{os.getpid()}.txt")
            journal = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                if text is not None:
                    if journal is not None:
                        os.write(journal, text.encode() + b"\n")
                    await websocket.send_text("ack:" + text)
                else:
                    await websocket.send_bytes(message.get("bytes") or b"")
        except (WebSocketDisconnect, OSError):
            pass  # the server went away mid-send (shutdown): nothing more was acknowledged
        finally:
            if journal is not None:
                os.close(journal)


def create_app() -> Any:
    """The app factory for ``--factory`` (uvicorn calls it with no arguments)."""
    return app
