"""The micro-benchmark workloads, defined once for ``fastws bench`` and the pytest suite in ``bench/``.

An operation is measured in four variants (``VARIANTS``):

- ``fastws-c``: ``fastws.websocket._core_c.WebSocket`` (the compiled class, imported directly);
- ``fastws-py``: ``fastws.websocket._core_py.WebSocket`` (its pure-Python twin);
- ``starlette``: ``starlette.websockets.WebSocket`` (the reference);
- ``floor``: raw ASGI, the app awaiting ``receive()``/``send()`` with a dict literal and nothing
  else (for the JSON operations the floor also encodes or decodes with orjson, the fastest an app
  can do by hand, or with ``json`` where orjson is not installed; for handshake info it splits the
  raw scope with ``bytes``/``str`` methods and no percent-decoding).

Every variant talks to the same in-memory ``receive``/``send`` coroutines (no sockets, no event
loop work: they return at once), so only the WebSocket layer is measured.

``Operation.prepare(variant, n)`` does the untimed set-up for ``n`` operations (building and
accepting connections, say) and returns a coroutine; awaiting it performs exactly ``n``
operations in one tight loop and nothing else. The coroutine never suspends, so it can be awaited
inside a running event loop (``fastws bench``) or driven with one ``send(None)`` (``drive``, used
by pytest-benchmark, where starting a loop per round would be measured too).
"""

from __future__ import annotations

import importlib
import itertools
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastws.codec._backend import ORJSON_DUMPS, ORJSON_LOADS

__all__ = [
    "OPERATIONS",
    "VARIANTS",
    "Operation",
    "Target",
    "VariantUnavailable",
    "drive",
    "load_variant",
    "operation",
]

#: The variants of every operation, in table order.
VARIANTS: tuple[str, ...] = ("fastws-c", "fastws-py", "starlette", "floor")

_CLASS_OF_VARIANT = {
    "fastws-c": ("fastws.websocket._core_c", "WebSocket"),
    "fastws-py": ("fastws.websocket._core_py", "WebSocket"),
    "starlette": ("starlette.websockets", "WebSocket"),
}

Batch = Coroutine[Any, Any, None]


class VariantUnavailable(RuntimeError):
    """A variant cannot be measured here (the compiled extension was not built, or Starlette is
    not installed); the message says which module failed to import and why."""


def load_variant(variant: str) -> Any:
    """The WebSocket class of ``variant``, or ``None`` for ``"floor"``.

    Raises:
        VariantUnavailable: its module does not import.
        KeyError: ``variant`` is not one of ``VARIANTS``.
    """
    if variant == "floor":
        return None
    module_name, attribute = _CLASS_OF_VARIANT[variant]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise VariantUnavailable(f"{variant}: cannot import {module_name} ({exc})") from exc
    return getattr(module, attribute)


def drive(coro: Batch) -> None:
    """Run a batch coroutine that never suspends to completion without an event loop.

    Raises:
        RuntimeError: the coroutine suspended (a workload awaited something that is not in memory).
    """
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("a benchmark batch suspended: in-memory receive/send must return at once")


@dataclass(frozen=True)
class Target:
    """A goal from the benchmarks issue, checked as a ratio of medians measured in one run.

    ``kind`` is ``"speedup"`` (Starlette's time over fastws-c's: at least ``value``) or
    ``"floor"`` (fastws-c's time over the floor's: at most ``value``).
    """

    kind: str
    value: float

    def met(self, ratio: float) -> bool:
        """Whether ``ratio`` (of the same kind) meets the target."""
        return ratio >= self.value if self.kind == "speedup" else ratio <= self.value

    def describe(self) -> str:
        """e.g. ``">=4x vs starlette"`` or ``"<=1.5x floor"``."""
        return f">={self.value:g}x vs starlette" if self.kind == "speedup" else f"<={self.value:g}x floor"


@dataclass(frozen=True)
class Operation:
    """One measured operation: ``prepare(variant, n)`` returns a coroutine that performs it ``n`` times.

    ``chunk`` caps how many operations one prepared batch may hold (operations that need one
    connection object each keep memory and set-up time bounded); the harness runs several batches
    of at most ``chunk`` and adds their times.
    """

    key: str
    title: str
    category: str
    builder: Callable[[Any, int], Batch] = field(repr=False)
    target: Target | None = None
    chunk: int | None = None

    def prepare(self, variant: str, n: int, cls: Any = None) -> Batch:
        """Set up ``n`` operations of ``variant`` (untimed) and return the coroutine that runs them.

        ``cls`` is the variant's class if already loaded (``load_variant(variant)`` otherwise).
        """
        if cls is None and variant != "floor":
            cls = load_variant(variant)
        return self.builder(cls, n)


