"""``fastws bench --e2e``: echo servers under uvicorn, driven over loopback by a separate client.

The servers start at once, each in its own process (``_e2e_server``): raw ASGI, Starlette's
WebSocket, fastws compiled and fastws pure (``FASTWS_NO_EXTENSIONS=1`` in that process's
environment) under uvicorn's protocol, fastws compiled under ``fastws.server``'s protocol, and
picows' own echo server (no ASGI: the physical reference; left out when picows does not import).
Every row's server CPU per message is also given relative to picows' in the same round. For every
round, mode and server (the server order rotates each round), a fresh load-client process
(``_e2e_client``) runs a bounded load against one server while the others idle.
Ratios compare servers within the same round and mode, then take the median over rounds.

With two or more CPUs the servers are pinned to one and the client to another (``--no-pin``
turns that off): unpinned, the kernel tends to run a loopback client and server on the same core.

Every child is bounded: a server exits when its stdin closes or after a deadline, a client runs for
a fixed time and is killed if it overruns; all are stopped in a ``finally`` (Ctrl-C and SIGTERM
included).
"""

from __future__ import annotations

import os
import selectors
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from fastws.bench import _process
from fastws.bench._e2e_client import resolve_client

__all__ = ["APPS", "MODES", "OPT_IN_APPS", "run_e2e"]

#: Server name -> (echo app, extra environment).
APPS: dict[str, tuple[str, dict[str, str]]] = {
    "raw": ("raw", {}),
    "starlette": ("starlette", {}),
    "fastws-c": ("fastws", {"FASTWS_NO_EXTENSIONS": "0"}),
    "fastws-py": ("fastws", {"FASTWS_NO_EXTENSIONS": "1"}),
    # The fastws-c app under fastws's own compiled WebSocket protocol instead of uvicorn's.
    "fastws-proto": ("fastws", {"FASTWS_NO_EXTENSIONS": "0", "FASTWS_BENCH_WS": "fastws.server:WebSocketProtocol"}),
    # The same under the pure-Python twins (FASTWS_NO_EXTENSIONS=1): to compare with fastws-py, the same
    # app under uvicorn's default protocol. Only when named in --apps (not in the default run).
    "fastws-proto-py": (
        "fastws",
        {"FASTWS_NO_EXTENSIONS": "1", "FASTWS_BENCH_WS": "fastws.server:WebSocketProtocol"},
    ),
    # picows' own echo server, no ASGI and no uvicorn: the reference for CPU per message.
    "picows": ("picows", {}),
}

#: (name, title, messages in flight per connection).
MODES: tuple[tuple[str, str, int], ...] = (
    ("request_response", "request/response", 1),
    ("pipelined", "pipelined x16", 16),
)

_EXPECTED_IMPLEMENTATION = {
    "fastws-c": "cython",
    "fastws-py": "python",
    "fastws-proto": "cython",
    "fastws-proto-py": "python",
    "picows": "picows",
}
#: Servers run only when named in ``apps``.
OPT_IN_APPS: frozenset[str] = frozenset({"fastws-proto-py"})
_TARGET_RATIO = 1.08
#: Issue 15's targets: fastws-proto's server CPU per message over picows', per mode (same round, median).
_PICOWS_TARGETS = {"request_response": 1.1, "pipelined": 0.9}


def default_apps() -> tuple[str, ...]:
    """Every server of ``APPS`` but ``OPT_IN_APPS``, less picows when it does not import (it is an
    optional reference)."""
    apps = tuple(a for a in APPS if a not in OPT_IN_APPS)
    try:
        import picows  # noqa: F401
    except ImportError:
        return tuple(a for a in apps if a != "picows")
    return apps


Progress = Callable[[str], None]


