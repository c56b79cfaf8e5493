"""The server of ``fastws bench --broadcast --e2e``: ``python -m fastws.bench._broadcast_e2e_server ROW MAX_SECONDS``.

ROW is one of ``ROWS``:

- ``uvicorn-starlette``: uvicorn's default WebSocket protocol (``ws="auto"``), Starlette's
  ``WebSocket``, and the plain loop an app writes: ``for ws in room: await ws.send_text(m)``
  (``send_json(value)`` for JSON, which encodes per connection);
- ``fastws-broadcast``: ``fastws.server``'s protocol, ``fastws.WebSocket`` and
  ``fastws.broadcast(room, m)`` with the frame-level path turned off, so every connection gets
  a ``websocket.send`` through its ``WebSocket``;
- ``fastws-frames``: the same with the frame-level path (the default): the frame is encoded once
  and its bytes handed to each connection's protocol.

The app accepts every WebSocket on ``/`` into one room, until the client leaves. A connection on
``/control`` receives publish commands, one JSON text each: ``{"count": N, "payload": "text" |
"json", "burst": B, "interval": S}``. For each, the server publishes N messages to the room,
yielding to the event loop after every B of them (sleeping S seconds there when S > 0: a paced
run), and answers ``{"published": N}``. Message ``i`` carries its sequence
number and the ``time.monotonic_ns()`` of its publication at fixed offsets: the 64-byte text starts
with ``f"{i:08d} {t:020d} "``, the JSON (about 200 bytes) with ``{"seq":"%08d","t":"%020d",``
(the same bytes from orjson and from ``json.dumps`` with Starlette's separators). Broadcasts use
``policy="wait"`` so that no message is dropped (the publisher waits for room, as the plain loop
waits on each send).

The server is uvicorn on uvloop, one process, bound to 127.0.0.1 on a port the OS picks, with
uvicorn's defaults otherwise. Once it listens it prints ``READY <port> <implementation>``. It stops
when its standard input reaches end of file, or after MAX_SECONDS.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

__all__ = ["JSON_TEXT", "ROWS", "main", "make_app", "message"]

#: Row name -> uvicorn's ``ws`` setting.
ROWS: dict[str, str] = {
    "uvicorn-starlette": "auto",
    "fastws-broadcast": "fastws.server:WebSocketProtocol",
    "fastws-frames": "fastws.server:WebSocketProtocol",
}
#: The chat text of the JSON message (brings it to about 200 bytes).
JSON_TEXT = "Somebody in the room said something worth broadcasting to one thousand connections!"


def message(kind: str, seq: int, now_ns: int) -> Any:
    """Message ``seq`` of a publish run: a 64-character ``str`` or a JSON-ready ``dict``.

    Raises:
        ValueError: ``kind`` is neither ``"text"`` nor ``"json"``.
    """
    if kind == "text":
        head = f"{seq:08d} {now_ns:020d} "
        return head + "x" * (64 - len(head))
    if kind == "json":
        return {
            "seq": f"{seq:08d}",
            "t": f"{now_ns:020d}",
            "type": "message",
            "room": "bench",
            "user": "participant-0042",
            "text": JSON_TEXT,
        }
    raise ValueError(f"unknown payload kind {kind!r}: expected text or json")


def make_app(row: str) -> tuple[Any, str]:
    """The ASGI app of ``row`` and the implementation it runs on.

    Raises:
        ValueError: unknown ``row``.
    """
    if row not in ROWS:
        raise ValueError(f"unknown row {row!r}: expected one of {', '.join(ROWS)}")
    room: dict[Any, None] = {}  # insertion-ordered set of the connected WebSockets
    monotonic_ns = time.monotonic_ns
    if row == "uvicorn-starlette":
        from starlette.websockets import WebSocket

        implementation = "starlette"

        async def publish(kind: str, count: int, burst: int, interval: float) -> None:
            sockets = list(room)
            for seq in range(count):
                value = message(kind, seq, monotonic_ns())
                if kind == "text":
                    for ws in sockets:
                        await ws.send_text(value)
                else:
                    for ws in sockets:
                        await ws.send_json(value)
                if (seq + 1) % burst == 0:
                    await asyncio.sleep(interval)

    else:
        import fastws
        from fastws import WebSocket  # type: ignore[assignment]
        from fastws.fanout import _broadcast as fanout

        implementation = fastws.IMPLEMENTATION
        fanout._FRAMES = row == "fastws-frames"

        async def publish(kind: str, count: int, burst: int, interval: float) -> None:
            sockets = list(room)
            for seq in range(count):
                await fanout.broadcast(sockets, message(kind, seq, monotonic_ns()), policy="wait", timeout=30.0)
                if (seq + 1) % burst == 0:
                    await asyncio.sleep(interval)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        ws = WebSocket(scope, receive, send)
        await ws.accept()
        if scope["path"] == "/control":
            while True:
                event = await ws.receive()
                if event["type"] != "websocket.receive":
                    return
                command = json.loads(event["text"])
                await publish(
                    command["payload"],
                    int(command["count"]),
                    max(1, int(command.get("burst", 1))),
                    max(0.0, float(command.get("interval", 0.0))),
                )
                await ws.send_text(json.dumps({"published": command["count"]}))
        room[ws] = None
        try:
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass
        finally:
            del room[ws]
            outbox = scope.get("fastws.outbox")
            if outbox is not None:
                await outbox.aclose()

    return app, implementation


def main(argv: list[str] | None = None) -> int:
    """Serve ``ROW`` until stdin closes or the time runs out; 0 on a clean stop."""

    from fastws.bench._process import serve_uvicorn

    args = sys.argv[1:] if argv is None else argv
    row = args[0]
    app, implementation = make_app(row)
    max_seconds = float(args[1]) if len(args) > 1 else 600.0

    return serve_uvicorn(app, implementation, max_seconds, ws=ROWS[row], backlog=4096)


if __name__ == "__main__":
    raise SystemExit(main())