# -- in-memory ASGI server side -------------------------------------------------------------------

SCOPE_PLAIN: dict[str, Any] = {
    "type": "websocket",
    "asgi": {"version": "3.0", "spec_version": "2.4"},
    "http_version": "1.1",
    "scheme": "ws",
    "server": ("127.0.0.1", 8000),
    "client": ("127.0.0.1", 51000),
    "root_path": "",
    "path": "/ws",
    "raw_path": b"/ws",
    "query_string": b"",
    "headers": [
        (b"host", b"127.0.0.1:8000"),
        (b"upgrade", b"websocket"),
        (b"connection", b"Upgrade"),
        (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        (b"sec-websocket-version", b"13"),
    ],
    "subprotocols": [],
    "state": {},
    "extensions": {"websocket.http.response": {}},
}

# A browser's handshake as uvicorn passes it: 16 headers, 6 cookies, 5 query parameters.
SCOPE_HANDSHAKE: dict[str, Any] = {
    **SCOPE_PLAIN,
    "path": "/ws/chat",
    "raw_path": b"/ws/chat",
    "query_string": b"token=8f14e45fceea167a5a36dedd4bea2543&room=general&user=alice%40example.com&v=2&lang=en-US",
    "headers": [
        (b"host", b"chat.example.com"),
        (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
        (b"accept", b"*/*"),
        (b"accept-language", b"en-US,en;q=0.5"),
        (b"accept-encoding", b"gzip, deflate, br, zstd"),
        (b"sec-websocket-version", b"13"),
        (b"origin", b"https://chat.example.com"),
        (b"sec-websocket-extensions", b"permessage-deflate"),
        (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        (b"sec-websocket-protocol", b"chat.v2, chat.v1"),
        (b"connection", b"keep-alive, Upgrade"),
        (
            b"cookie",
            b"sessionid=3f9a1c2e7b8d4f60a1b2c3d4e5f60718; csrftoken=Zx8Yw7Vu6Ts5Rq4Po3Nm2Lk1; "
            b'theme=dark; lang=en-US; _ga=GA1.2.1234567890.1718000000; prefs="compact,notify"',
        ),
        (b"sec-fetch-dest", b"empty"),
        (b"sec-fetch-mode", b"websocket"),
        (b"pragma", b"no-cache"),
        (b"upgrade", b"websocket"),
    ],
}

CONNECT: dict[str, Any] = {"type": "websocket.connect"}
DISCONNECT: dict[str, Any] = {"type": "websocket.disconnect", "code": 1000, "reason": ""}

TEXT_64 = "The quick brown fox jumps over the lazy dog; 0123456789 abcdefghi"[:64]
BYTES_64 = bytes(range(64))
BYTES_64K = bytes(range(256)) * 256

# ~10 keys, ~200 bytes of JSON: a chat message.
JSON_SMALL: dict[str, Any] = {
    "id": 918273,
    "type": "chat.message",
    "room": "general",
    "user": "alice",
    "text": "Hello everyone, the deploy finished and all checks passed.",
    "ts": 1718000000.125,
    "seq": 42,
    "reply_to": None,
    "edited": False,
    "tags": ["deploy", "ci"],
}
# ~10 KiB: a page of 40 such messages with a cursor.
JSON_10K: dict[str, Any] = {
    "room": "general",
    "cursor": "c2VxOjQyMDA=",
    "has_more": True,
    "messages": [
        {**JSON_SMALL, "id": 918273 + i, "seq": 42 + i, "user": f"user{i % 7}", "edited": i % 5 == 0} for i in range(40)
    ],
}

# The floor's JSON: orjson when installed, else the standard library (compact, as send_json writes).
_json_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_floor_dumps: Callable[[Any], bytes] = ORJSON_DUMPS or (lambda value: _json_encode(value).encode())
_floor_loads: Callable[[Any], Any] = ORJSON_LOADS or json.loads

JSON_SMALL_TEXT = _floor_dumps(JSON_SMALL).decode()
JSON_10K_TEXT = _floor_dumps(JSON_10K).decode()


async def _send(message: Any) -> None:
    # The in-memory server's send: accepts every event.
    return None


def _receive_always(message: Any) -> Callable[[], Coroutine[Any, Any, Any]]:
    # The in-memory server's receive: returns `message` every time.
    async def receive() -> Any:
        return message

    return receive


_receive_connect = _receive_always(CONNECT)


def _connected(cls: Any, scope: dict[str, Any], receive: Any) -> Any:
    # A connection of class `cls`, accepted (untimed), whose receive then yields `receive()`.
    ws = cls(scope, _receive_connect, _send)
    drive(ws.accept())
    ws._receive = receive
    return ws


# -- the operations -------------------------------------------------------------------------------


def _accept(cls: Any, n: int) -> Batch:
    receive, send = _receive_connect, _send
    if cls is None:
        nothing = [None] * n

        async def floor() -> None:
            for _ in nothing:
                await receive()
                await send({"type": "websocket.accept", "subprotocol": None, "headers": []})

        return floor()
    sockets = [cls(SCOPE_PLAIN, receive, send) for _ in range(n)]

    async def run() -> None:
        for ws in sockets:
            await ws.accept()

    return run()


def _close(cls: Any, n: int) -> Batch:
    send = _send
    if cls is None:
        nothing = [None] * n

        async def floor() -> None:
            for _ in nothing:
                await send({"type": "websocket.close", "code": 1000, "reason": ""})

        return floor()
    sockets = [_connected(cls, SCOPE_PLAIN, _receive_connect) for _ in range(n)]

    async def run() -> None:
        for ws in sockets:
            await ws.close()

    return run()


def _send_text(data: str) -> Callable[[Any, int], Batch]:
    def build(cls: Any, n: int) -> Batch:
        send = _send
        if cls is None:

            async def floor() -> None:
                for _ in range(n):
                    await send({"type": "websocket.send", "text": data})

            return floor()
        ws = _connected(cls, SCOPE_PLAIN, _receive_connect)

        async def run() -> None:
            for _ in range(n):
                await ws.send_text(data)

        return run()

    return build


def _send_bytes(data: bytes) -> Callable[[Any, int], Batch]:
    def build(cls: Any, n: int) -> Batch:
        send = _send
        if cls is None:

            async def floor() -> None:
                for _ in range(n):
                    await send({"type": "websocket.send", "bytes": data})

            return floor()
        ws = _connected(cls, SCOPE_PLAIN, _receive_connect)

        async def run() -> None:
            for _ in range(n):
                await ws.send_bytes(data)

        return run()

    return build


def _receive_text(data: str) -> Callable[[Any, int], Batch]:
    def build(cls: Any, n: int) -> Batch:
        receive = _receive_always({"type": "websocket.receive", "text": data})
        if cls is None:

            async def floor() -> None:
                for _ in range(n):
                    (await receive())["text"]

            return floor()
        ws = _connected(cls, SCOPE_PLAIN, receive)

        async def run() -> None:
            for _ in range(n):
                await ws.receive_text()

        return run()

    return build


def _receive_bytes(data: bytes) -> Callable[[Any, int], Batch]:
    def build(cls: Any, n: int) -> Batch:
        receive = _receive_always({"type": "websocket.receive", "bytes": data})
        if cls is None:

            async def floor() -> None:
                for _ in range(n):
                    (await receive())["bytes"]

            return floor()
        ws = _connected(cls, SCOPE_PLAIN, receive)

        async def run() -> None:
            for _ in range(n):
                await ws.receive_bytes()

        return run()

    return build


def _iter_text(cls: Any, n: int) -> Batch:
    # n text messages, then the client leaves; the iterator ends on the disconnect.
    events = itertools.chain(itertools.repeat({"type": "websocket.receive", "text": TEXT_64}, n), (DISCONNECT,))
    next_event = events.__next__

    async def receive() -> Any:
        return next_event()

    if cls is None:

        async def floor() -> None:
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    break
                message["text"]

        return floor()
    ws = _connected(cls, SCOPE_PLAIN, receive)

    async def run() -> None:
        async for _ in ws.iter_text():
            pass

    return run()


def _echo(cls: Any, n: int) -> Batch:
    receive, send = _receive_always({"type": "websocket.receive", "text": TEXT_64}), _send
    if cls is None:

        async def floor() -> None:
            for _ in range(n):
                message = await receive()
                await send({"type": "websocket.send", "text": message["text"]})

        return floor()
    ws = _connected(cls, SCOPE_PLAIN, receive)

    async def run() -> None:
        for _ in range(n):
            await ws.send_text(await ws.receive_text())

    return run()


def _send_json(value: Any) -> Callable[[Any, int], Batch]:
    def build(cls: Any, n: int) -> Batch:
        send, dumps = _send, _floor_dumps
        if cls is None:

            async def floor() -> None:
                for _ in range(n):
                    await send({"type": "websocket.send", "text": dumps(value).decode()})

            return floor()
        ws = _connected(cls, SCOPE_PLAIN, _receive_connect)

        async def run() -> None:
            for _ in range(n):
                await ws.send_json(value)

        return run()

    return build


def _receive_json(text: str) -> Callable[[Any, int], Batch]:
    def build(cls: Any, n: int) -> Batch:
        receive, loads = _receive_always({"type": "websocket.receive", "text": text}), _floor_loads
        if cls is None:

            async def floor() -> None:
                for _ in range(n):
                    loads((await receive())["text"])

            return floor()
        ws = _connected(cls, SCOPE_PLAIN, receive)

        async def run() -> None:
            for _ in range(n):
                await ws.receive_json()

        return run()

    return build


def _handshake(cls: Any, n: int) -> Batch:
    # Construct from a browser's scope; read headers, query params and cookies; look up two of each.
    scope, receive, send = SCOPE_HANDSHAKE, _receive_connect, _send
    if cls is None:

        async def floor() -> None:
            for _ in range(n):
                headers = dict(scope["headers"])
                headers[b"sec-websocket-key"].decode("latin-1")
                headers[b"origin"].decode("latin-1")
                query = dict(field.partition("=")[::2] for field in scope["query_string"].decode("latin-1").split("&"))
                query["room"]
                query["token"]
                dict(c.strip().partition("=")[::2] for c in headers[b"cookie"].decode("latin-1").split(";"))

        return floor()

    async def run() -> None:
        for _ in range(n):
            ws = cls(scope, receive, send)
            headers = ws.headers
            query = ws.query_params
            _ = ws.cookies
            headers["sec-websocket-key"]
            headers["origin"]
            query["room"]
            query["token"]

    return run()


_SPEEDUP_RECEIVE = Target("speedup", 4.0)
_SPEEDUP_SEND = Target("speedup", 2.5)

#: Every operation, in table order.
OPERATIONS: tuple[Operation, ...] = (
    Operation("accept", "accept()", "lifecycle", _accept, _SPEEDUP_SEND, chunk=4096),
    Operation("close", "close()", "lifecycle", _close, _SPEEDUP_SEND, chunk=4096),
    Operation("send_text_64", "send_text 64 B", "messages", _send_text(TEXT_64), _SPEEDUP_SEND),
    Operation("receive_text_64", "receive_text 64 B", "messages", _receive_text(TEXT_64), _SPEEDUP_RECEIVE),
    Operation("send_bytes_64", "send_bytes 64 B", "messages", _send_bytes(BYTES_64), _SPEEDUP_SEND),
    Operation("send_bytes_64k", "send_bytes 64 KiB", "messages", _send_bytes(BYTES_64K), _SPEEDUP_SEND),
    Operation("receive_bytes_64", "receive_bytes 64 B", "messages", _receive_bytes(BYTES_64), _SPEEDUP_RECEIVE),
    Operation("receive_bytes_64k", "receive_bytes 64 KiB", "messages", _receive_bytes(BYTES_64K), _SPEEDUP_RECEIVE),
    Operation("iter_text", "iter_text per message", "messages", _iter_text, _SPEEDUP_RECEIVE),
    Operation("echo", "echo step (send_text(receive_text()))", "messages", _echo, Target("floor", 1.5)),
    Operation("send_json_small", "send_json ~200 B dict", "json", _send_json(JSON_SMALL), Target("speedup", 6.0)),
    Operation("send_json_10k", "send_json ~10 KiB", "json", _send_json(JSON_10K)),
    Operation(
        "receive_json_small", "receive_json ~200 B dict", "json", _receive_json(JSON_SMALL_TEXT), Target("speedup", 3.5)
    ),
    Operation("receive_json_10k", "receive_json ~10 KiB", "json", _receive_json(JSON_10K_TEXT)),
    Operation("handshake", "handshake info (16 headers)", "handshake", _handshake, Target("speedup", 5.0)),
)

_BY_KEY = {op.key: op for op in OPERATIONS}


def operation(key: str) -> Operation:
    """The operation named ``key`` (e.g. ``"send_text_64"``).

    Raises:
        KeyError: no such operation.
    """
    return _BY_KEY[key]