class _Server:
    def __init__(self, name: str, max_seconds: float, cpus: set[int] | None = None) -> None:
        app, extra_env = APPS[name]
        env = {**os.environ, **extra_env}
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fastws.bench._e2e_server", app, str(max_seconds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # Ctrl-C reaches only the parent, which stops the servers in order
        )
        _process.pin(self.process.pid, cpus)
        self.port = 0
        self.implementation = ""

    def wait_ready(self, timeout: float) -> None:
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise RuntimeError(f"the {self.name} echo server did not start within {timeout:g} s")
        line = self.process.stdout.readline().decode(errors="replace").split()
        if len(line) != 3 or line[0] != "READY":
            raise RuntimeError(
                f"the {self.name} echo server failed to start (exit status {self.process.poll()}); see its errors above"
            )
        self.port = int(line[1])
        self.implementation = line[2]
        expected = _EXPECTED_IMPLEMENTATION.get(self.name)
        if expected is not None and self.implementation != expected:
            raise RuntimeError(
                f"the {self.name} server loaded fastws implementation {self.implementation!r}, "
                f"expected {expected!r} (is the extension built?)"
            )

    def stop(self) -> None:
        _process.stop_child(self.process, grace=3.0)


def _run_client(server: _Server, client: str, window: int, options: dict[str, Any]) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "fastws.bench._e2e_client",
        "--port", str(server.port),
        "--client", client,
        "--connections", str(options["connections"]),
        "--window", str(window),
        "--duration", str(options["duration"]),
        "--warmup", str(options["warmup"]),
        "--message-bytes", str(options["message_bytes"]),
        "--max-messages", str(options["max_messages"]),
        "--server-pid", str(server.process.pid),
    ]  # fmt: skip
    timeout = options["duration"] + options["warmup"] + 20.0
    return _process.run_json_client(command, options["client_cpus"], timeout, f"the load client against {server.name}")


