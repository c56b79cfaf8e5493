"""``gunicorn -k fastws.gunicorn.UvicornWorker``: a real gunicorn arbiter with real workers on
127.0.0.1, ``websockets`` clients, on both implementations (``FASTWS_NO_EXTENSIONS`` in the
workers' environment).

* two workers: connections are opened (and held) until both worker processes have served one; each
  echoes; each worker says it runs ``fastws.server.WebSocketProtocol`` on uvloop;
* SIGTERM to the arbiter (graceful shutdown) and SIGHUP (reload: new workers, old ones stopped
  gracefully) while every client streams messages: every open WebSocket is closed with 1012
  (service restart, what uvicorn's own protocols send on shutdown), the acknowledgements each
  client got are exactly its first N messages in order, and every acknowledged message is in the
  worker's journal (written before the acknowledgement): nothing acknowledged was lost. After a
  reload, clients reconnect to the new workers (other pids) and resend what was not acknowledged;
* ``fastws.gunicorn.UvicornH11Worker`` subclassed with ``CONFIG_KWARGS`` (as docs/deploy.md
  shows): asyncio loop, ``ws_max_size`` enforced with 1009.

Every step is bounded (``asyncio.timeout``); the arbiter is killed if it outlives its test.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform == "win32", reason="gunicorn runs on UNIX only"),
]
pytest.importorskip("gunicorn", reason="gunicorn is in the test extra (not on Windows)")
pytest.importorskip("uvicorn_worker", reason="uvicorn-worker is in the test extra (not on Windows)")

from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

TESTS_DIR = Path(__file__).resolve().parent
#: Bound for the arbiter to listen and its workers to finish their lifespan startup (seconds).
BOOT_TIMEOUT = 30.0
#: Bound for every open WebSocket to be closed after the signal (seconds).
CLOSE_TIMEOUT = 10.0
#: Bound for the arbiter to exit after SIGTERM (seconds); --graceful-timeout is below it.
EXIT_TIMEOUT = 20.0
#: Messages a client keeps unacknowledged at most.
WINDOW = 4

LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
BOOTING = re.compile(r"Booting worker with pid: (\d+)")


class Arbiter:
    """A running gunicorn arbiter: its process, port and log (stderr, in a file)."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log
        self.port = 0

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_for(self, pattern: str, count: int, timeout: float) -> str:
        """Wait until ``pattern`` occurs ``count`` times in the log; return the log."""
        async with asyncio.timeout(timeout):
            while True:
                text = self.text()
                if len(re.findall(pattern, text)) >= count:
                    return text
                assert self.process.poll() is None, f"gunicorn exited early:\n{text}"
                await asyncio.sleep(0.05)


@asynccontextmanager
async def gunicorn(worker: str, workers: int, impl_name: str, journal: Path) -> AsyncIterator[Arbiter]:
    """``python -m gunicorn -k WORKER -w WORKERS -b 127.0.0.1:0 deploy_app:app`` from tests/."""
    env = dict(os.environ)
    env.pop("FASTWS_NO_EXTENSIONS", None)
    if impl_name == "py":
        env["FASTWS_NO_EXTENSIONS"] = "1"
    env["FASTWS_TEST_JOURNAL"] = str(journal)
    env["PYTHONUNBUFFERED"] = "1"
    log = journal / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", "-k", worker, "-w", str(workers), "-b", "127.0.0.1:0"]
    command += ["--chdir", str(TESTS_DIR), "--graceful-timeout", "10", "--timeout", "60", "--log-level", "info"]
    command += ["deploy_app:app"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
    arbiter = Arbiter(process, log)
    try:
        text = await arbiter.wait_for(LISTENING.pattern, 1, BOOT_TIMEOUT)
        match = LISTENING.search(text)
        assert match is not None
        arbiter.port = int(match[1])
        await arbiter.wait_for("Application startup complete", workers, BOOT_TIMEOUT)
        yield arbiter
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        # Workers outlive a killed arbiter for a moment: stop them too (their pids are in the log).
        for pid in map(int, BOOTING.findall(arbiter.text())):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


async def open_on_every_worker(port: int, workers: int) -> list[tuple[ClientConnection, dict[str, Any]]]:
    """Open WebSockets (held open) until ``workers`` distinct worker pids have served one; each
    echoes. Bounded: 15 s or 200 connections."""
    opened: list[tuple[ClientConnection, dict[str, Any]]] = []
    pids: set[int] = set()
    deadline = time.monotonic() + 15
    while len(pids) < workers and len(opened) < 200 and time.monotonic() < deadline:
        ws = await connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5, close_timeout=2)
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
        await ws.send(b"\x01\x02")
        assert await asyncio.wait_for(ws.recv(), 5) == b"\x01\x02"  # echo
        opened.append((ws, hello))
        pids.add(hello["pid"])
        await asyncio.sleep(0.02)
    assert len(pids) == workers, f"{len(opened)} connections all went to {pids}"
    return opened


