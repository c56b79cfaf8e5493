"""Where a request/response echo spends the server's CPU, by layer (issue 15; table in docs/protocol.md).

Usage (Linux, root or ``perf_event_paranoid`` <= 1 for perf, ptrace rights for py-spy)::

    python bench/profile_layers.py [--seconds 6] [--connections 16] [--window 1]

It starts the ``fastws-proto`` echo server of ``fastws bench --e2e`` (uvicorn + ``fastws.server`` +
compiled fastws) and picows' own echo server, each in its own process, drives each with the picows
load client of ``fastws bench --e2e`` (``--window`` messages in flight per connection; 1 is
request/response) and profiles the server with two tools, one after the other, under the same load:

- ``perf record -e cpu-clock`` (software clock: counts only while the server is on a CPU): the share of
  the server's CPU spent in the kernel (the socket syscalls, TCP over loopback, epoll, scheduling) and
  in each shared object (uvloop, libpython, the compiled modules);
- ``py-spy record --native`` (wall-clock samples with Python and native frames): splits the user-space
  part by layer, each sample going to the nearest frame that names one (``LAYERS``); samples whose
  leaf is a syscall wrapper or ``epoll_pwait`` are left to perf's kernel share.

The table: kernel share from perf, the user-space share split in py-spy's proportions, each also in
microseconds per message using the server CPU per message (/proc, the load client's figure) of the
perf window. Every child is bounded in time
and stopped in a ``finally``. Needs ``perf`` and ``py-spy`` on PATH (or ``--py-spy``).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

#: (layer, frame pattern); the first layer whose pattern matches the nearest frame wins.
LAYERS: tuple[tuple[str, str], ...] = (
    (
        "frame codec (_frame_c, _json_c)",
        r"fastws/protocol/_frame_c|fastws/codec/_json_c|fastws/protocol/_frame_py|fastws/codec/_json_py",
    ),
    (
        "protocol: send path (send, _send_frame, _flush)",
        r"WebSocketProtocol\.(send|send_data_nowait|_send_frame|_flush|_write) ",
    ),
    ("protocol: receive() (queue pop, wait Future)", r"WebSocketProtocol\.receive "),
    (
        "protocol: data_received, _dispatch, _put, _wake",
        r"WebSocketProtocol\.(data_received|_dispatch|_put|_wake) ",
    ),
    ("protocol: run_asgi and the rest", r"fastws/server\.py"),
    ("WebSocket class (websocket/_core_c)", r"fastws/websocket/"),
    ("app (echo loop)", r"fastws/bench/_e2e_server\.py"),
    ("uvicorn ProxyHeadersMiddleware", r"uvicorn/middleware/"),
    ("task step (asyncio Task, Future)", r"task_step|_asynciomodule|future_|asyncio/(futures|tasks)\.py|FutureObj"),
    (
        "uvloop + libuv (callbacks, handles, stream write/read)",
        r"\(loop\.c|uvloop|\((core|stream|linux|loop-watcher|timer|queue)\.[ch]:",
    ),
    ("picows (frame parsing, callbacks)", r"picows"),
)
_SYSCALL_LEAF = re.compile(
    r"^(write|writev|read|readv|recv|send|sendmsg|recvmsg|epoll_pwait|epoll_wait|__GI___libc_\w+) "
)
_SYSCALL_EVENTS = (
    "raw_syscalls:sys_enter",
    "syscalls:sys_enter_write",
    "syscalls:sys_enter_writev",
    "syscalls:sys_enter_read",
    "syscalls:sys_enter_epoll_pwait",
    "syscalls:sys_enter_epoll_wait",
    "syscalls:sys_enter_epoll_ctl",
)
_IDLE_LEAF = re.compile(r"^epoll_(p)?wait ")


def _start_server(app: str, max_seconds: float) -> tuple[subprocess.Popen[bytes], int]:
    env = dict(os.environ)
    if app == "fastws-proto":
        env.update(FASTWS_NO_EXTENSIONS="0", FASTWS_BENCH_WS="fastws.server:WebSocketProtocol")
        argv = ["fastws", str(max_seconds)]
    else:
        argv = ["picows", str(max_seconds)]
    process = subprocess.Popen(
        [sys.executable, "-m", "fastws.bench._e2e_server", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().decode().split()
    if len(line) != 3 or line[0] != "READY":
        process.kill()
        raise RuntimeError(f"the {app} server did not start")
    if app == "fastws-proto" and line[2] != "cython":
        process.kill()
        raise RuntimeError(f"fastws-proto loaded fastws {line[2]!r}, not cython: build the extension")
    return process, int(line[1])


def _perf_dso_shares(perf_data: str) -> dict[str, float]:
    report = subprocess.run(
        ["perf", "report", "-i", perf_data, "--no-children", "--sort", "dso", "--stdio", "-g", "none"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    shares: dict[str, float] = {}
    for line in report.splitlines():
        match = re.match(r"\s+([\d.]+)%\s+(\S+)", line)
        if match:
            shares[match.group(2)] = float(match.group(1))
    return shares


def _pyspy_layers(raw: str) -> tuple[dict[str, int], int, int]:
    """(samples per layer, user-space samples, idle samples) of the main thread."""
    layers: collections.Counter[str] = collections.Counter()
    user = idle = 0
    compiled = [(name, re.compile(pattern)) for name, pattern in LAYERS]
    with open(raw, encoding="utf-8", errors="replace") as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            n = int(count)
            frames = stack.split(";")
            if any(frame.startswith(("thread_run ", "Thread.")) for frame in frames):
                continue  # the stdin watcher and the deadline timer
            if _IDLE_LEAF.match(frames[-1]):
                idle += n
                continue
            if _SYSCALL_LEAF.match(frames[-1]):
                continue  # in the kernel: perf's share
            user += n
            for frame in reversed(frames):
                layer = next((name for name, pattern in compiled if pattern.search(frame)), None)
                if layer is not None:
                    layers[layer] += n
                    break
            else:
                layers["other (interpreter, libc)"] += n
    return dict(layers), user, idle


def _client(port: int, pid: int, args: argparse.Namespace, seconds: float) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "fastws.bench._e2e_client", "--port", str(port), "--client", "picows",
        "--connections", str(args.connections), "--window", str(args.window), "--duration", str(seconds),
        "--warmup", "1", "--server-pid", str(pid),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True)


def profile(app: str, args: argparse.Namespace, workdir: str) -> dict[str, Any]:
    """Profile one server under load; return its perf shares, py-spy layers and the client's figures.

    Two loads one after the other on the same server: perf during the first (whose figures, CPU per
    message included, are reported), py-spy during the second (it stops the process per sample)."""
    seconds = args.seconds
    with_pyspy = app == "fastws-proto"
    server, port = _start_server(app, 2 * seconds + 60)
    perf_data = os.path.join(workdir, f"{app}.perf")
    raw = os.path.join(workdir, f"{app}.pyspy")
    try:
        client = _client(port, server.pid, args, seconds + 1)
        try:
            time.sleep(1.5)
            # Syscalls counted over the same window as the CPU profile (tracepoints, no sampling).
            counter = subprocess.Popen(
                ["perf", "stat", "-x", ",", "-e", ",".join(_SYSCALL_EVENTS), "-p", str(server.pid),
                 "--", "sleep", str(seconds)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            subprocess.run(
                ["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-p", str(server.pid), "-o", perf_data,
                 "--", "sleep", str(seconds)],
                check=True, timeout=seconds + 30, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            _, counts = counter.communicate(timeout=30)
            out, _ = client.communicate(timeout=seconds + 30)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait()
        figures = json.loads(out.decode().strip().splitlines()[-1])
        if with_pyspy:
            client = _client(port, server.pid, args, seconds + 1)
            try:
                time.sleep(1.5)
                subprocess.run(
                    [args.py_spy, "record", "--native", "-r", "500", "-d", str(int(seconds)), "-p", str(server.pid),
                     "--format", "raw", "-o", raw],
                    check=True, timeout=seconds + 30, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                client.communicate(timeout=seconds + 30)
            finally:
                if client.poll() is None:
                    client.kill()
                    client.wait()
    finally:
        if server.stdin is not None:
            server.stdin.close()
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    syscalls = {}
    for line in counts.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[0].isdigit():
            name = fields[2].split(":")[-1]
            syscalls["all" if name == "sys_enter" else name.removeprefix("sys_enter_")] = int(fields[0])
    messages = figures["msgs_per_s"] * seconds  # the client's rate over the perf window
    result: dict[str, Any] = {
        "app": app,
        "client": figures,
        "perf": _perf_dso_shares(perf_data),
        "syscalls_per_message": {k: v / messages for k, v in syscalls.items()} if messages else {},
    }
    if with_pyspy:
        result["pyspy"] = _pyspy_layers(raw)
    return result


def _format(results: list[dict[str, Any]]) -> str:
    lines = []
    for result in results:
        perf = result["perf"]
        kernel = sum(v for k, v in perf.items() if k.startswith("[kernel"))
        cpu = result["client"]["cpu_us_per_msg"]
        lines.append(
            f"{result['app']}: {result['client']['msgs_per_s']:,.0f} msg/s, server CPU {cpu:.2f} us/msg "
            f"(server busy {result['client']['server_cpu_share']:.0%}); perf, share of server CPU by object:"
        )
        calls = ", ".join(f"{name} {n:.2f}" for name, n in result["syscalls_per_message"].items())
        lines.append(f"  syscalls per message: {calls}")
        for dso, share in sorted(perf.items(), key=lambda kv: -kv[1]):
            if share >= 0.5:
                lines.append(f"    {share:5.1f}%  {cpu * share / 100:5.2f} us/msg  {dso}")
        if "pyspy" in result:
            layers, user, idle = result["pyspy"]
            lines.append(
                f"  by layer (kernel from perf; user space {100 - kernel:.1f}% split as py-spy's {user} samples):"
            )
            lines.append(f"    {kernel:5.1f}%  {cpu * kernel / 100:5.2f} us/msg  syscalls and the kernel (perf)")
            for layer, n in sorted(layers.items(), key=lambda kv: -kv[1]):
                share = (100 - kernel) * n / user
                lines.append(f"    {share:5.1f}%  {cpu * share / 100:5.2f} us/msg  {layer}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds per profile (default 6)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--window", type=int, default=1, help="messages in flight per connection (default 1)")
    parser.add_argument("--apps", default="fastws-proto,picows")
    parser.add_argument(
        "--py-spy", default=shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    )
    parser.add_argument("--json", help="write the raw figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        results = [profile(app, args, workdir) for app in args.apps.split(",")]
    print(_format(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
