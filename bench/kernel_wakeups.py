"""Why fastws.server spends more kernel time per message than picows' server (issue 15; docs/protocol.md).

Usage (Linux, root or ``perf_event_paranoid`` <= 1, ``perf`` on PATH)::

    python bench/kernel_wakeups.py [--seconds 3] [--rounds 2] [--apps fastws-proto,picows,picows-spin3]

Under the request/response load of ``fastws bench --e2e`` (picows load client, 16 connections, one
64 B text message in flight on each; server pinned to the first CPU, client to the second), it counts
per echoed message, in the server process over the same window: its user and system CPU time
(``/proc/PID/stat``), its syscalls, ``epoll_pwait`` calls and context switches, and the wake-ups
and IPIs it causes (``sched:sched_wakeup``, ``ipi:ipi_send_cpu``: tracepoints, counted by ``perf
stat``, no sampling). Apps:

- ``fastws-proto``: uvicorn + uvloop + ``fastws.server`` + the compiled fastws echo app;
- ``picows``: picows' own echo server (``on_ws_frame`` sends each frame back);
- ``picows-spinN``: the same picows server spinning N microseconds in ``on_ws_frame`` before it
  replies: N microseconds more user time per message and nothing else (same syscalls);
- ``picows-soon``: the same picows server replying from a ``call_soon`` callback (reads first,
  writes after, as an asyncio app's task does).

Loopback TCP does the receiving socket's protocol work in the sender's syscall, and ``write`` wakes
the peer if it sleeps in ``epoll_wait``: waking a sleeping process on another CPU is an IPI, charged
to the writer's system time. The spin variants show how that count follows the server's own
user-space time. Every child is bounded in time and stopped in a ``finally``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

_EVENTS = (
    "context-switches",
    "raw_syscalls:sys_enter",
    "syscalls:sys_enter_epoll_pwait",
    "sched:sched_wakeup",
    "ipi:ipi_send_cpu",
)


def _serve_picows(mode: str, max_seconds: float) -> None:
    # The picows echo server of fastws.bench._e2e_server, with a spin or a deferred reply.
    from time import perf_counter

    import uvloop
    from picows import WSListener, WSMsgType, ws_create_server

    close = WSMsgType.CLOSE
    spin = float(mode[4:]) * 1e-6 if mode.startswith("spin") else 0.0
    soon = mode == "soon"

    class Echo(WSListener):
        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == close:
                transport.send_close(frame.get_close_code(), frame.get_close_message())
                transport.disconnect()
                return
            if soon:
                asyncio.get_running_loop().call_soon(transport.send, frame.msg_type, frame.get_payload_as_bytes())
                return
            if spin:
                end = perf_counter() + spin
                while perf_counter() < end:
                    pass
            transport.send(frame.msg_type, frame.get_payload_as_bytes())

    async def run() -> None:
        server = await ws_create_server(lambda request: Echo(), "127.0.0.1", 0)
        print(f"READY {server.sockets[0].getsockname()[1]} picows", flush=True)
        await asyncio.sleep(max_seconds)

    uvloop.run(run())


def _start(app: str, max_seconds: float, cpu: int) -> tuple[subprocess.Popen[bytes], int]:
    env = dict(os.environ)
    if app == "fastws-proto":
        env.update(FASTWS_NO_EXTENSIONS="0", FASTWS_BENCH_WS="fastws.server:WebSocketProtocol")
        argv = [sys.executable, "-m", "fastws.bench._e2e_server", "fastws", str(max_seconds)]
    elif app == "picows":
        argv = [sys.executable, "-m", "fastws.bench._e2e_server", "picows", str(max_seconds)]
    elif app.startswith("picows-"):
        argv = [sys.executable, __file__, "--serve", app[len("picows-") :], "--seconds", str(max_seconds)]
    else:
        raise SystemExit(f"unknown app {app!r}")
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True)
    os.sched_setaffinity(process.pid, {cpu})
    assert process.stdout is not None
    line = process.stdout.readline().decode().split()
    if len(line) != 3 or line[0] != "READY":
        process.kill()
        process.wait()
        raise RuntimeError(f"the {app} server did not start")
    return process, int(line[1])


def _cpu(pid: int) -> tuple[float, float]:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def measure(app: str, seconds: float, cpus: list[int]) -> dict[str, Any]:
    """One window of ``seconds`` under load: the per-message counts of ``app``'s server."""
    server, port = _start(app, seconds + 60, cpus[0])
    client = None
    try:
        command = [
            sys.executable, "-m", "fastws.bench._e2e_client", "--port", str(port), "--client", "picows",
            "--connections", "16", "--window", "1", "--duration", str(seconds + 1), "--warmup", "0.5",
            "--server-pid", str(server.pid),
        ]  # fmt: skip
        client = subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True)
        os.sched_setaffinity(client.pid, {cpus[1]})
        time.sleep(1.0)
        user0, sys0 = _cpu(server.pid)
        start = time.monotonic()
        stat = subprocess.run(
            ["perf", "stat", "-x", ",", "-e", ",".join(_EVENTS), "-p", str(server.pid), "--", "sleep", str(seconds)],
            capture_output=True, text=True, timeout=seconds + 30,
        )  # fmt: skip
        elapsed = time.monotonic() - start
        user1, sys1 = _cpu(server.pid)
        out, _ = client.communicate(timeout=seconds + 30)
    finally:
        for child in (client, server):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait()
    figures = json.loads(out.decode().strip().splitlines()[-1])
    messages = figures["msgs_per_s"] * elapsed
    row: dict[str, Any] = {
        "app": app,
        "msgs_per_s": round(figures["msgs_per_s"]),
        "user_us": round((user1 - user0) * 1e6 / messages, 2),
        "sys_us": round((sys1 - sys0) * 1e6 / messages, 2),
    }
    for line in stat.stderr.splitlines():
        parts = line.split(",")
        if len(parts) > 3 and parts[0].strip().isdigit():
            row[parts[2].split(":")[-1]] = round(int(parts[0]) / messages, 3)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--apps", default="fastws-proto,picows,picows-spin3")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve_picows(args.serve, args.seconds)
        return 0
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("needs two CPUs: the server on one, the client on the other")
    apps = args.apps.split(",")
    print("app            msg/s   user us  sys us  syscalls  epoll_pwait  ctx-sw  wake-ups  IPIs  (per message)")
    for round_ in range(args.rounds):
        for app in apps if round_ % 2 == 0 else apps[::-1]:  # alternate the order, round by round
            r = measure(app, args.seconds, cpus)
            print(
                f"{r['app']:<14} {r['msgs_per_s']:>7,} {r['user_us']:>8.2f} {r['sys_us']:>7.2f} "
                f"{r.get('sys_enter', 0):>9.2f} {r.get('sys_enter_epoll_pwait', 0):>12.3f} "
                f"{r.get('context-switches', 0):>7.3f} {r.get('sched_wakeup', 0):>9.3f} "
                f"{r.get('ipi_send_cpu', 0):>5.3f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
