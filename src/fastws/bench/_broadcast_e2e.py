"""``fastws bench --broadcast --e2e``: fan-out over real sockets.

For each row of ``ROWS`` (see ``_broadcast_e2e_server``: uvicorn's default protocol with the plain
Starlette loop, ``fastws.server`` with ``fastws.broadcast`` through each ``WebSocket``, and
``fastws.server`` with the frame-level path), a server process holds ``connections`` (default
1,000) WebSockets opened by a picows client in another process (``_broadcast_e2e_client``), and
publishes ``count`` messages to all of them, a 64 B text and then a small JSON (~200 B), in bursts
of ``burst`` broadcasts per event-loop iteration, as fast as it can, then ``latency_count``
messages paced at ``latency_rate`` per second. Reported per row and payload: messages delivered per
second and the server's CPU time (user + system: the kernel's work for every write counts) per
delivered message in the throughput run, the p50/p99 delivery latency of the paced run (publication
to receipt), and whether every client got every message of both runs once and in order. The ratio
column compares each row's server CPU per message with the first row's in the same run (repeated
over ``rounds``, medians).

With two or more CPUs the server is pinned to one and the client to another (as ``--e2e``). Every
child is bounded in time and stopped in a ``finally``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from fastws.bench import _process
from fastws.bench._broadcast_e2e_server import ROWS
from fastws.bench._e2e import _Server
from fastws.bench._e2e_client import resolve_client

__all__ = ["PAYLOADS", "ROWS", "format_broadcast_e2e", "run_broadcast_e2e"]

#: (kind, title).
PAYLOADS: tuple[tuple[str, str], ...] = (("text", "64 B text"), ("json", "small JSON"))
#: The frame-level path's target: at most this much server CPU per delivered message (us), and at
#: least this many times less than the first row (uvicorn's default protocol + the Starlette loop).
TARGET_CPU_US = 1.5
TARGET_CPU_RATIO = 5.0

Progress = Callable[[str], None]


class _BroadcastServer(_Server):
    # The echo benchmark's server process handling, running the broadcast server module instead.
    def __init__(self, row: str, max_seconds: float, cpus: set[int] | None) -> None:
        env = {**os.environ, "FASTWS_NO_EXTENSIONS": "0"}
        self.name = row
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fastws.bench._broadcast_e2e_server", row, str(max_seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        _process.pin(self.process.pid, cpus)
        self.port = 0
        self.implementation = ""


def _run_client(server: _BroadcastServer, options: dict[str, Any]) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "fastws.bench._broadcast_e2e_client",
        "--port", str(server.port),
        "--connections", str(options["connections"]),
        "--payloads", ",".join(kind for kind, _ in PAYLOADS),
        "--count", str(options["count"]),
        "--warmup", str(options["warmup"]),
        "--burst", str(options["burst"]),
        "--timeout", str(options["timeout"]),
        "--latency-count", str(options["latency_count"]),
        "--latency-rate", str(options["latency_rate"]),
        "--server-pid", str(server.process.pid),
    ]  # fmt: skip
    timeout = options["timeout"] * 2 * len(PAYLOADS) + 60.0
    what = f"the broadcast client against {server.name}"
    return _process.run_json_client(command, options["client_cpus"], timeout, what)


def run_broadcast_e2e(
    *,
    connections: int = 1000,
    count: int = 200,
    warmup: int = 20,
    burst: int = 10,
    rounds: int = 1,
    rows: tuple[str, ...] = tuple(ROWS),
    progress: Progress | None = None,
    pin: bool = True,
    timeout: float = 60.0,
    latency_count: int = 50,
    latency_rate: float = 50.0,
) -> dict[str, Any]:
    """Run the real-socket broadcast suite (module docstring) and return its figures.

    Args:
        connections (int): client connections in the room.
        count (int): messages per measured run (each delivered to every connection).
        warmup (int): messages published before each measured run, not measured.
        burst (int): broadcasts per event-loop iteration of the publisher.
        rounds (int): repetitions of every row; figures are medians.
        rows (tuple[str, ...]): a subset of ``ROWS``, in table order.
        progress (Callable[[str], None] | None): receives one line per server run.
        pin (bool): pin server and client to separate CPUs when there are two or more.
        timeout (float): seconds one publish run may take before the suite fails.
        latency_count (int): messages of the paced run. latency_rate (float): its messages per second.

    Returns:
        dict: ``{"config", "rows", "results": {row: {kind: {"msgs_per_s", "cpu_us_per_msg",
        "p50_us", "p99_us" (paced), "loaded_p50_us", "loaded_p99_us" (throughput run), "in_order",
        "cpu_ratio_vs_first", "rounds": [...]}}}, "target"}``.

    Raises:
        ValueError: an unknown row.
        RuntimeError: picows is not installed (``pip install "fastws[bench]"``), a server did not
            start, or a client failed or saw a message missing or out of order after ``timeout``.
        KeyboardInterrupt: interrupted; the children are stopped.
    """
    import uvicorn

    unknown = [row for row in rows if row not in ROWS]
    if unknown or not rows:
        raise ValueError(f"unknown broadcast rows {unknown or rows!r}: choose from {', '.join(ROWS)}")
    resolve_client("picows")  # the client process needs it: say so before starting any server
    server_cpus, client_cpus = _process.cpu_plan(pin)
    options = {
        "client_cpus": client_cpus,
        "connections": connections,
        "count": count,
        "warmup": warmup,
        "burst": burst,
        "timeout": timeout,
        "latency_count": latency_count,
        "latency_rate": latency_rate,
    }
    started = time.perf_counter()
    samples: dict[str, list[dict[str, Any]]] = {row: [] for row in rows}
    total = rounds * len(rows)
    done = 0
    with _process.sigterm_as_interrupt():
        for r in range(rounds):
            shift = r % len(rows)
            for row in rows[shift:] + rows[:shift]:
                done += 1
                if progress is not None:
                    progress(f"[{done}/{total}] round {r + 1}, {row}: {connections} connections")
                server = _BroadcastServer(row, timeout * 2 * len(PAYLOADS) + 120.0, server_cpus)
                try:
                    server.wait_ready(30.0)
                    samples[row].append(_run_client(server, options))
                finally:
                    server.stop()
    first = rows[0]
    results: dict[str, dict[str, Any]] = {}
    for row in rows:
        results[row] = {}
        for kind, _ in PAYLOADS:
            runs = [sample["runs"][kind] for sample in samples[row]]
            cpu = [run["cpu_us_per_msg"] for run in runs if run["cpu_us_per_msg"] is not None]
            cell: dict[str, Any] = {
                "msgs_per_s": statistics.median(run["msgs_per_s"] for run in runs),
                "cpu_us_per_msg": statistics.median(cpu) if cpu else None,
                "p50_us": statistics.median(run["paced_p50_us"] for run in runs),
                "p99_us": statistics.median(run["paced_p99_us"] for run in runs),
                "loaded_p50_us": statistics.median(run["p50_us"] for run in runs),
                "loaded_p99_us": statistics.median(run["p99_us"] for run in runs),
                "in_order": all(run["in_order"] for run in runs),
                "server_cpu_share": statistics.median(run["server_cpu_share"] or 0.0 for run in runs),
                "client_cpu_share": statistics.median(run["client_cpu_share"] for run in runs),
                "rounds": runs,
            }
            ratios = [
                base["cpu_us_per_msg"] / run["cpu_us_per_msg"]
                for run, base in zip(runs, (s["runs"][kind] for s in samples[first]), strict=True)
                if run["cpu_us_per_msg"] and base["cpu_us_per_msg"]
            ]
            cell["cpu_ratio_vs_first"] = statistics.median(ratios) if ratios else None
            results[row][kind] = cell
    target = None
    if "fastws-frames" in rows and first == "uvicorn-starlette":
        frames = results["fastws-frames"]
        target = {
            "cpu_us": TARGET_CPU_US,
            "ratio": TARGET_CPU_RATIO,
            "met": {
                kind: bool(
                    frames[kind]["cpu_us_per_msg"] is not None
                    and frames[kind]["cpu_us_per_msg"] <= TARGET_CPU_US
                    and (frames[kind]["cpu_ratio_vs_first"] or 0.0) >= TARGET_CPU_RATIO
                )
                for kind, _ in PAYLOADS
            },
        }
    return {
        "config": {
            "uvicorn": uvicorn.__version__,
            "connections": connections,
            "count": count,
            "warmup": warmup,
            "burst": burst,
            "latency_count": latency_count,
            "latency_rate": latency_rate,
            "rounds": rounds,
            "server_cpus": sorted(server_cpus) if server_cpus else None,
            "client_cpus": sorted(client_cpus) if client_cpus else None,
            "seconds": round(time.perf_counter() - started, 1),
        },
        "rows": list(rows),
        "results": results,
        "target": target,
    }


def format_broadcast_e2e(result: dict[str, Any]) -> str:
    """The real-socket broadcast table: per row and payload, delivered msg/s, server CPU per
    delivered message and its ratio to the first row, latency, and the in-order check."""
    config = result["config"]
    pinned = (
        f"server pinned to CPU {','.join(map(str, config['server_cpus']))}, client to CPU "
        f"{','.join(map(str, config['client_cpus']))}"
        if config.get("server_cpus")
        else "not pinned"
    )
    lines = [
        f"Broadcast over loopback: one server process holding {config['connections']} picows client connections "
        f"(another process), {config['count']} messages per payload in bursts of {config['burst']} (then "
        f"{config['latency_count']} at {config['latency_rate']:g}/s for the latency), "
        f"uvicorn {config['uvicorn']} + uvloop, {pinned}; {config['rounds']} round(s) ({config['seconds']:g} s).",
        "  CPU = server CPU (user+system) per delivered message; vs first = the first row's CPU per message over this"
        " row's (> 1 is cheaper);",
        "  latency = publication to receipt at the paced rate; in order = every client got every message once, in"
        " order;",
        "  busy = each process's CPU time over the throughput run (well below 100%: other load took the CPU).",
        "",
    ]
    head = (
        f"{'payload':<11} {'server + fan-out':<20} {'msg/s':>10} {'CPU us/msg':>10} {'vs first':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'in order':>8} {'server busy':>11} {'client busy':>11}"
    )
    lines += [head, "-" * len(head)]
    for kind, title in PAYLOADS:
        for row in result["rows"]:
            cell = result["results"][row][kind]
            cpu = cell["cpu_us_per_msg"]
            ratio = cell["cpu_ratio_vs_first"]
            lines.append(
                f"{title:<11} {row:<20} {cell['msgs_per_s']:>10,.0f} {'-' if cpu is None else f'{cpu:.2f}':>10} "
                f"{'-' if ratio is None else f'{ratio:.1f}x':>8} {cell['p50_us'] / 1000:>7.1f} "
                f"{cell['p99_us'] / 1000:>7.1f} {'yes' if cell['in_order'] else 'NO':>8} "
                f"{cell['server_cpu_share']:>10.0%} {cell['client_cpu_share']:>11.0%}"
            )
    target = result.get("target")
    if target:
        met = ", ".join(f"{kind} {'met' if ok else 'MISSED'}" for kind, ok in target["met"].items())
        lines.append(
            f"target (fastws-frames): <= {target['cpu_us']} us server CPU per delivered message and >= "
            f"{target['ratio']:g}x less than the first row: {met}"
        )
    return "\n".join(lines)
