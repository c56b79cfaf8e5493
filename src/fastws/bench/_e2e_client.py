"""The load client of ``fastws bench --e2e``, run in its own process (so it never shares an
interpreter with the server it measures): ``python -m fastws.bench._e2e_client OPTIONS``.

It opens ``--connections`` WebSockets to ``ws://127.0.0.1:PORT/`` and keeps ``--window`` text
messages of ``--message-bytes`` in flight on each (1: request/response; more: pipelined): each
echo that arrives is timed against the send it answers (echoes come back in order) and a new
message goes out. After ``--warmup`` seconds the measured window of ``--duration`` seconds starts
(or ends early after ``--max-messages``); the server's CPU time (``--server-pid``) is read at both
ends of the window. Then sending stops, messages in flight drain (bounded), connections close and
one JSON line goes to standard output: ``{"client", "messages", "seconds", "msgs_per_s",
"p50_us", "p99_us", "server_cpu_s", "cpu_us_per_msg", "server_cpu_share", "client_cpu_share"}``.

Clients: picows (callbacks in Cython: the fastest), aiohttp, or websockets; ``auto`` takes the
first that imports. All connect without compression.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any, cast

__all__ = ["CLIENTS", "main", "process_cpu_seconds", "resolve_client"]

CLIENTS = ("picows", "aiohttp", "websockets")


def process_cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds used so far by process ``pid``, or ``None`` if unknown."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            times = psutil.Process(pid).cpu_times()
            return float(times.user + times.system)
        except (psutil.Error, OSError):
            return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # Fields 14 and 15 of proc(5), utime and stime, counted from the one after the comm.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def resolve_client(name: str) -> str:
    """``name``, or for ``"auto"`` the first of ``CLIENTS`` that imports.

    Raises:
        RuntimeError: ``name`` (or, for auto, every client) does not import.
    """
    candidates = CLIENTS if name == "auto" else (name,)
    for candidate in candidates:
        try:
            __import__(candidate)
        except ImportError:
            continue
        return candidate
    raise RuntimeError(
        f"no WebSocket load client available (tried {', '.join(candidates)}); install one, e.g. 'pip install picows'"
    )


class _Load:
    """Shared state of every connection: what to send, when to stop, what was measured."""

    def __init__(self, payload: str, window: int, max_messages: int) -> None:
        self.payload = payload
        self.payload_bytes = payload.encode()
        self.window = window
        self.max_messages = max_messages
        self.sending = True
        self.measuring = False
        self.count = 0
        self.latencies: list[int] = []
        self.in_flight = 0
        self.limit_reached: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None

    def echoed(self, sent_at: int, now: int) -> bool:
        # Record one echo; True when the connection should send another message.
        self.in_flight -= 1
        if self.measuring:
            self.latencies.append(now - sent_at)
            self.count += 1
            if self.count >= self.max_messages:
                self.sending = False
                if self.limit_reached is not None and not self.limit_reached.done():
                    self.limit_reached.set_result(None)
        if self.sending:
            self.in_flight += 1
            return True
        if self.in_flight == 0 and self.drained is not None and not self.drained.done():
            self.drained.set_result(None)
        return False


async def _picows_connections(url: str, load: _Load, connections: int) -> Callable[[], Any]:
    from picows import WSListener, WSMsgType, ws_connect

    perf_counter_ns = time.perf_counter_ns
    payload = load.payload_bytes
    TEXT = WSMsgType.TEXT

    class Listener(WSListener):
        def __init__(self) -> None:
            super().__init__()
            self.sent: deque[int] = deque()

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type != TEXT:
                return
            now = perf_counter_ns()
            if load.echoed(self.sent.popleft(), now):
                self.sent.append(now)
                transport.send(TEXT, payload)

        def start(self, transport: Any) -> None:
            for _ in range(load.window):
                load.in_flight += 1
                self.sent.append(perf_counter_ns())
                transport.send(TEXT, payload)

    pairs = [await ws_connect(Listener, url, enable_auto_ping=False) for _ in range(connections)]
    for transport, listener in pairs:
        cast(Listener, listener).start(transport)

    async def close() -> None:
        for transport, _ in pairs:
            transport.send_close()
            transport.disconnect()
        await asyncio.gather(*(transport.wait_disconnected() for transport, _ in pairs), return_exceptions=True)

    return close


async def _coroutine_connections(name: str, url: str, load: _Load, connections: int) -> Callable[[], Any]:
    # aiohttp or websockets: one task per connection, the same windowed loop.
    perf_counter_ns = time.perf_counter_ns
    payload = load.payload
    session = None
    if name == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession()
        sockets: list[Any] = [
            await session.ws_connect(url, compress=0, autoping=True, max_msg_size=0) for _ in range(connections)
        ]

        def sender(ws: Any) -> Any:
            return ws.send_str

        def receiver(ws: Any) -> Any:
            return ws.receive_str

        async def close_one(ws: Any) -> None:
            await ws.close()

    else:
        from websockets.asyncio.client import connect

        sockets = [await connect(url, compression=None, max_size=None, ping_interval=None) for _ in range(connections)]

        def sender(ws: Any) -> Any:
            return ws.send

        def receiver(ws: Any) -> Any:
            return ws.recv

        async def close_one(ws: Any) -> None:
            await ws.close()

    async def drive(ws: Any) -> None:
        send, recv = sender(ws), receiver(ws)
        sent: deque[int] = deque()
        for _ in range(load.window):
            load.in_flight += 1
            sent.append(perf_counter_ns())
            await send(payload)
        while sent:
            await recv()
            now = perf_counter_ns()
            if load.echoed(sent.popleft(), now):
                sent.append(now)
                await send(payload)

    tasks = [asyncio.ensure_future(drive(ws)) for ws in sockets]

    async def close() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(close_one(ws) for ws in sockets), return_exceptions=True)
        if session is not None:
            await session.close()

    return close


def _percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return float(sorted_values[index])


async def run_load(
    client: str,
    port: int,
    connections: int,
    window: int,
    duration: float,
    warmup: float,
    message_bytes: int,
    max_messages: int,
    server_pid: int | None,
) -> dict[str, Any]:
    """Drive the echo server on ``port`` and return the figures of the measured window."""
    loop = asyncio.get_running_loop()
    load = _Load("x" * message_bytes, window, max_messages)
    load.limit_reached = loop.create_future()
    url = f"ws://127.0.0.1:{port}/"
    if client == "picows":
        close = await _picows_connections(url, load, connections)
    else:
        close = await _coroutine_connections(client, url, load, connections)
    try:
        await asyncio.sleep(warmup)
        cpu_start = process_cpu_seconds(server_pid) if server_pid else None
        own_start = time.process_time()
        start = time.perf_counter()
        load.measuring = True
        try:
            await asyncio.wait_for(asyncio.shield(load.limit_reached), duration)
        except asyncio.TimeoutError:
            pass
        load.measuring = False
        seconds = time.perf_counter() - start
        own_cpu = time.process_time() - own_start
        cpu_end = process_cpu_seconds(server_pid) if server_pid else None
        load.sending = False
        load.drained = loop.create_future()
        if load.in_flight > 0:
            try:
                await asyncio.wait_for(load.drained, 2.0)
            except asyncio.TimeoutError:
                pass
    finally:
        try:
            await asyncio.wait_for(close(), 5.0)
        except (asyncio.TimeoutError, OSError):
            pass
    latencies = sorted(load.latencies)
    server_cpu = None if cpu_start is None or cpu_end is None else cpu_end - cpu_start
    return {
        "client": client,
        "messages": load.count,
        "seconds": seconds,
        "msgs_per_s": load.count / seconds if seconds > 0 else 0.0,
        "p50_us": _percentile(latencies, 0.50) / 1000,
        "p99_us": _percentile(latencies, 0.99) / 1000,
        "server_cpu_s": server_cpu,
        "cpu_us_per_msg": None if server_cpu is None or not load.count else server_cpu * 1e6 / load.count,
        # Near 1.0 the server is saturated: the client is not the bottleneck.
        "server_cpu_share": None if server_cpu is None or seconds <= 0 else server_cpu / seconds,
        # Near 1.0 the client is saturated and the figures measure it, not the server.
        "client_cpu_share": own_cpu / seconds if seconds > 0 else None,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run one load, print one JSON line; 0 on success."""
    parser = argparse.ArgumentParser(prog="python -m fastws.bench._e2e_client")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client", default="auto", choices=("auto", *CLIENTS))
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--window", type=int, default=1)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--message-bytes", type=int, default=64)
    parser.add_argument("--max-messages", type=int, default=10_000_000)
    parser.add_argument("--server-pid", type=int, default=None)
    args = parser.parse_args(argv)
    client = resolve_client(args.client)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(
        run_load(
            client,
            args.port,
            args.connections,
            args.window,
            args.duration,
            args.warmup,
            args.message_bytes,
            args.max_messages,
            args.server_pid,
        )
    )
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
