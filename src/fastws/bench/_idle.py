"""``fastws bench --connections N``: memory and CPU of N idle WebSockets on one uvicorn worker.

For each WebSocket protocol (default: uvicorn's default, ``auto``, and ``fastws.server``), in
the same run: one server process (``_idle_server``: uvicorn, uvloop, the fastws echo app, keepalive
pings every ``ping_interval`` seconds) and several client processes (``_idle_client``), each
holding its share of the connections from its own source address 127.0.0.2, 127.0.0.3, ... (one
source address has about 28,000 ephemeral ports; one process here may hold at most 20,000 file
descriptors, a hard limit, so the server's limit caps N and the run says so).

Phases, per protocol:

1. Warm-up (50 connections opened, echoed, closed: lazy imports, first buffers), then the baseline
   RSS (``VmRSS`` of ``/proc/PID/status``).
2. N connections opened from all clients at once: handshakes per second = N / (last handshake's
   end - first one's start), and per second of server CPU (N / the server's ``utime+stime`` over
   the opening): the clients share the machine's cores, so the second is the server's capacity.
3. One 64-byte echo on every connection, then idle for ``idle_seconds`` with pings on: RSS growth
   per connection, and the server's CPU (``utime+stime`` of ``/proc/PID/stat``) over that window.
4. ``latency_samples`` echo round trips, one at a time per client, while all N are open: p50/p99.
5. All closed (close handshake), the RSS after close.
6. Python heap: ``tracemalloc`` started in the server, ``sample`` connections opened, one echo on
   each, one and a half ping intervals, the heap still held divided by ``sample`` (with the largest
   allocation sites: the profile of one idle connection); then those are closed and tracing stops.

Every child is bounded (the server by ``--max-seconds``; clients exit when their stdin closes) and
stopped in a ``finally``.
"""

from __future__ import annotations

import json
import math
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastws.bench import _process

__all__ = ["DEFAULT_WS", "run_idle", "format_idle", "TARGETS"]

#: The rows of the default run: uvicorn's default WebSocket protocol and fastws's.
DEFAULT_WS = ("auto", "fastws")
#: Connections per client process (well under one process's descriptor limit).
_PER_CLIENT = 5000
#: Descriptors the server keeps for itself (listening socket, pipes, epoll, imports).
_SERVER_FDS = 200
#: KiB of RSS per idle connection: fastws.server's targets (issue 14), and as a fraction of uvicorn's default.
TARGETS = {False: (6.0, 0.3), True: (12.0, 0.25)}

#: The ping interval the 100,000-connection projection assumes: uvicorn's default ws_ping_interval.
_PROJECTED_PING_INTERVAL = 20.0

Progress = Callable[[str], None]


class _Child:
    """A child process that talks JSON lines (a client) or READY/JSON lines (the server)."""

    def __init__(self, argv: list[str], name: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True
        )  # Ctrl-C reaches only the parent, which stops the children in order

    def readline(self, timeout: float) -> str:
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise RuntimeError(f"{self.name}: no answer within {timeout:g} s")
        line = self.process.stdout.readline().decode(errors="replace")
        if not line:
            raise RuntimeError(f"{self.name} exited (status {self.process.poll()}); see its errors above")
        return line

    def send(self, command: dict[str, Any] | str) -> None:
        assert self.process.stdin is not None
        text = command if isinstance(command, str) else json.dumps(command)
        self.process.stdin.write(text.encode() + b"\n")
        self.process.stdin.flush()

    def ask(self, command: dict[str, Any] | str, timeout: float) -> dict[str, Any]:
        self.send(command)
        return dict(json.loads(self.readline(timeout)))

    def stop(self) -> None:
        _process.stop_child(self.process, grace=10.0, terminate=False)


def _ask_all(children: list[_Child], commands: list[dict[str, Any]], timeout: float) -> list[dict[str, Any]]:
    for child, command in zip(children, commands, strict=True):
        child.send(command)
    return [dict(json.loads(child.readline(timeout))) for child in children]


