"""The client of ``fastws bench --broadcast --e2e``, in its own process: ``python -m
fastws.bench._broadcast_e2e_client OPTIONS``.

It opens ``--connections`` picows WebSockets to ``ws://127.0.0.1:PORT/`` (the room) and one to
``/control``, then for each payload kind (``--payloads``, default ``text,json``) has the server
publish ``--warmup`` messages (not measured), then ``--count`` messages in bursts of ``--burst`` as
fast as it can (the throughput run: msg/s and CPU), then ``--latency-count`` messages paced at
``--latency-rate`` per second (the latency run: the time one broadcast takes to reach its
connections, without a queue built up by the throughput run). Every connection checks that it
receives messages 0, 1, 2, ... of each run, each once and in order (the sequence number at a fixed
offset of each message, see ``_broadcast_e2e_server``); the delivery latency (receipt minus
publication, both ``time.monotonic_ns()``, one clock for every process on the machine) is sampled
on every ``--sample``-th message of each connection in the throughput run (``p50_us``/``p99_us``
under full load) and on every message in the latency run (``paced_p50_us``/``paced_p99_us``). The
throughput window runs from the command to the moment every connection has its last message; the
server's CPU time (``--server-pid``, user plus system, so the kernel's work for each write counts
too) is read at both ends.

Prints one JSON line: ``{"connections", "runs": {kind: {"count", "burst", "expected", "delivered",
"in_order", "errors", "seconds", "msgs_per_s", "server_cpu_s", "cpu_us_per_msg", "p50_us",
"p99_us", "paced_rate", "paced_p50_us", "paced_p99_us", "server_cpu_share",
"client_cpu_share"}}}``. Exits 1 (with the reason on standard error) when a run does not complete
within ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from fastws.bench._e2e_client import process_cpu_seconds

__all__ = ["main", "run_client"]

#: Offsets of the sequence number and of the publication time in each kind of message.
_OFFSETS = {"text": (0, 8, 9, 29), "json": (8, 16, 23, 43)}


class _Run:
    """What every connection of one publish run reports to."""

    def __init__(self, kind: str, count: int, connections: int, sample: int, loop: asyncio.AbstractEventLoop) -> None:
        self.kind = kind
        self.count = count
        self.offsets = _OFFSETS[kind]
        self.sample = sample
        self.expected = count * connections
        self.delivered = 0
        self.errors = 0
        self.complete = 0
        self.connections = connections
        self.latencies: list[int] = []
        self.done: asyncio.Future[None] = loop.create_future()


def _percentile(sorted_ns: list[int], q: float) -> float | None:
    # The q-quantile of sorted nanoseconds, in microseconds.
    if not sorted_ns:
        return None
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * q))] / 1000


async def run_client(
    port: int,
    connections: int,
    payloads: list[str],
    count: int,
    warmup: int,
    burst: int,
    sample: int,
    timeout: float,
    server_pid: int | None,
    latency_count: int = 50,
    latency_rate: float = 50.0,
) -> dict[str, Any]:
    """Connect, run each payload kind (warm-up, then measured), close; the figures per kind.

    Raises:
        RuntimeError: a run did not complete within ``timeout`` seconds.
    """
    from picows import WSListener, WSMsgType, ws_connect

    loop = asyncio.get_running_loop()
    monotonic_ns = time.monotonic_ns
    TEXT = WSMsgType.TEXT
    state: dict[str, Any] = {"run": None}

    class Member(WSListener):
        def __init__(self) -> None:
            super().__init__()
            self.next = 0

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type != TEXT:
                return
            run: _Run | None = state["run"]
            if run is None:
                return
            data = frame.get_payload_as_bytes()
            s0, s1, t0, t1 = run.offsets
            seq = int(data[s0:s1])
            if seq != self.next:
                run.errors += 1
            self.next = seq + 1
            if seq % run.sample == 0:
                run.latencies.append(monotonic_ns() - int(data[t0:t1]))
            run.delivered += 1
            if seq == run.count - 1:
                run.complete += 1
                if run.complete == run.connections and not run.done.done():
                    run.done.set_result(None)

    class Control(WSListener):
        def __init__(self) -> None:
            super().__init__()
            self.replies: asyncio.Queue[str] = asyncio.Queue()

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == TEXT:
                self.replies.put_nowait(frame.get_payload_as_utf8_text())

    url = f"ws://127.0.0.1:{port}/"
    members: list[tuple[Any, Member]] = []
    for first in range(0, connections, 50):  # 50 handshakes at a time: the listen backlog is not the test
        batch = await asyncio.gather(
            *(ws_connect(Member, url, enable_auto_ping=False) for _ in range(min(50, connections - first)))
        )
        members.extend(batch)  # type: ignore[arg-type]
    control_transport, control = await ws_connect(Control, f"ws://127.0.0.1:{port}/control")
    assert isinstance(control, Control)

    async def publish(kind: str, n: int, every: int = sample, bursts: int = burst, interval: float = 0.0) -> _Run:
        run = _Run(kind, n, connections, every, loop)
        for _, member in members:
            member.next = 0
        state["run"] = run
        command = {"payload": kind, "count": n, "burst": bursts, "interval": interval}
        control_transport.send(TEXT, json.dumps(command).encode())
        try:
            await asyncio.wait_for(asyncio.shield(run.done), timeout)
            await asyncio.wait_for(control.replies.get(), timeout)
        except asyncio.TimeoutError:
            raise RuntimeError(
                f"{kind}: {run.delivered} of {run.expected} messages arrived within {timeout:g} s"
            ) from None
        finally:
            state["run"] = None
        return run

    results: dict[str, Any] = {}
    try:
        for kind in payloads:
            if warmup > 0:
                await publish(kind, warmup)
            cpu_start = process_cpu_seconds(server_pid) if server_pid else None
            own_start = time.process_time()
            began = time.perf_counter()
            run = await publish(kind, count)
            seconds = time.perf_counter() - began
            own_cpu = time.process_time() - own_start
            cpu_end = process_cpu_seconds(server_pid) if server_pid else None
            server_cpu = None if cpu_start is None or cpu_end is None else cpu_end - cpu_start
            latencies = sorted(run.latencies)
            paced_run = await publish(kind, latency_count, 1, 1, 1.0 / latency_rate)
            paced = sorted(paced_run.latencies)
            results[kind] = {
                "count": count,
                "burst": burst,
                "expected": run.expected,
                "delivered": run.delivered,
                "in_order": run.errors == paced_run.errors == 0
                and run.delivered == run.expected
                and paced_run.delivered == paced_run.expected,
                "errors": run.errors + paced_run.errors,
                "seconds": seconds,
                "msgs_per_s": run.delivered / seconds,
                "server_cpu_s": server_cpu,
                "cpu_us_per_msg": None if server_cpu is None else server_cpu * 1e6 / run.delivered,
                "p50_us": _percentile(latencies, 0.50),
                "p99_us": _percentile(latencies, 0.99),
                "paced_rate": latency_rate,
                "paced_p50_us": _percentile(paced, 0.50),
                "paced_p99_us": _percentile(paced, 0.99),
                "server_cpu_share": None if server_cpu is None else server_cpu / seconds,
                "client_cpu_share": own_cpu / seconds,
            }
    finally:
        for transport, _ in [*members, (control_transport, control)]:
            transport.send_close()
            transport.disconnect()
        await asyncio.wait_for(
            asyncio.gather(*(t.wait_disconnected() for t, _ in [*members, (control_transport, control)])), 10.0
        )
    return {"connections": connections, "runs": results}


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print one JSON line; 0 on success, 1 when a run did not complete."""
    parser = argparse.ArgumentParser(prog="python -m fastws.bench._broadcast_e2e_client")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--payloads", default="text,json")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--burst", type=int, default=10)
    parser.add_argument("--sample", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--latency-count", type=int, default=50)
    parser.add_argument("--latency-rate", type=float, default=50.0)
    parser.add_argument("--server-pid", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        result = runner(
            run_client(
                args.port,
                args.connections,
                [p for p in args.payloads.split(",") if p],
                args.count,
                args.warmup,
                args.burst,
                args.sample,
                args.timeout,
                args.server_pid,
                args.latency_count,
                args.latency_rate,
            )
        )
    except RuntimeError as exc:
        print(f"broadcast e2e client: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
