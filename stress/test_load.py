"""Load and faults under uvicorn on 127.0.0.1, on both implementations: nothing lost, nothing left
behind, the right close codes.

Not in the default ``pytest`` run (``stress/`` is outside ``testpaths``); ``.ci/reliability`` runs
``python -m pytest -p no:cacheprovider stress/test_load.py``. The server is ``stress/server.py`` in
a subprocess (its own core; it reports through ``GET /stats`` and a final ``SUMMARY`` line); the
clients run here on uvloop. Every count and wait is bounded; every process is stopped on exit.
``FASTWS_LOAD_CONNECTIONS`` and ``FASTWS_LOAD_MESSAGES`` scale the load test (defaults 1,000
connections of 100 messages each), ``FASTWS_LOAD_WS`` picks uvicorn's WebSocket protocol.

After every test the server is stopped with SIGINT and its summary must show: no exception that
escaped the app, no log record at WARNING or above, every ``WebSocketDisconnect`` carrying the
code of the server's ``websocket.disconnect`` event (1006 after a failed send), no handler still
running and no task left on the loop at lifespan shutdown, and exit status 0.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvloop
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

CONNECTIONS = int(os.environ.get("FASTWS_LOAD_CONNECTIONS", "1000"))
MESSAGES = int(os.environ.get("FASTWS_LOAD_MESSAGES", "100"))
#: uvicorn's WebSocket protocol: "auto" (websockets-sansio), "websockets" or "wsproto".
WS = os.environ.get("FASTWS_LOAD_WS", "auto")
SERVER = Path(__file__).with_name("server.py")
START_TIMEOUT = 20.0


@pytest.fixture(params=["c", "py"], scope="module")
def impl(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module", autouse=True)
def enough_file_descriptors() -> None:
    # 1,000 client sockets here (the server raises its own limit).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * CONNECTIONS + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8 * CONNECTIONS + 256), hard))


class Server:
    """``stress/server.py`` in its own process group; ``stop()`` sends SIGINT and returns the summary."""

    def __init__(self, impl: str, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--impl", impl, "--ws", WS, *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        line = self._readline(START_TIMEOUT)
        if not line.startswith("PORT "):
            self.kill()
            raise RuntimeError(f"server did not start: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}")
        self.port = int(line.split()[1])
        self.summary: dict[str, Any] | None = None
        self.stderr = ""

    def _readline(self, timeout: float) -> str:
        lines: list[str] = []
        assert self.proc.stdout is not None
        reader = threading.Thread(target=lambda: lines.append(self.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        return lines[0] if lines else ""

    def url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=10) as response:
            return dict(json.load(response))

    def wait_stats(self, predicate: Any, timeout: float = 15.0) -> dict[str, Any]:
        """Poll ``/stats`` until ``predicate(stats)``; fail after ``timeout`` s with the last stats."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if predicate(stats):
                return stats
            if time.monotonic() > deadline:
                raise AssertionError(f"server stats did not settle within {timeout} s: {stats}")
            time.sleep(0.05)

    def stop(self) -> dict[str, Any]:
        """SIGINT (uvicorn's graceful shutdown); the parsed SUMMARY line. Asserts exit status 0."""
        if self.summary is None:
            self.proc.send_signal(signal.SIGINT)
            out, self.stderr = self.proc.communicate(timeout=30)
            assert self.proc.returncode == 0, (self.proc.returncode, self.stderr)
            lines = [line for line in out.splitlines() if line.startswith("SUMMARY ")]
            assert lines, (out, self.stderr)
            self.summary = json.loads(lines[-1][len("SUMMARY ") :])
        return self.summary

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)


def assert_clean(summary: dict[str, Any]) -> None:
    assert summary["errors"] == [], summary
    assert summary["log"] == [], summary
    assert summary["code_mismatches"] == [], summary
    assert summary["order_errors"] == [], summary
    assert summary["active_at_shutdown"] == 0, summary
    assert summary["left_behind"] == [], summary


@contextlib.contextmanager
def server(impl: str, *extra: str) -> Iterator[Server]:
    srv = Server(impl, *extra)
    try:
        yield srv
        assert_clean(srv.stop())
    finally:
        srv.kill()


def run(coro: Any, timeout: float = 120.0) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(bounded())


# -- raw sockets for the faults a well-behaved client library will not commit --------------------