def rss_kib(pid: int) -> int:
    """The process's resident set size in KiB (``VmRSS`` of ``/proc/PID/status``, Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used (``/proc/PID/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] if ordered else float("nan")


def _check(answers: list[dict[str, Any]], key: str, expected: int, what: str) -> None:
    got = sum(a[key] for a in answers)
    if got != expected:
        errors = [e for a in answers for e in a.get("errors", [])][:5]
        raise RuntimeError(f"{what}: {got} of {expected} succeeded; first errors: {errors}")


def measure_one(
    ws: str,
    connections: int,
    *,
    deflate: bool,
    ping_interval: float,
    idle_seconds: float,
    latency_samples: int,
    sample: int,
    progress: Progress,
) -> dict[str, Any]:
    """One protocol's row (see the module docstring); raises RuntimeError when a phase fails."""
    budget = 120 + connections / 200 + idle_seconds + 3 * ping_interval
    server = _Child(
        [sys.executable, "-m", "fastws.bench._idle_server", "--ws", ws, "--ping-interval", str(ping_interval),
         "--max-seconds", str(budget)],
        f"the {ws} server",
    )  # fmt: skip
    clients: list[_Child] = []
    try:
        ready = server.readline(30).split()
        if len(ready) != 4 or ready[0] != "READY":
            raise RuntimeError(f"the {ws} server did not start: {' '.join(ready)!r}")
        port, implementation, fd_limit = int(ready[1]), ready[2], int(ready[3])
        pid = server.process.pid
        n_clients = max(2, math.ceil(connections / _PER_CLIENT))
        for i in range(n_clients):
            argv = [sys.executable, "-m", "fastws.bench._idle_client", "127.0.0.1", str(port), f"127.0.0.{2 + i}"]
            clients.append(_Child(argv + (["--deflate"] if deflate else []), f"client {i}"))
        for client in clients:
            if not json.loads(client.readline(30)).get("ready"):
                raise RuntimeError(f"{client.name} did not start")

        # Warm-up: lazy imports, first buffers, the app's first call.
        warm = _split(min(50, connections), n_clients)
        _check(_ask_all(clients, [{"cmd": "open", "count": n} for n in warm], 60), "opened", sum(warm), "warm-up")
        _check(_ask_all(clients, [{"cmd": "echo"}] * n_clients, 60), "echoed", sum(warm), "warm-up echo")
        _ask_all(clients, [{"cmd": "close"}] * n_clients, 60)
        time.sleep(1.0)

        # 2. baseline, then N handshakes from every client at once.
        baseline = rss_kib(pid)
        progress(f"{ws}: opening {connections} connections")
        shares = _split(connections, n_clients)
        cpu_open = cpu_seconds(pid)
        opened = _ask_all(
            clients, [{"cmd": "open", "count": n, "concurrency": 64} for n in shares], 60 + connections / 50
        )
        _check(opened, "opened", connections, "open")
        handshake_seconds = max(a["end"] for a in opened) - min(a["start"] for a in opened)
        handshake_cpu = cpu_seconds(pid) - cpu_open

        # 3. one echo each, idle with pings.
        _check(_ask_all(clients, [{"cmd": "echo"}] * n_clients, 60 + connections / 200), "echoed", connections, "echo")
        time.sleep(ping_interval)
        progress(f"{ws}: {connections} connections idle for {idle_seconds:g} s")
        cpu_start, wall_start = cpu_seconds(pid), time.monotonic()
        time.sleep(idle_seconds)
        idle_cpu = (cpu_seconds(pid) - cpu_start) / (time.monotonic() - wall_start)
        with_connections = rss_kib(pid)

        # 4. echo latency while all are open.
        per_client = _split(latency_samples, n_clients)
        answers = _ask_all(clients, [{"cmd": "latency", "samples": n} for n in per_client], 120)
        latencies = [x for a in answers for x in a["latencies"]]
        status = _ask_all(clients, [{"cmd": "status"}] * n_clients, 60)
        dropped = sum(a["dropped"] for a in status)
        pings = sum(a["pings"] for a in status)

        # 5. close.
        closed = _ask_all(clients, [{"cmd": "close"}] * n_clients, 60 + connections / 500)
        time.sleep(1.0)
        after_close = rss_kib(pid)

        # 6. heap per connection (tracemalloc) on a sample, last: tracing's own tables, freed when
        # it stops, would otherwise make room that the N connections reuse unseen by RSS.
        server.ask("trace-start", 10)
        shares = _split(sample, n_clients)
        _check(_ask_all(clients, [{"cmd": "open", "count": n} for n in shares], 60), "opened", sample, "sample open")
        _check(_ask_all(clients, [{"cmd": "echo"}] * n_clients, 60), "echoed", sample, "sample echo")
        time.sleep(ping_interval * 1.5)  # at least one ping and pong on each
        traced = server.ask("trace-stop", 60)
        _ask_all(clients, [{"cmd": "close"}] * n_clients, 60)
    finally:
        for child in clients:
            child.stop()
        server.stop()
    return {
        "ws": ws,
        "implementation": implementation,
        "connections": connections,
        "server_fd_limit": fd_limit,
        "deflate": deflate,
        "rss_baseline_kib": baseline,
        "rss_kib": with_connections,
        "rss_after_close_kib": after_close,
        "rss_per_connection_kib": (with_connections - baseline) / connections,
        "heap_sample": sample,
        "heap_per_connection_kib": traced["heap"] / 1024 / sample,
        "heap_sites": [[where, size / sample, count / sample] for where, size, count in traced["sites"]],
        "handshakes_per_second": connections / handshake_seconds,
        "handshakes_per_cpu_second": connections / max(handshake_cpu, 0.01),
        "echo_p50_ms": _percentile(latencies, 0.5) * 1000,
        "echo_p99_ms": _percentile(latencies, 0.99) * 1000,
        "echo_samples": len(latencies),
        "idle_cpu_percent": idle_cpu * 100,
        "idle_cpu_us_per_ping": idle_cpu * 1e6 * ping_interval / connections,
        "ping_interval": ping_interval,
        "pings_answered": pings,
        "dropped": dropped,
        "closed_cleanly": sum(a["closed"] for a in closed),
    }


