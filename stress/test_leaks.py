"""Leak checks: a million per-message operations and ten thousand connection lifecycles keep the
process's memory flat, on both implementations.

Not in the default ``pytest`` run (``stress/`` is outside ``testpaths``); ``.ci/reliability`` runs
it: ``python -m pytest -p no:cacheprovider stress/test_leaks.py``. ``FASTWS_LEAK_OPS`` and
``FASTWS_LEAK_CYCLES`` scale the counts (defaults 1,000,000 and 10,000). A third test writes and
parses a million RFC 6455 frames with the compiled frame codec (200,000 with its pure twin).

The operations are driven without an event loop: the fake server's ``receive``/``send`` complete at
once (or, on every other lap, suspend once, so the compiled ``_Op``'s suspended path runs too),
and each coroutine is stepped by hand, so nothing but fastws allocates per operation. After a
warm-up, three numbers are taken before and after the run, with ``gc.collect()`` first:

* ``sys.getallocatedblocks()``: live pymalloc/object blocks. Bound: +2,000 blocks. A leak of one
  object in every 500 operations would exceed it.
* ``tracemalloc`` current traced size, in a separate pass with tracing on (every Python-domain
  allocation: ``PyMem_Malloc``, ``PyObject_Malloc``, ``PyMem_RawMalloc``). Bound: +256 KiB.
* RSS (``/proc/self/statm``), which also sees ``malloc`` outside Python's allocators. Bound: +4 MiB.
  Leaking 8 bytes per operation would exceed it.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import os
import sys
import tracemalloc
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

OPS = int(os.environ.get("FASTWS_LEAK_OPS", "1000000"))
CYCLES = int(os.environ.get("FASTWS_LEAK_CYCLES", "10000"))
BLOCKS_BOUND = 2_000
TRACED_BOUND = 256 * 1024
RSS_BOUND = 4 * 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(params=["c", "py"], scope="module")
def impl(request: pytest.FixtureRequest) -> SimpleNamespace:
    websocket = importlib.import_module(f"fastws.websocket._core_{request.param}")
    return SimpleNamespace(name=request.param, WebSocket=websocket.WebSocket)


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class _Suspend:
    """An awaitable that suspends once (yields to the driver), then returns ``value``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        yield None
        return self.value


class Server:
    """Fake ASGI server: ``receive`` hands out ``next_event``, ``send`` counts (or raises
    ``fail_send``); with ``suspend`` both go through one suspension."""

    def __init__(self) -> None:
        self.next_event: dict[str, Any] = {"type": "websocket.connect"}
        self.sent = 0
        self.suspend = False
        self.fail_send: BaseException | None = None

    def receive(self) -> Any:
        event = dict(self.next_event)  # a fresh event each time, as a server builds one
        return _Suspend(event) if self.suspend else _ready(event)

    def send(self, message: Any) -> Any:
        if self.fail_send is not None:
            return _raise(self.fail_send)
        self.sent += 1
        return _Suspend(None) if self.suspend else _ready(None)


async def _ready(value: Any) -> Any:
    return value


async def _raise(exc: BaseException) -> Any:
    raise exc


def drive(awaitable: Any) -> Any:
    """Step ``awaitable`` to completion (through any suspensions) and return its result."""
    coro = awaitable.__await__() if not hasattr(awaitable, "send") else awaitable
    value = None
    for _ in range(10):
        try:
            coro.send(value)
        except StopIteration as stop:
            return stop.value
    raise AssertionError("the operation did not complete")