def check_landing(hello: dict[str, Any], impl_name: str, loop: str) -> None:
    assert hello["protocol"] == "fastws.server:WebSocketProtocol"
    assert hello["impl"] == ("python" if impl_name == "py" else "cython")
    assert hello["codec"] == f"fastws.protocol._frame_{impl_name}"
    assert hello["loop"] == loop


async def stream(ws: ClientConnection, tag: str, acks: list[str]) -> tuple[int | None, int]:
    """Send ``TAG-0``, ``TAG-1``... with up to ``WINDOW`` unacknowledged, recording the acks, until
    the server closes; return (the close code received, the number of messages sent)."""
    sent = 0
    in_flight = 0
    try:
        while True:
            while in_flight < WINDOW:
                await ws.send(f"{tag}-{sent}")
                sent += 1
                in_flight += 1
            acks.append(await ws.recv())  # type: ignore[arg-type]
            in_flight -= 1
            await asyncio.sleep(0.001)
    except ConnectionClosed as exc:
        return (exc.rcvd.code if exc.rcvd is not None else None), sent


def journal_lines(journal: Path) -> set[str]:
    lines: set[str] = set()
    for path in journal.glob("journal-*.txt"):
        lines.update(path.read_text().splitlines())
    return lines


async def stream_until_signal(
    arbiter: Arbiter, opened: list[tuple[ClientConnection, dict[str, Any]]], sig: signal.Signals
) -> tuple[list[tuple[int | None, int]], list[list[str]], float]:
    """Every connection streams; after a moment ``sig`` goes to the arbiter; wait (bounded) for
    every stream to end. Returns (close code and count sent, acks, seconds from signal to the
    last close) per connection."""
    acks: list[list[str]] = [[] for _ in opened]
    tasks = [asyncio.create_task(stream(ws, f"c{i}", acks[i])) for i, (ws, _) in enumerate(opened)]
    await asyncio.sleep(0.3)
    assert all(acks), "every connection is acknowledged before the signal"
    sent_at = time.monotonic()
    arbiter.process.send_signal(sig)
    async with asyncio.timeout(CLOSE_TIMEOUT):
        results = await asyncio.gather(*tasks)
    return results, acks, time.monotonic() - sent_at


def check_nothing_acknowledged_was_lost(acks: list[list[str]], journal: Path) -> None:
    written = journal_lines(journal)
    for i, got in enumerate(acks):
        # Exactly the first len(got) messages, in order: no gap, no duplicate, no reordering.
        assert got == [f"ack:c{i}-{n}" for n in range(len(got))], got[:10]
        missing = [ack for ack in got if ack.removeprefix("ack:") not in written]
        assert not missing, f"acknowledged but not in the journal: {missing[:5]}"