def run_idle(
    connections: int = 10_000,
    *,
    deflate: bool = False,
    ws: tuple[str, ...] = DEFAULT_WS,
    ping_interval: float = 2.0,
    idle_seconds: float = 6.0,
    latency_samples: int = 1000,
    sample: int = 500,
    progress: Progress = lambda line: None,
) -> dict[str, Any]:
    """Measure every protocol in ``ws`` with ``connections`` idle WebSockets (see the module docstring).

    Args:
        connections: how many connections (int >= 1); capped at the server's descriptor limit
            minus 200 and the sample, which the result says (``capped_from``).
        deflate: offer permessage-deflate (``client_max_window_bits``, as browsers do).
        ws: uvicorn ``--ws`` values, ``fastws`` for ``fastws.server:WebSocketProtocol``.
        ping_interval: keepalive ping interval of the server, seconds.
        idle_seconds: the idle window over which server CPU is measured, seconds.
        latency_samples: echo round trips measured while all connections are open.
        sample: connections traced with tracemalloc for the heap figure.

    Returns:
        dict: ``{"connections", "capped_from", "fd_limit", "deflate", "rows": [...]}``; every row
        as :func:`measure_one` returns it.

    Raises:
        RuntimeError: a server or client failed to start, or a phase lost connections or messages.
    """
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    limit = hard - _SERVER_FDS if hard != resource.RLIM_INFINITY else connections
    capped_from = None
    if connections > limit:
        capped_from, connections = connections, limit
        progress(
            f"--connections {capped_from} capped at {connections}: one process may hold at most {hard} file "
            "descriptors here (a hard limit), and the server is one process"
        )
    sample = max(1, min(sample, connections))
    rows = []
    for name in ws:
        rows.append(
            measure_one(
                name,
                connections,
                deflate=deflate,
                ping_interval=ping_interval,
                idle_seconds=idle_seconds,
                latency_samples=latency_samples,
                sample=sample,
                progress=progress,
            )
        )
    return {"connections": connections, "capped_from": capped_from, "fd_limit": hard, "deflate": deflate, "rows": rows}


