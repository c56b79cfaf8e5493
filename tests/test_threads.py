"""Threads: the contract the free-threaded (3.14t) wheels are declared under.

fastws objects follow asyncio's rule: a WebSocket, its headers/query params, a frame parser belong
to the event loop (so the thread) that made them and are never shared between threads; nothing
locks them. What may run in parallel is everything else: several event loops in several threads,
each with its own connections, through the same compiled modules, whose module-level state is
constants only. This smoke test does exactly that on both implementations; on a free-threaded
interpreter (the 3.14t job of .github/workflows/ci.yml) the threads truly run at once, and the
GIL must stay disabled after the compiled modules load (they declare ``freethreading_compatible``).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import random
import subprocess
import sys
import sysconfig
import threading
from typing import Any

import pytest
from conftest import make_scope

from fastws.protocol._frame_types import OP_BINARY, OP_TEXT

THREADS = 4
CONNECTIONS = 6  # per thread, served concurrently on that thread's loop
ROUNDS = 60  # per connection
MASK = b"\x91\x2c\x07\xe3"


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


async def one_connection(impl: Any, tid: int, cid: int) -> list[dict[str, Any]]:
    """Accept, then ROUNDS times receive JSON and bytes and send JSON and text, then close; returns
    what the app sent. The receive queue makes every receive suspend, so the loop interleaves the
    thread's connections."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=4)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [*make_scope()["headers"], (b"x-conn", f"{tid}-{cid}".encode())]
    ws = impl.WebSocket(
        make_scope(query_string=f"t={tid}&c={cid}".encode(), headers=headers), receive, send
    )
    await inbox.put({"type": "websocket.connect"})
    await ws.accept()
    assert ws.headers["x-conn"] == f"{tid}-{cid}"
    assert ws.query_params["t"] == str(tid) and ws.query_params["c"] == str(cid)
    for i in range(ROUNDS):
        payload = {"t": tid, "c": cid, "i": i, "f": i / 7, "big": 1e16 * (i + 1), "s": "é" * (i % 5)}
        await inbox.put({"type": "websocket.receive", "text": compact(payload)})
        assert await ws.receive_json() == payload
        await ws.send_json(payload)
        await inbox.put({"type": "websocket.receive", "bytes": bytes([tid, cid, i % 256])})
        assert await ws.receive_bytes() == bytes([tid, cid, i % 256])
        await ws.send_text(f"{tid}:{cid}:{i}")
    await ws.close(1000, f"bye {tid}-{cid}")
    return sent


def parse_frames(frame: Any, tid: int) -> None:
    """A frame parser per thread, fed masked frames split at random points."""
    rng = random.Random(tid)
    messages = [(OP_TEXT, f"thread {tid} message {i} " * (i % 9)) for i in range(200)]
    messages += [(OP_BINARY, bytes(rng.randrange(256) for _ in range(i % 300))) for i in range(200)]
    wire = b"".join(
        frame.encode_frame(op, data.encode() if isinstance(data, str) else data, mask=MASK) for op, data in messages
    )
    parser = frame.FrameParser()
    events: list[Any] = []
    at = 0
    while at < len(wire):
        step = rng.randrange(1, 700)
        events.extend(parser.feed(wire[at : at + step]))
        at += step
    assert events == messages


def run_thread(impl: Any, tid: int, barrier: threading.Barrier) -> None:
    frame = importlib.import_module(f"fastws.protocol._frame_{impl.name}")
    barrier.wait(timeout=30)

    async def main() -> list[list[dict[str, Any]]]:
        return await asyncio.gather(*(one_connection(impl, tid, cid) for cid in range(CONNECTIONS)))

    results = asyncio.run(main())
    for cid, sent in enumerate(results):
        assert sent[0] == {"type": "websocket.accept", "subprotocol": None, "headers": []}
        assert sent[-1] == {"type": "websocket.close", "code": 1000, "reason": f"bye {tid}-{cid}"}
        body = sent[1:-1]
        assert len(body) == 2 * ROUNDS
        for i in range(ROUNDS):
            payload = {"t": tid, "c": cid, "i": i, "f": i / 7, "big": 1e16 * (i + 1), "s": "é" * (i % 5)}
            assert body[2 * i] == {"type": "websocket.send", "text": compact(payload)}
            assert body[2 * i + 1] == {"type": "websocket.send", "text": f"{tid}:{cid}:{i}"}
    parse_frames(frame, tid)


def test_event_loops_in_parallel_threads_each_with_its_own_connections(impl: Any) -> None:
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def target(tid: int) -> None:
        try:
            run_thread(impl, tid, barrier)
        except BaseException as exc:  # noqa: BLE001 - reported below, with the thread's traceback
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(tid,), name=f"fastws-{tid}") for tid in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish in 120 s"
    if errors:
        raise errors[0]


@pytest.mark.compiled
def test_free_threaded_interpreter_keeps_the_gil_disabled() -> None:
    if not sysconfig.get_config_var("Py_GIL_DISABLED"):
        pytest.skip("not a free-threaded interpreter (Py_GIL_DISABLED is not set)")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHON_GIL", "FASTWS_NO_EXTENSIONS")}
    code = (
        "import sys, fastws, fastws.codec._json_c, fastws.datastructures._core_c, fastws.protocol._frame_c, "
        "fastws.websocket._core_c; "
        "print(fastws.IMPLEMENTATION, sys._is_gil_enabled())"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # An extension that did not declare itself free-threading compatible re-enables the GIL (with
    # a RuntimeWarning) when it is imported.
    assert result.stdout.split() == ["cython", "False"], (result.stdout, result.stderr)