def raw_handshake(port: int, path: str, rcvbuf: int | None = None) -> socket.socket:
    """A TCP connection that has completed the opening handshake, with nothing read past it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(1)  # one byte at a time: read nothing beyond the response head
        assert chunk, "server closed during the handshake"
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (RFC 6455 section 5.2), FIN set."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN (SO_LINGER 0): the peer vanished."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


# -- 1,000 connections, nothing lost ----------------------------------------------------------------


def encode(kind: str, cid: int, seq: int) -> Any:
    if kind == "json":
        return json.dumps({"c": cid, "n": seq})
    text = f"{cid}:{seq}"
    return text.encode() if kind == "bytes" else text


def test_thousand_connections_every_message_once_in_order(impl: str) -> None:
    kinds = ("text", "bytes", "json")
    with server(impl) as srv:

        async def scenario() -> list[list[Any]]:
            opened = asyncio.Event()
            ready = 0

            async def one(cid: int) -> list[Any]:
                nonlocal ready
                kind = kinds[cid % 3]
                async with connect(srv.url(f"/echo?c={cid}&kind={kind}"), open_timeout=60, close_timeout=10) as ws:
                    ready += 1
                    if ready == CONNECTIONS:
                        opened.set()
                    await opened.wait()  # all connections are open before any message flows
                    sent = [encode(kind, cid, seq) for seq in range(MESSAGES)]
                    # Half the messages pipelined, then one at a time.
                    for message in sent[: MESSAGES // 2]:
                        await ws.send(message)
                    got = [await ws.recv() for _ in range(MESSAGES // 2)]
                    for message in sent[MESSAGES // 2 :]:
                        await ws.send(message)
                        got.append(await ws.recv())
                    if kind == "json":
                        got = [json.dumps(json.loads(m)) for m in got]
                    return [sent, got]

            async def peak() -> dict[str, Any]:
                await opened.wait()
                return await asyncio.to_thread(srv.stats)

            results = await asyncio.gather(*(one(cid) for cid in range(CONNECTIONS)), peak())
            held = results[-1]
            assert held["active"] == CONNECTIONS, held
            return results[:-1]

        started = time.monotonic()
        results = run(scenario())
        elapsed = time.monotonic() - started
        for sent, got in results:
            assert got == sent  # every message exactly once, in order
        # Every client closed with 1000; every handler ended with WebSocketDisconnect(1000).
        stats = srv.wait_stats(lambda s: s["active"] == 0)
        assert stats["messages"] == CONNECTIONS * MESSAGES
        assert stats["disconnects"] == {"/echo": {"1000": CONNECTIONS}}
        assert stats["peak_active"] == CONNECTIONS
        print(
            f"\n{impl}: {CONNECTIONS} connections held at once, {CONNECTIONS * MESSAGES} messages echoed "
            f"in {elapsed:.1f} s, server RSS {stats['rss'] / 2**20:.0f} MiB"
        )


# -- faults ---------------------------------------------------------------------------------------


def test_clients_vanishing_mid_message(impl: str) -> None:
    """Clients that stop in the middle of a frame (FIN or RST), or after a complete message."""
    count = 60
    with server(impl) as srv:
        socks: list[socket.socket] = []
        for i in range(count):
            socks.append(raw_handshake(srv.port, f"/echo?c={i}"))
        srv.wait_stats(lambda s: s["accepted"] == count)
        frame = client_frame(0x1, f"{0}:{0}".encode() + b" " * 1000)
        for i, sock in enumerate(socks):
            if i % 3 == 0:
                sock.sendall(frame[:200])  # a frame cut short, then FIN
                sock.close()
            elif i % 3 == 1:
                sock.sendall(frame[:5])  # inside the header, then RST
                reset(sock)
            else:
                sock.sendall(client_frame(0x1, b"0:0"))  # one whole message, then RST
                reset(sock)
        stats = srv.wait_stats(lambda s: s["active"] == 0)
        assert sum(stats["disconnects"]["/echo"].values()) == count, stats
        print(f"\n{impl}: vanished mid-message: WebSocketDisconnect codes {stats['disconnects']}")


def test_half_open_connections(impl: str) -> None:
    """Half-closed (the client sends FIN but keeps reading) and silent peers (no FIN, pings go
    unanswered): the server's keepalive ends them, the handlers see WebSocketDisconnect."""
    with server(impl, "--ws-ping-interval", "0.5", "--ws-ping-timeout", "0.5") as srv:
        half_closed = [raw_handshake(srv.port, f"/sink?c=h{i}") for i in range(10)]
        silent = [raw_handshake(srv.port, f"/sink?c=s{i}") for i in range(10)]
        srv.wait_stats(lambda s: s["accepted"] == 20)
        for sock in half_closed:
            sock.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        try:
            # uvicorn's legacy "websockets" protocol waits out its 10 s close timeout here.
            stats = srv.wait_stats(lambda s: s["active"] == 0, timeout=20)
        finally:
            for sock in half_closed + silent:
                sock.close()
        elapsed = time.monotonic() - started
        assert sum(stats["disconnects"]["/sink"].values()) == 20, stats
        print(f"\n{impl}: half-open: WebSocketDisconnect codes {stats['disconnects']} after {elapsed:.1f} s")