@pytest.mark.parametrize("impl_name", ["c", "py"])
def test_two_workers_echo_then_sigterm_closes_1012_and_loses_nothing_acknowledged(
    impl_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if impl_name == "c" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")

    async def scenario() -> None:
        async with gunicorn("fastws.gunicorn.UvicornWorker", 2, impl_name, tmp_path) as arbiter:
            opened = await open_on_every_worker(arbiter.port, 2)
            for _, hello in opened:
                check_landing(hello, impl_name, "uvloop")
            results, acks, took = await stream_until_signal(arbiter, opened, signal.SIGTERM)
            assert [code for code, _ in results] == [1012] * len(opened), results
            assert took < CLOSE_TIMEOUT
            check_nothing_acknowledged_was_lost(acks, tmp_path)
            started = time.monotonic()
            while arbiter.process.poll() is None and time.monotonic() - started < EXIT_TIMEOUT:
                await asyncio.sleep(0.05)
            assert arbiter.process.returncode == 0, arbiter.text()
            log = arbiter.text()
            assert "Traceback" not in log, log
            assert "Shutting down: Master" in log
            assert log.count("Application shutdown complete") == 2  # each worker's lifespan ended

    asyncio.run(scenario())


@pytest.mark.parametrize("impl_name", ["c", "py"])
def test_sighup_reload_closes_1012_and_clients_resume_on_new_workers(
    impl_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if impl_name == "c" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")

    async def scenario() -> None:
        async with gunicorn("fastws.gunicorn.UvicornWorker", 2, impl_name, tmp_path) as arbiter:
            opened = await open_on_every_worker(arbiter.port, 2)
            old_pids = {hello["pid"] for _, hello in opened}
            results, acks, _ = await stream_until_signal(arbiter, opened, signal.SIGHUP)
            assert [code for code, _ in results] == [1012] * len(opened), results
            check_nothing_acknowledged_was_lost(acks, tmp_path)

            # The reload started two new workers; the old ones exit.
            await arbiter.wait_for("Application startup complete", 4, BOOT_TIMEOUT)
            async with asyncio.timeout(EXIT_TIMEOUT):
                for pid in old_pids:
                    while True:
                        try:
                            os.kill(pid, 0)
                        except ProcessLookupError:
                            break
                        await asyncio.sleep(0.05)

            # Each client reconnects (to a new worker) and resends what was not acknowledged.
            for i, (_, sent) in enumerate(results):
                async with connect(f"ws://127.0.0.1:{arbiter.port}/ws", open_timeout=5, close_timeout=2) as ws:
                    hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    assert hello["pid"] not in old_pids
                    check_landing(hello, impl_name, "uvloop")
                    for n in range(len(acks[i]), sent):
                        await ws.send(f"c{i}-{n}")
                        assert await asyncio.wait_for(ws.recv(), 5) == f"ack:c{i}-{n}"
            written = journal_lines(tmp_path)
            for i, (_, sent) in enumerate(results):
                assert {f"c{i}-{n}" for n in range(sent)} <= written  # every message processed at least once
            arbiter.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(EXIT_TIMEOUT):
                while arbiter.process.poll() is None:
                    await asyncio.sleep(0.05)
            assert arbiter.process.returncode == 0, arbiter.text()
            assert "Traceback" not in arbiter.text()

    asyncio.run(scenario())


@pytest.mark.parametrize("impl_name", ["c", "py"])
def test_h11_worker_subclass_with_config_kwargs(impl_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # docs/deploy.md: uvicorn settings that gunicorn has no flag for go in a subclass's CONFIG_KWARGS.
    if impl_name == "c" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")

    async def scenario() -> None:
        async with gunicorn("deploy_workers.SmallMessagesH11Worker", 1, impl_name, tmp_path) as arbiter:
            async with connect(f"ws://127.0.0.1:{arbiter.port}/ws", open_timeout=5, close_timeout=2) as ws:
                hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
                check_landing(hello, impl_name, "asyncio")  # the H11 worker's loop
                await ws.send("x" * 1024)
                assert await asyncio.wait_for(ws.recv(), 5) == "ack:" + "x" * 1024
                await ws.send("x" * 1025)
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
            arbiter.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(EXIT_TIMEOUT):
                while arbiter.process.poll() is None:
                    await asyncio.sleep(0.05)
            assert arbiter.process.returncode == 0, arbiter.text()

    asyncio.run(scenario())


def test_worker_classes_set_fastws_protocol() -> None:
    import uvicorn_worker

    from fastws.gunicorn import FASTWS_WS, UvicornH11Worker, UvicornWorker

    assert issubclass(UvicornWorker, uvicorn_worker.UvicornWorker)
    assert issubclass(UvicornH11Worker, uvicorn_worker.UvicornH11Worker)
    assert UvicornWorker.CONFIG_KWARGS == {"loop": "auto", "http": "auto", "ws": FASTWS_WS}
    assert UvicornH11Worker.CONFIG_KWARGS == {"loop": "asyncio", "http": "h11", "ws": FASTWS_WS}
    assert FASTWS_WS == "fastws.server:WebSocketProtocol"