def run_e2e(
    rounds: int = 5,
    duration: float = 1.5,
    warmup: float = 0.5,
    connections: int = 16,
    message_bytes: int = 64,
    client: str = "auto",
    apps: tuple[str, ...] | None = None,
    progress: Progress | None = None,
    pin: bool = True,
) -> dict[str, Any]:
    """Run the end-to-end suite and return its figures (JSON-ready).

    ``apps`` (names of ``APPS``) defaults to ``default_apps()``. With ``picows`` among them every
    cell also has ``cpu_vs_picows`` (this server's CPU per message over picows' in the same round,
    median: < 1 is cheaper than picows) and ``cpu_vs_picows_per_round``; the document then has
    ``picows_targets``, issue 15's targets for ``fastws-proto`` against picows.

    Raises:
        RuntimeError: a server did not start, loaded the wrong implementation, or a client failed.
        KeyboardInterrupt: interrupted; every child process has been stopped.
    """
    import uvicorn

    if apps is None:
        apps = default_apps()
    from uvicorn.config import WS_PROTOCOLS

    client = resolve_client(client)
    server_cpus, client_cpus = _process.cpu_plan(pin)
    options = {
        "client_cpus": client_cpus,
        "duration": duration,
        "warmup": warmup,
        "connections": connections,
        "message_bytes": message_bytes,
        "max_messages": 20_000_000,
    }
    # Each measurement: client start-up, warm-up, the window, drain and close.
    per_run = duration + warmup + 2.0
    max_seconds = 60.0 + per_run * rounds * len(MODES) * len(apps) * 2
    started = time.perf_counter()
    servers: list[_Server] = []
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {m[0]: {a: [] for a in apps} for m in MODES}
    with _process.sigterm_as_interrupt():
        try:
            for name in apps:
                servers.append(_Server(name, max_seconds, server_cpus))
            for server in servers:
                server.wait_ready(30.0)
            total = rounds * len(MODES) * len(servers)
            done = 0
            for r in range(rounds):
                shift = r % len(servers)
                for mode, title, window in MODES:
                    for server in servers[shift:] + servers[:shift]:
                        done += 1
                        if progress is not None:
                            progress(f"[{done}/{total}] round {r + 1}, {title}, {server.name}")
                        samples[mode][server.name].append(_run_client(server, client, window, options))
        finally:
            for server in servers:
                server.stop()
    ws_protocol = WS_PROTOCOLS["auto"] or "none"
    try:
        from uvicorn.protocols.websockets.auto import AutoWebSocketsProtocol

        ws_name = getattr(AutoWebSocketsProtocol, "__name__", ws_protocol)
    except ImportError:
        ws_name = ws_protocol

    results: dict[str, dict[str, Any]] = {}
    for mode, _, _ in MODES:
        results[mode] = {}
        for app in apps:
            runs = samples[mode][app]
            cpu = [s["cpu_us_per_msg"] for s in runs if s["cpu_us_per_msg"] is not None]
            share = [s["server_cpu_share"] for s in runs if s.get("server_cpu_share") is not None]
            client_share = [s["client_cpu_share"] for s in runs if s.get("client_cpu_share") is not None]
            cell: dict[str, Any] = {
                "msgs_per_s": statistics.median(s["msgs_per_s"] for s in runs),
                "p50_us": statistics.median(s["p50_us"] for s in runs),
                "p99_us": statistics.median(s["p99_us"] for s in runs),
                "cpu_us_per_msg": statistics.median(cpu) if cpu else None,
                "server_cpu_share": statistics.median(share) if share else None,
                "client_cpu_share": statistics.median(client_share) if client_share else None,
                "rounds": runs,
            }
            if "starlette" in apps:
                ratios = [
                    s["msgs_per_s"] / b["msgs_per_s"]
                    for s, b in zip(runs, samples[mode]["starlette"], strict=True)
                    if b["msgs_per_s"] > 0
                ]
                cell["ratio_vs_starlette"] = statistics.median(ratios) if ratios else None
                cell["ratios_per_round"] = ratios
                # Starlette's server CPU per message over this app's, per round: > 1 is cheaper.
                # Steadier than msg/s on a shared machine (a descheduled server uses no CPU).
                cpu_ratios = [
                    b["cpu_us_per_msg"] / s["cpu_us_per_msg"]
                    for s, b in zip(runs, samples[mode]["starlette"], strict=True)
                    if s["cpu_us_per_msg"] and b["cpu_us_per_msg"]
                ]
                cell["cpu_ratio_vs_starlette"] = statistics.median(cpu_ratios) if cpu_ratios else None
            if "picows" in apps:
                # This app's server CPU per message over picows', per round: 1.0 is picows' cost.
                picows_ratios = [
                    s["cpu_us_per_msg"] / b["cpu_us_per_msg"]
                    for s, b in zip(runs, samples[mode]["picows"], strict=True)
                    if s["cpu_us_per_msg"] and b["cpu_us_per_msg"]
                ]
                cell["cpu_vs_picows"] = statistics.median(picows_ratios) if picows_ratios else None
                cell["cpu_vs_picows_per_round"] = picows_ratios
            results[mode][app] = cell
    picows_targets = None
    if "picows" in apps and "fastws-proto" in apps:
        picows_targets = []
        for mode, value in _PICOWS_TARGETS.items():
            ratio = results[mode]["fastws-proto"].get("cpu_vs_picows")
            picows_targets.append(
                {
                    "mode": mode,
                    "app": "fastws-proto",
                    "value": value,
                    "ratio": ratio,
                    "met": None if ratio is None else ratio <= value,
                }
            )
    target = None
    if "starlette" in apps and "fastws-c" in apps:
        ratio = results["request_response"]["fastws-c"].get("ratio_vs_starlette")
        target = {
            "value": _TARGET_RATIO,
            "ratio": ratio,
            "met": None if ratio is None else ratio >= _TARGET_RATIO,
        }
    return {
        "config": {
            "uvicorn": uvicorn.__version__,
            "uvicorn_ws": ws_name,
            "loop": "uvloop",
            "client": client,
            "connections": connections,
            "message_bytes": message_bytes,
            "rounds": rounds,
            "server_cpus": sorted(server_cpus) if server_cpus else None,
            "client_cpus": sorted(client_cpus) if client_cpus else None,
            "duration": duration,
            "warmup": warmup,
            "seconds": round(time.perf_counter() - started, 1),
        },
        "apps": list(apps),
        "modes": [{"name": m, "title": t, "window": w} for m, t, w in MODES],
        "results": results,
        "target": target,
        "picows_targets": picows_targets,
    }