def _label(ws: str) -> str:
    return {"auto": "uvicorn default (auto)", "fastws": "fastws.server"}.get(ws, ws)


def format_idle(result: dict[str, Any], profile: bool = False) -> str:
    """The result of :func:`run_idle` as a text table, with ratios to uvicorn's default and the targets."""
    deflate = result["deflate"]
    lines = [
        f"Idle connections: {result['connections']} per server, one uvicorn worker, permessage-deflate "
        f"{'offered' if deflate else 'not offered'}, pings every {result['rows'][0]['ping_interval']:g} s"
    ]
    if result["capped_from"]:
        lines.append(
            f"(asked for {result['capped_from']}: capped by the {result['fd_limit']} file descriptors one "
            "process may hold here, a hard limit)"
        )
    header = (
        f"{'protocol':<28}{'RSS KiB/conn':>13}{'heap KiB/conn':>14}{'handshakes/s':>13}{'per CPU s':>10}"
        f"{'echo p50 ms':>12}{'p99 ms':>8}{'idle CPU %':>11}{'us/ping':>8}{'dropped':>8}"
    )
    lines += ["", header, "-" * len(header)]
    for row in result["rows"]:
        lines.append(
            f"{_label(row['ws']):<28}{row['rss_per_connection_kib']:>13.1f}{row['heap_per_connection_kib']:>14.1f}"
            f"{row['handshakes_per_second']:>13.0f}{row['handshakes_per_cpu_second']:>10.0f}{row['echo_p50_ms']:>12.2f}{row['echo_p99_ms']:>8.2f}"
            f"{row['idle_cpu_percent']:>11.1f}{row['idle_cpu_us_per_ping']:>8.1f}{row['dropped']:>8}"
        )
    rows = {row["ws"]: row for row in result["rows"]}
    base, ours = rows.get("auto"), rows.get("fastws")
    if base and ours:
        kib, ratio = TARGETS[deflate]
        rss_ratio = ours["rss_per_connection_kib"] / base["rss_per_connection_kib"]
        rate_ratio = ours["handshakes_per_cpu_second"] / base["handshakes_per_cpu_second"]
        ok = "met" if ours["rss_per_connection_kib"] <= kib and rss_ratio <= ratio else "MISSED"
        lines += [
            "",
            f"fastws.server / uvicorn default: RSS per connection {rss_ratio:.2f}x (target <= {ratio}x and "
            f"<= {kib:g} KiB: {ok}), handshakes per server CPU second {rate_ratio:.2f}x (target >= 2x: "
            f"{'met' if rate_ratio >= 2 else 'MISSED'}), echo p99 {ours['echo_p99_ms']:.2f} ms (target < 10 ms: "
            f"{'met' if ours['echo_p99_ms'] < 10 else 'MISSED'})",
        ]
    for row in result["rows"]:
        mib = row["rss_per_connection_kib"] * 100_000 / 1024
        ping_core = row["idle_cpu_us_per_ping"] * 100_000 / 1e6 / _PROJECTED_PING_INTERVAL * 100
        lines.append(
            f"{_label(row['ws'])}: RSS {row['rss_baseline_kib'] / 1024:.0f} MiB idle, {row['rss_kib'] / 1024:.0f} MiB "
            f"with the connections, {row['rss_after_close_kib'] / 1024:.0f} MiB after close; 100,000 connections "
            f"would take about {mib:,.0f} MiB more, and pings every {_PROJECTED_PING_INTERVAL:g} s (uvicorn's "
            f"default) about {ping_core:.0f}% of a core"
        )
    if profile:
        for row in result["rows"]:
            lines += ["", f"Python heap per idle connection, {_label(row['ws'])} (tracemalloc, {row['heap_sample']} "
                      f"connections): {row['heap_per_connection_kib'] * 1024:.0f} bytes; largest sites:"]  # fmt: skip
            for where, size, count in row["heap_sites"]:
                if size < 16:
                    break
                lines.append(f"  {size:>8.0f} B {count:>6.1f} blocks  {where}")
    return "\n".join(lines)
