"""The server side of the load and fault tests: uvicorn (uvloop) on 127.0.0.1 running an app on
one fastws implementation, which watches itself and reports.

Run as ``python stress/server.py --impl c|py [--ws-ping-interval S --ws-ping-timeout S]``. It
binds an ephemeral port, prints ``PORT <n>``, serves until SIGINT/SIGTERM, and after the
shutdown prints one line ``SUMMARY <json>`` (the stats below, taken at lifespan shutdown) and
exits 0.

WebSocket routes (``?c=ID`` names the connection in the stats):

* ``/echo?kind=text|bytes|json``: echoes numbered messages ``"ID:SEQ"`` (text, bytes, or JSON
  ``{"c": ID, "n": SEQ}``) and checks that SEQ goes 0, 1, 2, ... on each connection.
* ``/sink``: accepts and receives until the client goes away.
* ``/flood``: accepts and sends 64 KiB binary messages as fast as the server's ``send`` lets it
  (``stats.flood[ID]`` counts the bytes handed to ``send``).

Every handler ends on ``WebSocketDisconnect``; the app checks that its code is the code of the
``websocket.disconnect`` event the server delivered (or 1006 when the server's ``send`` failed),
and counts it per route. Anything else that escapes a handler, any log record at WARNING or above
(uvicorn's "Exception in ASGI application", asyncio's "Task exception was never retrieved", ...),
any unraisable exception is recorded. HTTP ``GET /stats`` returns the stats as JSON (with the
resident set size ``rss`` and ``sys.getallocatedblocks()``); ``GET /trim`` first hands the C
heap's free pages back to the OS (glibc ``malloc_trim(0)``, where there is one), then answers the
same, so that a soak can tell memory still held from memory free but not yet returned.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ctypes
import gc
import importlib
import json
import logging
import os
import resource
import sys
from typing import Any

import uvicorn

PAGE = os.sysconf("SC_PAGE_SIZE")
CHUNK = bytes(64 * 1024)


def malloc_trim() -> None:
    """glibc's ``malloc_trim(0)``: free pages anywhere in the C heap go back to the OS."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class Stats:
    def __init__(self) -> None:
        self.active = 0
        self.peak_active = 0
        self.accepted = 0
        self.messages = 0
        self.order_errors: list[str] = []
        self.code_mismatches: list[str] = []
        self.errors: list[str] = []
        self.log: list[str] = []
        self.disconnects: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
        self.flood: dict[str, int] = {}
        self.left_behind: list[str] | None = None
        self.active_at_shutdown: int | None = None

    def as_dict(self) -> dict[str, Any]:
        current = asyncio.current_task()
        return {
            "active": self.active,
            "peak_active": self.peak_active,
            "accepted": self.accepted,
            "messages": self.messages,
            "order_errors": self.order_errors[:20],
            "code_mismatches": self.code_mismatches[:20],
            "errors": self.errors[:20],
            "log": self.log[:20],
            "disconnects": {route: dict(codes) for route, codes in self.disconnects.items()},
            "flood": self.flood,
            "tasks": len([t for t in asyncio.all_tasks() if t is not current]),
            "rss": rss(),
            "allocated_blocks": sys.getallocatedblocks(),
            "left_behind": self.left_behind,
            "active_at_shutdown": self.active_at_shutdown,
        }


class RecordingHandler(logging.Handler):
    def __init__(self, stats: Stats) -> None:
        super().__init__(logging.WARNING)
        self.stats = stats

    def emit(self, record: logging.LogRecord) -> None:
        self.stats.log.append(f"{record.name} {record.levelname}: {record.getMessage()}")
        sys.stderr.write(self.format(record) + "\n")