def scope(i: int) -> dict[str, Any]:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000 + i % 1000),
        "root_path": "",
        "path": f"/ws/{i}",
        "raw_path": f"/ws/{i}".encode(),
        "query_string": f"a={i}&b=%C3%A9%zz+x&c&d=%ff".encode(),
        "headers": [
            (b"host", b"example.com:8000"),
            (b"cookie", f'sid={i}; theme="d\\"ark"; =x; y'.encode()),
            (b"x-multi", b"1"),
            (b"x-multi", b"2"),
            (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        "subprotocols": ["chat"],
        "state": {},
        "extensions": {"websocket.http.response": {}},
    }


# -- the workloads ----------------------------------------------------------------------------------

DOC = {"n": 1, "s": "h\u00e9llo \u2713", "l": [1, 2.5, None, True], "d": {"k": "v"}}
DOC_TEXT = json.dumps(DOC)
DOC_BYTES = DOC_TEXT.encode()
BLOB = bytes(range(256))


def message_ops(ws: Any, server: Server) -> list[Callable[[], Any]]:
    """One lap of per-message operations on an open connection (each item is one operation)."""
    text_event = {"type": "websocket.receive", "text": DOC_TEXT}
    bytes_event = {"type": "websocket.receive", "bytes": DOC_BYTES}

    def recv(event: dict[str, Any], op: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            server.next_event = event
            return drive(op())

        return run

    iterator = ws.iter_text()
    return [
        lambda: drive(ws.send_text("h\u00e9llo")),
        lambda: drive(ws.send_bytes(BLOB)),
        lambda: drive(ws.send_json(DOC)),
        lambda: drive(ws.send_json(DOC, mode="binary")),
        lambda: drive(ws.send({"type": "websocket.send", "text": "raw"})),
        recv(text_event, ws.receive_text),
        recv(bytes_event, ws.receive_bytes),
        recv(text_event, ws.receive_json),
        recv(bytes_event, lambda: ws.receive_json(mode="binary")),
        recv(text_event, ws.receive),
        recv(text_event, iterator.__anext__),
    ]


def run_messages(impl: SimpleNamespace, count: int) -> int:
    """``count`` operations (rounded up to whole laps) on one open connection; returns how many."""
    server = Server()
    ws = impl.WebSocket(scope(0), server.receive, server.send)
    drive(ws.accept())
    ops = message_ops(ws, server)
    done = 0
    lap = 0
    while done < count:
        server.suspend = lap % 2 == 1
        for op in ops:
            op()
        done += len(ops)
        lap += 1
    return done


def one_lifecycle(impl: SimpleNamespace, i: int) -> None:
    """Connect, read the handshake data, accept, exchange, and end in one of five ways."""
    server = Server()
    server.suspend = i % 2 == 1
    ws = impl.WebSocket(scope(i), server.receive, server.send)
    # The parsed views the compiled datastructures build from the scope.
    assert ws.query_params.getlist("a") == [str(i)]
    assert ws.cookies["sid"] == str(i)
    assert ws.headers.getlist("x-multi") == ["1", "2"]
    assert str(ws.url).startswith("ws://example.com:8000/ws/")
    end = i % 5
    if end == 4:  # closed before accept: the server answers 403
        drive(ws.close())
        return
    drive(ws.accept(subprotocol="chat", headers=[(b"x-a", b"1")]))
    server.next_event = {"type": "websocket.receive", "text": "not json"}
    try:
        drive(ws.receive_json())
    except ValueError:
        pass
    server.next_event = {"type": "websocket.receive", "bytes": b"x"}
    try:
        drive(ws.receive_text())  # bytes where text was wanted: KeyError
    except KeyError:
        pass
    drive(ws.send_text("hi"))
    if end == 0:  # the client closes
        server.next_event = {"type": "websocket.disconnect", "code": 1001, "reason": "bye"}
        try:
            drive(ws.receive_text())
        except Exception as exc:  # noqa: BLE001 - WebSocketDisconnect, checked by name
            assert type(exc).__name__ == "WebSocketDisconnect" and exc.code == 1001  # type: ignore[attr-defined]
    elif end == 1:  # the app closes, then misuses the closed connection
        drive(ws.close(code=4000, reason="done"))
        try:
            drive(ws.send_text("late"))
        except RuntimeError:
            pass
    elif end == 2:  # the client vanished: the server's send raises OSError
        server.fail_send = OSError("connection reset by peer")
        try:
            drive(ws.send_bytes(b"x"))
        except Exception as exc:  # noqa: BLE001
            assert type(exc).__name__ == "WebSocketDisconnect" and exc.code == 1006  # type: ignore[attr-defined]
    else:  # cancelled while waiting for the client (asyncio cancels by throwing into the op)
        server.suspend = True
        op = ws.receive_text()
        op.send(None)
        try:
            op.throw(asyncio.CancelledError())
        except asyncio.CancelledError:
            pass


def run_lifecycles(impl: SimpleNamespace, count: int) -> int:
    for i in range(count):
        one_lifecycle(impl, i)
    return count


# -- measurement ---------------------------------------------------------------------------------


def measure(work: Callable[[int], int], count: int) -> dict[str, int]:
    """Warm up, then run ``work(count)``; the growth of blocks, RSS and (second pass) traced bytes."""
    work(max(count // 20, 1000))  # caches, freelists, interned strings, pymalloc arenas
    gc.collect()
    blocks0, rss0 = sys.getallocatedblocks(), rss()
    done = work(count)
    gc.collect()
    blocks1, rss1 = sys.getallocatedblocks(), rss()
    tracemalloc.start()
    try:
        work(max(count // 20, 1000))
        gc.collect()
        traced0 = tracemalloc.get_traced_memory()[0]
        work(count)
        gc.collect()
        traced1 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    figures = {
        "operations": done,
        "blocks": blocks1 - blocks0,
        "rss_bytes": rss1 - rss0,
        "traced_bytes": traced1 - traced0,
    }
    print(f"memory growth: {figures}")
    return figures


def check(figures: dict[str, int]) -> None:
    assert figures["blocks"] < BLOCKS_BOUND, figures
    assert figures["traced_bytes"] < TRACED_BOUND, figures
    assert figures["rss_bytes"] < RSS_BOUND, figures


# -- the frame codec (RFC 6455), where this tree has it -------------------------------------------


def frame_module(name: str) -> Any:
    try:
        return importlib.import_module(f"fastws.protocol._frame_{name}")
    except ImportError:
        pytest.skip("this tree has no frame codec (fastws.protocol._frame_c/_frame_py)")


def run_frames(frames: Any, count: int) -> int:
    """``count`` frames (rounded up to whole laps) written and parsed: per lap a new parser is fed a
    masked client stream of 11 frames (text, a binary message in three fragments with a ping
    between, a 70,000-byte binary, a pong, a close) split at three odd places, then a new parser
    meets invalid UTF-8 (1007), an oversized message (1009) and an unmasked frame (1002)."""
    mask = b"\x01\x02\x03\x04"
    stream = b"".join(
        [
            frames.encode_frame(1, "h\u00e9llo \u2713".encode(), True, mask),
            frames.encode_frame(2, b"ab", False, mask),
            frames.encode_frame(9, b"ping", True, mask),
            frames.encode_frame(0, b"cd", False, mask),
            frames.encode_frame(0, b"ef", True, mask),
            frames.encode_frame(2, bytes(70_000), True, mask),
            frames.encode_frame(1, b"x" * 200, True, mask),
            frames.encode_frame(10, b"", True, mask),
            frames.encode_frame(1, b"", True, mask),
            frames.encode_frame(2, BLOB, True, mask),
            frames.encode_frame(8, frames.close_payload(1001, "bye \u2713"), True, mask),
        ]
    )
    bad = [
        frames.encode_frame(1, b"ok", True, mask) + frames.encode_frame(1, b"\xff\xfe", True, mask),
        frames.encode_frame(2, bytes(2000), True, mask),
        frames.encode_frame(2, b"unmasked"),
    ]
    cuts = (0, 3, 70_010, 70_400, len(stream))
    done = 0
    while done < count:
        parser = frames.FrameParser(1_000_000)
        events = []
        for a, b in zip(cuts, cuts[1:], strict=False):
            events += parser.feed(stream[a:b])
        assert len(events) == 9 and parser.closed, events
        assert frames.parse_close(events[-1][1]) == (1001, "bye \u2713")
        for data in bad:
            try:
                frames.FrameParser(1000).feed(data)
            except Exception as exc:  # noqa: BLE001 - WebSocketProtocolError, checked by its code
                assert exc.code in (1002, 1007, 1009)  # type: ignore[attr-defined]
        frames.encode_text("h\u00e9llo")
        frames.encode_frame(2, BLOB)
        frames.apply_mask(BLOB, mask)
        done += 11 + 4 + 3
    return done


@pytest.mark.parametrize("name", ["c", "py"])
def test_a_million_frames_keep_memory_flat(name: str) -> None:
    frames = frame_module(name)
    # The pure twin unmasks 70 kB per lap in Python: a fifth of the count keeps it under 15 s.
    count = OPS if name == "c" else OPS // 5
    figures = measure(lambda n: run_frames(frames, n), count)
    assert figures["operations"] >= count
    check(figures)


def test_a_million_message_operations_keep_memory_flat(impl: SimpleNamespace) -> None:
    figures = measure(lambda n: run_messages(impl, n), OPS)
    assert figures["operations"] >= OPS
    check(figures)


def test_ten_thousand_lifecycles_keep_memory_flat(impl: SimpleNamespace) -> None:
    figures = measure(lambda n: run_lifecycles(impl, n), CYCLES)
    check(figures)
