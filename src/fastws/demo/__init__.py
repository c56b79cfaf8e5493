"""The bundled demo: a framework-free ASGI echo app built on ``fastws.WebSocket`` alone.

Routes:

* ``GET /`` (and ``HEAD /``): a small self-contained HTML page (inline CSS and JavaScript, no
  external assets) that opens a WebSocket to ``/ws``, sends what is typed in its text box and
  shows the echoes; two buttons send a JSON message (as text) and a binary message.
* ``/ws`` (WebSocket): accepts, then echoes every text message as text and every binary message
  as bytes until the client goes away.
* ``/chat/{room}`` (WebSocket; ``room`` is 1 to 64 of ``A-Z a-z 0-9 _ . -``): a chat room on
  ``fastws.pubsub`` and ``fastws.fanout``. Each text message from a client is published to the
  room's channel; every member of the room, in every process on the same broker, receives it as
  the JSON text ``{"type":"message","room":ROOM,"text":TEXT}``. On joining, a client first receives
  ``{"type":"joined","room":ROOM,"pid":PID}`` (``PID`` is the serving process), once the room is
  subscribed; after a lost broker connection, ``{"type":"gap","room":ROOM}`` (messages may have
  been missed); when a message cannot be published, ``{"type":"error","detail":...}``. Each process
  keeps one subscription per room with members and fans each message out with ``broadcast``
  (policy: drop the oldest, 256 messages or 1 MiB queued per client).
* anything else: HTTP 404 (a WebSocket handshake on another path is denied with HTTP 404 through
  the ASGI "WebSocket Denial Response" extension, or with HTTP 403 when the server lacks it);
  another method on ``/``: HTTP 405.
* the ``lifespan`` scope: answers ``lifespan.startup`` and ``lifespan.shutdown`` with their
  ``.complete`` events.

Serve it with ``fastws serve`` (or ``uvicorn fastws.demo:app``) and open http://127.0.0.1:8000/.
The chat's broker is ``memory://`` (one process) unless ``fastws serve --broker URL`` (or the
environment variable ``FASTWS_BROKER``) names another, e.g. ``redis://127.0.0.1:6379`` for several
workers or hosts. ``make_app(websocket_class, broker)`` builds the same app on another WebSocket
class, e.g. the compiled or the pure-Python implementation loaded directly, which is how the tests
use it.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import fastws
from fastws.codec._json import encode_json_text
from fastws.fanout import attached, broadcast
from fastws.protocol.http import PlainTextResponse
from fastws.pubsub import BrokerUnavailable, Gap, Hub
from fastws.websockets import WebSocket, WebSocketDisconnect

__all__ = ["BROKER_ENV", "app", "make_app"]

#: The environment variable naming the chat's broker URL when ``make_app`` is given none
#: (``fastws serve --broker URL`` sets it for its workers).
BROKER_ENV = "FASTWS_BROKER"

_ROOM = re.compile(r"/chat/([A-Za-z0-9_.\-]{1,64})")


async def _fan_out(members: Any, text: str | bytes) -> None:
    # The chat's send queues: 256 messages or 1 MiB per client, dropping the oldest.
    await broadcast(members, text, policy="drop_oldest", max_messages=256, max_bytes=1 << 20)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The page served on ``/``: the package data file ``index.html`` beside this module (``__VERSION__``
#: and ``__IMPL__`` are filled in by ``_render_page``).
_PAGE = Path(__file__).with_name("index.html").read_text(encoding="utf-8")


def _render_page(implementation: str) -> bytes:
    # The page with the version and the WebSocket implementation filled in, as UTF-8 bytes.
    page = _PAGE.replace("__VERSION__", html.escape(fastws.__version__))
    return page.replace("__IMPL__", html.escape(implementation)).encode("utf-8")


def _implementation_of(websocket_class: type) -> str:
    # "cython" for a class from a compiled `_c` module, "python" for the pure-Python twin (or any
    # other class).
    return "cython" if websocket_class.__module__.endswith("_c") else "python"


async def _lifespan(receive: Receive, send: Send, chat: _Chat) -> None:
    # Startup has nothing to set up (the chat's hub starts on first use); shutdown stops the
    # chat's room tasks and closes its hub.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await chat.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return


class _Room:
    # The members of one room in this process, and the task that feeds them from the hub.
    __slots__ = ("channel", "joining", "members", "name", "ready", "task")

    def __init__(self, name: str) -> None:
        self.name = name
        self.channel = "fastws.demo.chat." + name
        self.members: set[Any] = set()
        self.joining = 0  # clients waiting for the room's subscription
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None


class _Chat:
    """The chat rooms of one app in one process: one hub, one subscription per non-empty room.

    A room's task lives while the room has members here: started by the first member, cancelled
    and awaited when the last one leaves (or at lifespan shutdown).
    """

    def __init__(self, broker: str | None) -> None:
        self.broker = broker
        self.hub: Hub | None = None
        self.rooms: dict[str, _Room] = {}

    async def _hub(self) -> Hub:
        if self.hub is None:
            url = self.broker or os.environ.get(BROKER_ENV) or "memory://"
            self.hub = Hub(url)
        return await self.hub.start()

    async def _feed(self, room: _Room) -> None:
        hub = await self._hub()
        async with hub.subscribe(room.channel) as items:
            room.ready.set()
            async for item in items:
                if isinstance(item, Gap):
                    item = encode_json_text({"type": "gap", "room": room.name})
                await _fan_out(tuple(room.members), item)

    async def serve(self, websocket: Any, name: str) -> None:
        await websocket.accept()
        hub = await self._hub()
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = _Room(name)
            room.task = asyncio.get_running_loop().create_task(self._feed(room))
        room.joining += 1
        async with attached(websocket):
            try:
                try:
                    await room.ready.wait()
                finally:
                    room.joining -= 1
                # "joined" is queued first, then the client is a member: it receives every
                # message published from now on, after "joined".
                joined = {"type": "joined", "room": name, "pid": os.getpid()}
                await _fan_out((websocket,), encode_json_text(joined))
                room.members.add(websocket)
                while True:
                    message = await websocket.receive()
                    if message["type"] == "websocket.disconnect":
                        return
                    text = message.get("text")
                    if text is None:
                        continue  # the chat is text only
                    payload = encode_json_text({"type": "message", "room": name, "text": text})
                    try:
                        await hub.publish(room.channel, payload)
                    except BrokerUnavailable as exc:
                        error = {"type": "error", "detail": f"message not sent: {exc}"}
                        await _fan_out((websocket,), encode_json_text(error))
            except WebSocketDisconnect:
                return
            finally:
                await self._leave(room, websocket)

    async def _leave(self, room: _Room, websocket: Any) -> None:
        room.members.discard(websocket)
        if not room.members and not room.joining and self.rooms.get(room.name) is room:
            del self.rooms[room.name]
            task = room.task
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def aclose(self) -> None:
        rooms = list(self.rooms.values())
        self.rooms.clear()
        for room in rooms:
            if room.task is not None:
                room.task.cancel()
        await asyncio.gather(*(room.task for room in rooms if room.task is not None), return_exceptions=True)
        if self.hub is not None:
            hub, self.hub = self.hub, None
            await hub.aclose()


async def _echo(websocket: Any) -> None:
    # Accept, then echo text as text and bytes as bytes until the client disconnects.
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is not None:
                await websocket.send_text(text)
            else:
                data = message.get("bytes")
                if data is not None:
                    await websocket.send_bytes(data)
    except WebSocketDisconnect:  # the client vanished while we were sending
        return


def make_app(websocket_class: type | None = None, broker: str | None = None) -> ASGIApp:
    """Build the demo ASGI app on a given WebSocket class.

    Args:
        websocket_class (type | None): the class that wraps each WebSocket connection, called as
            ``websocket_class(scope, receive, send)``; it must have the
            ``starlette.websockets.WebSocket`` API (``accept``, ``receive``, ``send_text``,
            ``send_bytes``, ``send_denial_response``). ``None`` means ``fastws.WebSocket``, i.e.
            the compiled class when it loaded, else the pure-Python twin.
        broker (str | None): the chat's ``fastws.pubsub`` broker URL (``memory://`` or
            ``redis://HOST:PORT``); ``None`` reads ``$FASTWS_BROKER`` when the first client joins
            a room, else ``memory://``.

    Returns:
        ASGIApp: an ASGI 3 application ``async (scope, receive, send) -> None`` serving the routes
        described in this module's docstring. Its only state is the chat's: the rooms with
        members in this process and a hub, started on first use and closed at lifespan shutdown.

    Raises:
        Nothing when building. The returned app raises ``ValueError`` for a scope type other than
        ``http``, ``websocket`` or ``lifespan`` (which ASGI servers log), and lets the server's
        own errors propagate.

    Source: the ASGI 3.0 spec (HTTP, WebSocket and Lifespan protocols, spec version 2.4 for the
    WebSocket Denial Response extension); the WebSocket API is Starlette 1.10's.
    """
    cls: type = WebSocket if websocket_class is None else websocket_class
    page = PlainTextResponse(_render_page(_implementation_of(cls)), content_type="text/html; charset=utf-8")
    not_found = PlainTextResponse("Not Found", status=404)
    not_allowed = PlainTextResponse("Method Not Allowed", status=405, headers=[(b"allow", b"GET, HEAD")])
    chat = _Chat(broker)

    async def demo_app(scope: Scope, receive: Receive, send: Send) -> None:
        """The demo ASGI app (see ``fastws.demo``): an HTML page on ``/``, a WebSocket echo on
        ``/ws``, chat rooms on ``/chat/{room}``, 404 elsewhere, and the lifespan protocol."""
        scope_type = scope["type"]
        if scope_type == "http":
            if scope["path"] != "/":
                await not_found(scope, receive, send)
            elif scope["method"] in ("GET", "HEAD"):
                await page(scope, receive, send)
            else:
                await not_allowed(scope, receive, send)
        elif scope_type == "websocket":
            websocket = cls(scope, receive, send)
            path = scope["path"]
            if path == "/ws":
                await _echo(websocket)
                return
            room = _ROOM.fullmatch(path)
            if room is not None:
                await chat.serve(websocket, room.group(1))
            else:
                await websocket.send_denial_response(not_found)
        elif scope_type == "lifespan":
            await _lifespan(receive, send, chat)
        else:
            raise ValueError(f"fastws.demo cannot handle an ASGI scope of type {scope_type!r}")

    return demo_app


#: The demo app on ``fastws.WebSocket``: ``fastws serve`` serves it by default
#: (``uvicorn fastws.demo:app`` works too).
app: ASGIApp = make_app()