def make_app(websocket_class: Any, disconnect_error: type[BaseException], stats: Stats) -> Any:
    async def echo(ws: Any, cid: str) -> None:
        kind = ws.query_params.get("kind", "text")
        await ws.accept()
        stats.accepted += 1
        expected = 0
        while True:
            if kind == "json":
                value = await ws.receive_json()
                seq = value["n"]
            elif kind == "bytes":
                data = await ws.receive_bytes()
                seq = int(data.split(b":")[1])
            else:
                text = await ws.receive_text()
                seq = int(text.split(":")[1])
            if seq != expected:
                stats.order_errors.append(f"{cid}: got {seq}, expected {expected}")
            expected = seq + 1
            stats.messages += 1
            if kind == "json":
                await ws.send_json(value)
            elif kind == "bytes":
                await ws.send_bytes(data)
            else:
                await ws.send_text(text)

    async def sink(ws: Any, cid: str) -> None:
        await ws.accept()
        stats.accepted += 1
        while True:
            await ws.receive_bytes()  # WebSocketDisconnect when the client goes away
            stats.messages += 1

    async def flood(ws: Any, cid: str) -> None:
        await ws.accept()
        stats.accepted += 1
        stats.flood[cid] = 0
        while True:
            await ws.send_bytes(CHUNK)
            stats.flood[cid] += len(CHUNK)

    routes = {"/echo": echo, "/sink": sink, "/flood": flood}

    async def lifespan(receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # uvicorn has closed every connection and waited for the handlers by now.
                current = asyncio.current_task()
                stats.left_behind = [
                    repr(t.get_coro())
                    for t in asyncio.all_tasks()
                    if t is not current and "Server.serve" not in repr(t.get_coro())
                ]
                stats.active_at_shutdown = stats.active
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] == "http":
            if scope["path"] == "/trim":
                gc.collect()
                malloc_trim()
            body = json.dumps(stats.as_dict()).encode()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": body})
            return
        handler = routes[scope["path"]]
        last: dict[str, Any] = {}

        async def recv() -> Any:
            message = await receive()
            last["event"] = message
            return message

        async def snd(message: Any) -> None:
            try:
                await send(message)
            except OSError:
                last["send_failed"] = True
                raise

        ws = websocket_class(scope, recv, snd)
        cid = ws.query_params.get("c", "?")
        stats.active += 1
        stats.peak_active = max(stats.peak_active, stats.active)
        try:
            await handler(ws, cid)
        except disconnect_error as exc:
            code = exc.code  # type: ignore[attr-defined]
            stats.disconnects[scope["path"]][code] += 1
            event = last.get("event", {})
            if last.get("send_failed"):
                want = 1006
            elif event.get("type") == "websocket.disconnect":
                want = event.get("code", 1005)
            else:
                want = None
            if code != want:
                stats.code_mismatches.append(f"{cid}: WebSocketDisconnect({code}) after {event!r}")
        except BaseException as exc:
            stats.errors.append(f"{cid}: {exc!r}")
            raise
        finally:
            stats.active -= 1

    return app


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", choices=["c", "py"], required=True)
    parser.add_argument("--ws", default="auto")
    parser.add_argument("--ws-ping-interval", type=float, default=None)
    parser.add_argument("--ws-ping-timeout", type=float, default=None)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    stats = Stats()
    handler = RecordingHandler(stats)
    handler.setFormatter(logging.Formatter("server: %(name)s %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])

    def unraisable(info: Any) -> None:
        stats.errors.append(f"unraisable: {info.exc_value!r} in {info.object!r}")

    sys.unraisablehook = unraisable

    websocket = importlib.import_module(f"fastws.websocket._core_{args.impl}")
    from fastws.websockets import WebSocketDisconnect

    config = uvicorn.Config(
        make_app(websocket.WebSocket, WebSocketDisconnect, stats),
        host="127.0.0.1",
        port=0,
        loop="uvloop",
        ws=args.ws,
        lifespan="on",
        log_config=None,
        log_level="warning",
        access_log=False,
        backlog=4096,
        ws_ping_interval=args.ws_ping_interval,
        ws_ping_timeout=args.ws_ping_timeout,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    sock = config.bind_socket()
    sock.listen(config.backlog)  # listening before the port is announced
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    summary = {
        "left_behind": stats.left_behind,
        "active_at_shutdown": stats.active_at_shutdown,
        "errors": stats.errors,
        "log": stats.log,
        "code_mismatches": stats.code_mismatches,
        "order_errors": stats.order_errors,
        "disconnects": {route: dict(codes) for route, codes in stats.disconnects.items()},
        "accepted": stats.accepted,
        "messages": stats.messages,
        "peak_active": stats.peak_active,
    }
    print("SUMMARY " + json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