def test_server_shutdown_mid_conversation(impl: str) -> None:
    """SIGINT while 200 clients are exchanging messages: every handler ends with
    WebSocketDisconnect (1012 from the server's close), the clients see 1012, every message a
    client got back is one it sent, in order, and the process exits 0 with nothing left."""
    count = 200
    srv = Server(impl)
    try:

        async def scenario() -> list[tuple[list[str], list[str], int | None]]:
            opened = asyncio.Event()
            ready = 0

            async def one(cid: int) -> tuple[list[str], list[str], int | None]:
                nonlocal ready
                sent: list[str] = []
                got: list[str] = []
                code = None
                try:
                    async with connect(srv.url(f"/echo?c={cid}"), open_timeout=30, close_timeout=5) as ws:
                        ready += 1
                        if ready == count:
                            opened.set()
                        for seq in range(100_000):
                            message = f"{cid}:{seq}"
                            await ws.send(message)
                            sent.append(message)
                            got.append(str(await ws.recv()))
                except ConnectionClosed as exc:
                    code = exc.rcvd.code if exc.rcvd is not None else None
                return sent, got, code

            async def stop_soon() -> None:
                await opened.wait()
                await asyncio.sleep(0.5)
                await asyncio.to_thread(srv.proc.send_signal, signal.SIGINT)

            *results, _ = await asyncio.gather(*(one(cid) for cid in range(count)), stop_soon())
            return results

        results = run(scenario(), timeout=60)
        out, srv.stderr = srv.proc.communicate(timeout=30)
        assert srv.proc.returncode == 0, srv.stderr
        summary = json.loads([line for line in out.splitlines() if line.startswith("SUMMARY ")][-1][8:])
    finally:
        srv.kill()
    assert_clean(summary)
    codes = [code for _, _, code in results]
    assert codes == [1012] * count, sorted(set(map(str, codes)))
    for sent, got, _ in results:
        assert got == sent[: len(got)] and len(sent) - len(got) <= 1
    assert sum(len(got) for _, got, _ in results) > 0
    assert sum(summary["disconnects"]["/echo"].values()) == count, summary
    assert set(summary["disconnects"]["/echo"]) <= {"1012", "1006"}, summary
    echoed = sum(len(got) for _, got, _ in results)
    print(f"\n{impl}: shutdown: {echoed} messages echoed before it, codes {summary['disconnects']}")


def test_slow_consumer_does_not_grow_server_memory(impl: str) -> None:
    """A client that reads nothing for 3 s, then reads slowly: the app's ``send_bytes`` waits on
    the server's flow control, so what it has handed over stays bounded by the socket buffers and
    the server's memory does not grow with time."""
    bound = 16 * 2**20  # 64 KiB transport high-water mark + loopback socket buffers, with room
    with server(impl) as srv:
        baseline = srv.stats()["rss"]
        sock = raw_handshake(srv.port, "/flood?c=slow", rcvbuf=64 * 1024)
        srv.wait_stats(lambda s: s["accepted"] == 1)
        samples = []
        for _ in range(6):
            time.sleep(0.5)
            stats = srv.stats()
            samples.append((stats["flood"]["slow"], stats["rss"] - baseline))
        # Stalled: nothing more handed over in the last second, and well under the bound.
        assert samples[-1][0] == samples[-3][0], samples
        assert samples[-1][0] < bound, samples
        assert max(growth for _, growth in samples) < 32 * 2**20, samples
        # Slow reading: the app advances only as fast as the client reads.
        sock.settimeout(5)
        read = 0
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            read += len(sock.recv(16 * 1024))
            time.sleep(0.002)
        stats = srv.stats()
        assert stats["flood"]["slow"] - read < bound, (stats["flood"], read)
        assert stats["rss"] - baseline < 32 * 2**20, (stats["rss"], baseline)
        reset(sock)
        stats = srv.wait_stats(lambda s: s["active"] == 0)
        assert stats["disconnects"] == {"/flood": {"1006": 1}}, stats  # its send failed: 1006
        handed, grown = samples[-1][0] / 2**20, max(g for _, g in samples) / 2**20
        print(f"\n{impl}: slow consumer: handed to send at most {handed:.1f} MiB, RSS +{grown:.1f} MiB")
