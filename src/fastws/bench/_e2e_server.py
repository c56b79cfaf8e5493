"""One echo server of ``fastws bench --e2e``, run as ``python -m fastws.bench._e2e_server APP MAX_SECONDS``.

APP is ``raw`` (the ASGI floor), ``starlette`` (``starlette.websockets.WebSocket``) or ``fastws``
(``fastws.WebSocket``: compiled, or the pure twin when ``FASTWS_NO_EXTENSIONS=1`` is set in this
process's environment). Every app echoes each text message back with
``await ws.send_text(await ws.receive_text())`` (the raw app: one ``receive``, one ``send``).

The server is uvicorn on uvloop with uvicorn's default WebSocket protocol (or $FASTWS_BENCH_WS), one process, bound to
127.0.0.1 on a port the OS picks. Once it listens it prints one line, ``READY <port>
<implementation>``, to standard output. It stops when its standard input reaches end of file (the
parent exited or closed the pipe), or after MAX_SECONDS, whichever comes first.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

__all__ = ["make_app", "main"]


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


def main(argv: list[str] | None = None) -> int:
    """Serve the echo app until stdin closes or the time runs out; 0 on a clean stop."""
    import uvicorn

    args = sys.argv[1:] if argv is None else argv
    app, implementation = make_app(args[0])
    max_seconds = float(args[1]) if len(args) > 1 else 600.0

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            port = self.servers[0].sockets[0].getsockname()[1]
            print(f"READY {port} {implementation}", flush=True)

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        loop="uvloop",
        lifespan="off",
        log_level="warning",
        access_log=False,
        # uvicorn's own protocol unless the runner asks for another (fastws-proto: fastws.server's).
        ws=os.environ.get("FASTWS_BENCH_WS", "auto"),
    )
    server = Server(config)

    def stop() -> None:
        server.should_exit = True

    def watch_stdin() -> None:
        # The parent holds the other end of stdin: end of file means it is gone. os.read, not
        # sys.stdin: a daemon thread blocked in a buffered read breaks interpreter shutdown.
        try:
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        stop()

    threading.Thread(target=watch_stdin, daemon=True).start()
    timer = threading.Timer(max_seconds, stop)
    timer.daemon = True
    timer.start()
    server.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
