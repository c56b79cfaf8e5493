"""Process plumbing shared by the end-to-end suites of ``fastws bench`` (echo, broadcast, idle): CPU
pinning, stopping a child, running a JSON-reporting load client, and serving uvicorn in a child until
the runner is gone. One copy here instead of one per suite (issue 16).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "cpu_plan",
    "pin",
    "run_json_client",
    "run_until_parent_exits",
    "serve_uvicorn",
    "sigterm_as_interrupt",
    "stop_child",
    "watch_stdin",
]


def cpu_plan(enabled: bool) -> tuple[set[int] | None, set[int] | None]:
    """(server CPUs, client CPUs). On loopback the kernel likes to wake the peer on the waker's CPU,
    so an unpinned client and server often share one core and each idles half the time (bimodal
    results); with two or more CPUs, servers get the first and the client the second. ``(None,
    None)`` when ``enabled`` is false, there is one CPU, or the platform has no affinity call."""
    if not enabled or not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return {cpus[0]}, {cpus[1]}


def pin(pid: int, cpus: set[int] | None) -> None:
    """Pin process ``pid`` to ``cpus`` (nothing when ``None``; a refusal leaves it unpinned)."""
    if cpus is not None:
        try:
            os.sched_setaffinity(pid, cpus)
        except OSError:  # the process already exited, or the platform refuses: run unpinned
            pass


def stop_child(process: subprocess.Popen[bytes], grace: float, terminate: bool = True) -> None:
    """Stop a child that stops by itself when its stdin closes: close stdin, wait ``grace`` seconds,
    then (``terminate``) SIGTERM and ``grace`` more seconds, then SIGKILL; close the pipes."""
    if process.poll() is None:
        try:
            assert process.stdin is not None
            process.stdin.close()  # the child's stdin watcher stops it gracefully
        except OSError:
            pass
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            killed = True
            if terminate:
                process.terminate()
                try:
                    process.wait(grace)
                    killed = False
                except subprocess.TimeoutExpired:
                    pass
            if killed:
                process.kill()
                process.wait()
    for stream in (process.stdin, process.stdout):
        if stream is not None and not stream.closed:
            stream.close()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises ``KeyboardInterrupt`` inside, so the ``finally`` that stops the children runs
    (outside the main thread, where no handler can be set: nothing changes)."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_json_client(command: list[str], cpus: set[int] | None, timeout: float, what: str) -> dict[str, Any]:
    """Run a load client to completion and return the JSON object on its last line of output.

    Args:
        command (list[str]): the client's argv. cpus (set[int] | None): CPUs to pin it to.
        timeout (float): seconds it may run. what (str): names it in the error.

    Raises:
        RuntimeError: it exited with a non-zero status (its stderr's tail is in the message).
        subprocess.TimeoutExpired, KeyboardInterrupt: it was killed first.
    """
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    pin(process.pid, cpus)
    try:
        out, err = process.communicate(timeout=timeout)
    except BaseException:
        process.kill()
        process.communicate()
        raise
    if process.returncode != 0:
        raise RuntimeError(
            f"{what} failed (exit status {process.returncode}): {err.decode(errors='replace').strip()[-2000:]}"
        )
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def watch_stdin(stop: Callable[[], None]) -> None:
    """Call ``stop`` once stdin reaches end of file (the parent is gone); run it in a daemon thread."""
    # The parent holds the other end of stdin: end of file means it is gone. os.read, not
    # sys.stdin: a daemon thread blocked in a buffered read breaks interpreter shutdown.
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    stop()


def run_until_parent_exits(
    server: Any, max_seconds: float, watch: Callable[[Callable[[], None]], None] = watch_stdin
) -> int:
    """Run a ``uvicorn.Server`` until ``watch`` calls its stop function (by default: end of file on
    stdin, the parent is gone) or ``max_seconds`` (seconds) pass, so a benchmark server never
    outlives its runner. ``watch`` runs in a daemon thread. Returns 0 (a clean stop)."""

    def stop() -> None:
        server.should_exit = True

    threading.Thread(target=watch, args=(stop,), daemon=True).start()
    timer = threading.Timer(max_seconds, stop)
    timer.daemon = True
    timer.start()
    server.run()
    return 0


def serve_uvicorn(
    app: Any,
    ready: str,
    max_seconds: float,
    watch: Callable[[Callable[[], None]], None] = watch_stdin,
    **config: Any,
) -> int:
    """Serve ``app`` with uvicorn on uvloop, 127.0.0.1, a port the OS picks, no lifespan or access
    log; once it listens, print ``READY <port> <ready>`` on stdout; stop as ``run_until_parent_exits``.

    Args:
        app: the ASGI app. ready (str): the rest of the READY line (the implementation, ...).
        max_seconds (float): the longest it serves. watch: see ``run_until_parent_exits``.
        **config: more ``uvicorn.Config`` arguments (``ws``, ``backlog``, ...).

    Returns:
        int: 0 (a clean stop).
    """
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            port = self.servers[0].sockets[0].getsockname()[1]
            print(f"READY {port} {ready}", flush=True)

    options: dict[str, Any] = {"loop": "uvloop", "lifespan": "off", "log_level": "warning", "access_log": False}
    options.update(config)
    return run_until_parent_exits(Server(uvicorn.Config(app, host="127.0.0.1", port=0, **options)), max_seconds, watch)
