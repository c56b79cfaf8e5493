"""One echo server of ``fastws bench --e2e``, run as ``python -m fastws.bench._e2e_server APP MAX_SECONDS``.

APP is ``raw`` (the ASGI floor), ``starlette`` (``starlette.websockets.WebSocket``), ``fastws``
(``fastws.WebSocket``: compiled, or the pure twin when ``FASTWS_NO_EXTENSIONS=1`` is set in this
process's environment) or ``picows``. Every ASGI app echoes each text message back with
``await ws.send_text(await ws.receive_text())`` (the raw app: one ``receive``, one ``send``).

The ASGI servers are uvicorn on uvloop with uvicorn's default WebSocket protocol (or $FASTWS_BENCH_WS), one process,
bound to 127.0.0.1 on a port the OS picks. ``picows`` is no ASGI server at all: picows' own server
(``picows.ws_create_server`` on uvloop, callbacks in Cython) echoing each frame from ``on_ws_frame`` as picows' echo
example does; it is the physical reference, what Python on this machine costs per message with no interface above
the frame. Once it listens it prints one line, ``READY <port>
<implementation>``, to standard output. It stops when its standard input reaches end of file (the
parent exited or closed the pipe), or after MAX_SECONDS, whichever comes first.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from fastws.bench._process import serve_uvicorn, watch_stdin

__all__ = ["main", "make_app", "serve_picows"]


def make_app(name: str) -> tuple[Any, str]:
    """The echo app called ``name`` and the implementation it runs on.

    Raises:
        ValueError: unknown ``name``.
    """
    if name == "raw":

        async def raw(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "websocket":
                return
            await receive()
            await send({"type": "websocket.accept"})
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return
                await send({"type": "websocket.send", "text": message["text"]})

        return raw, "raw-asgi"
    if name == "starlette":
        from starlette.websockets import WebSocket, WebSocketDisconnect
    elif name == "fastws":
        import fastws
        from fastws import WebSocket, WebSocketDisconnect  # type: ignore[assignment]

        implementation = fastws.IMPLEMENTATION
    else:
        raise ValueError(f"unknown echo app {name!r}: expected raw, starlette or fastws")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        ws = WebSocket(scope, receive, send)
        await ws.accept()
        try:
            while True:
                await ws.send_text(await ws.receive_text())
        except WebSocketDisconnect:
            pass

    return app, (implementation if name == "fastws" else "starlette")


def serve_picows(max_seconds: float) -> int:
    """picows' own echo server (no ASGI) until stdin closes or ``max_seconds`` pass; 0 on a clean stop.

    Every text or binary frame is sent back with the same opcode (``transport.send(frame.msg_type,
    frame.get_payload_as_bytes())``), a close frame is answered with the same code and the connection
    dropped, as in picows' echo server example (picows 1.x/2.x README, "Getting started").
    Prints ``READY <port> picows`` once listening.

    Raises:
        ImportError: picows or uvloop is not installed.
    """
    import asyncio

    import uvloop
    from picows import WSListener, WSMsgType, ws_create_server

    CLOSE = WSMsgType.CLOSE

    class Echo(WSListener):
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == CLOSE:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()
            else:
                transport.send(frame.msg_type, frame.get_payload_as_bytes())

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stopped = loop.create_future()

        def finish() -> None:
            if not stopped.done():
                stopped.set_result(None)

        def stop() -> None:
            loop.call_soon_threadsafe(finish)

        server = await ws_create_server(lambda request: Echo(), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port} picows", flush=True)
        threading.Thread(target=watch_stdin, args=(stop,), daemon=True).start()
        loop.call_later(max_seconds, finish)
        try:
            await stopped
        finally:
            server.close()

    uvloop.run(run())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Serve the echo app until stdin closes or the time runs out; 0 on a clean stop."""
    args = sys.argv[1:] if argv is None else argv
    max_seconds = float(args[1]) if len(args) > 1 else 600.0
    if args[0] == "picows":
        return serve_picows(max_seconds)
    app, implementation = make_app(args[0])
    # uvicorn's own protocol unless the runner asks for another (fastws-proto: fastws.server's).
    return serve_uvicorn(app, implementation, max_seconds, ws=os.environ.get("FASTWS_BENCH_WS", "auto"))


if __name__ == "__main__":
    raise SystemExit(main())
