"""fastws.server under a real uvicorn, over real sockets, both codec twins: cancellation safety
(a receive timing out then receiving again; concurrent senders under write backpressure, some
cancelled; ``fastws.broadcast(policy="close")`` on a client that stopped reading), header
injection refused on the wire, and pings from a client that never reads.

Keepalive pings are off in this module's server (a raw client that never reads could not answer
them); each conversation is bounded by ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from test_server import KEY, MASK, LiveServer, client, protocol_class, raw_frames, record, run
from websockets.exceptions import InvalidMessage, InvalidStatus

import fastws
from fastws.protocol import _frame_py
from fastws.protocol._frame_types import OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT
from fastws.server import WebSocketProtocol

pytestmark = pytest.mark.e2e

CHUNK = 64 * 1024
#: Messages per sender: 100 x 64 KiB = 6.25 MiB each, more than the socket buffers hold with the
#: client's receive buffer fixed small (a send suspends only once the transport is over its
#: high-water mark, so the first sender runs alone until the kernel's buffers are full).
PER_SENDER = 100
SERVERS: list[LiveServer] = []


def _query(scope: dict[str, Any]) -> dict[str, str]:
    return dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)


def _websocket(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> fastws.WebSocket:
    return fastws.WebSocket(scope, receive, send)


async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    assert scope["type"] == "websocket"
    path = scope["path"]
    token = _query(scope).get("token", "")
    if path == "/timeout":
        # The heartbeat / authentication-deadline pattern, with fastws's WebSocket class.
        ws = _websocket(scope, receive, send)
        await ws.accept()
        for _ in range(3):
            try:
                await asyncio.wait_for(ws.receive_text(), 0.1)
            except asyncio.TimeoutError:
                await ws.send_text("timed out")
        await ws.send_text("got " + await ws.receive_text())
        await ws.send_text("got " + await ws.receive_text())
        await ws.close()
        return
    assert (await receive())["type"] == "websocket.connect"
    if path == "/inject":
        where = _query(scope)["where"]
        try:
            if where == "accept":
                await send({"type": "websocket.accept", "headers": [(b"x-a", b"1\r\nset-cookie: evil=1")]})
            elif where == "subprotocol":
                await send({"type": "websocket.accept", "subprotocol": "chat\r\nset-cookie: evil=1"})
            else:
                await send(
                    {"type": "websocket.http.response.start", "status": 401, "headers": [(b"x\r\nset-cookie", b"1")]}
                )
        except (ValueError, TypeError) as exc:
            record(token).put(type(exc).__name__)
            raise
        return
    if path == "/stuck":
        # fastws.broadcast's "close" policy on a client that stopped reading.
        ws = _websocket(scope, _replay_connect(receive), send)
        await ws.accept()
        started = time.monotonic()
        outcome = "never full"
        try:
            for _ in range(1000):
                result = await fastws.broadcast([ws], b"z" * CHUNK, policy="close", max_messages=4, timeout=3)
                if result.closed:
                    outcome = "closed"
                    break
        except BaseException as exc:  # noqa: BLE001 - what escapes is the finding
            outcome = repr(exc)
        record(token).put((outcome, time.monotonic() - started))
        return
    await send({"type": "websocket.accept"})
    if path == "/senders":
        # Four tasks send on one connection while the client does not read; two are cancelled.
        async def sender(i: int) -> str:
            for _ in range(PER_SENDER):
                await send({"type": "websocket.send", "bytes": bytes([i]) * CHUNK})
            return "done"

        tasks = [asyncio.ensure_future(sender(i)) for i in range(4)]
        await asyncio.sleep(0.5)
        tasks[0].cancel()
        tasks[2].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        record(token).put([r if isinstance(r, str) else type(r).__name__ for r in results])
        await send({"type": "websocket.send", "text": "end"})
        while (await receive())["type"] != "websocket.disconnect":
            pass
        return
    if path == "/pings":
        # Watch this connection's write buffer while the client pings and never reads.
        peak = 0
        while True:
            try:
                event = await asyncio.wait_for(receive(), 0.005)  # cancelled again and again
            except asyncio.TimeoutError:
                event = None
            for server in SERVERS:
                for conn in list(server.server.server_state.connections):
                    if isinstance(conn, WebSocketProtocol) and conn.scope.get("query_string") == scope["query_string"]:
                        peak = max(peak, conn.transport.get_write_buffer_size())
            if event is not None and event.get("text") == "sync":  # every ping before it was handled
                record(token).put(peak)
            if event is not None and event["type"] == "websocket.disconnect":
                return


def _replay_connect(receive: Callable[..., Any]) -> Callable[..., Any]:
    # The connect event was read above; fastws's accept() reads it again.
    pending = [{"type": "websocket.connect"}]

    async def replay() -> Any:
        return pending.pop() if pending else await receive()

    return replay


@pytest.fixture(params=["c", "py"], scope="module")
def live(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    if request.param == "c" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    with LiveServer(protocol_class(request.param), app=app, ws_ping_interval=None, ws_max_size=None) as server:
        SERVERS.append(server)
        try:
            yield server
        finally:
            SERVERS.remove(server)


def token_for(name: str) -> str:
    return f"{name}-{time.monotonic_ns()}"


async def slow_reader(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw client with a small receive buffer, past the handshake; it reads only when told."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=4096)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    response = await reader.readuntil(b"\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 101 "), response
    return reader, writer


def test_receive_timeout_then_receive_again(live: LiveServer) -> None:
    async def scenario() -> None:
        async with client(f"{live.ws}/timeout") as ws:
            assert [await ws.recv() for _ in range(3)] == ["timed out"] * 3
            await ws.send("one")
            assert await ws.recv() == "got one"
            await ws.send("two")
            assert await ws.recv() == "got two"
            await ws.wait_closed()
        assert ws.close_code == 1000

    run(scenario)


def test_concurrent_senders_with_some_cancelled_under_backpressure(live: LiveServer) -> None:
    token = token_for("senders")

    async def scenario() -> None:
        reader, writer = await slow_reader(live.port, f"/senders?token={token}")
        try:
            await asyncio.sleep(0.8)  # read nothing while the senders fill the buffers and two are cancelled
            parser = _frame_py.FrameParser(require_mask=False, max_size=None)
            counts = [0, 0, 0, 0]
            done = False
            while not done:
                data = await reader.read(1 << 20)
                assert data, "connection closed before the end"
                for opcode, message in parser.feed(data):
                    if opcode == OP_TEXT:
                        assert message == "end"
                        done = True
                    else:
                        assert opcode == OP_BINARY and len(message) == CHUNK and len(set(message)) == 1
                        counts[message[0]] += 1
            assert counts[1] == counts[3] == PER_SENDER  # the senders not cancelled delivered everything
            assert counts[0] < PER_SENDER and counts[2] < PER_SENDER  # the cancelled ones stopped
        finally:
            writer.close()

    run(scenario, timeout=20)
    assert record(token).get(timeout=5) == ["CancelledError", "done", "CancelledError", "done"]


def test_broadcast_close_policy_on_a_stuck_client(live: LiveServer) -> None:
    token = token_for("stuck")

    async def scenario() -> None:
        reader, writer = await slow_reader(live.port, f"/stuck?token={token}")
        try:
            # The client reads nothing until broadcast has given up on it.
            outcome, elapsed = await asyncio.to_thread(record(token).get, timeout=10)
            assert outcome == "closed"  # no CancelledError (or anything else) escaped
            assert elapsed < 3  # the 1013 close did not wait for the stuck client (timeout=3)
            events = await raw_frames(reader)
            assert {op for op, _ in events[:-1]} <= {OP_BINARY}
            assert events[-1][0] == OP_CLOSE
            assert _frame_py.parse_close(events[-1][1]) == (1013, "slow consumer")
        finally:
            writer.close()

    run(scenario, timeout=20)


def test_pings_from_a_client_that_never_reads_stay_under_the_high_water_mark(live: LiveServer) -> None:
    token = token_for("pings")
    ping = _frame_py.encode_frame(OP_PING, b"p" * 125, mask=MASK)
    n = 60_000  # 7.9 MB of pings: 7.6 MB of pongs if each were written

    async def scenario() -> None:
        reader, writer = await slow_reader(live.port, f"/pings?token={token}")
        for _ in range(n // 1000):
            writer.write(ping * 1000)
            await writer.drain()
        writer.write(_frame_py.encode_frame(OP_TEXT, b"sync", mask=MASK))
        await writer.drain()
        # The app reports once it has the "sync" message: the server has handled every ping.
        peak = await asyncio.to_thread(record(token).get, timeout=50)
        writer.close()
        return peak

    peak = run(scenario, timeout=60)
    # uvloop's and asyncio's default high-water mark is 64 KiB; a pong is 127 bytes.
    assert 0 < peak <= 64 * 1024 + 1024, peak


@pytest.mark.parametrize("where", ["accept", "subprotocol", "denial"])
def test_header_injection_never_reaches_the_wire(live: LiveServer, where: str) -> None:
    token = token_for("inject")

    async def scenario() -> None:
        with pytest.raises((InvalidStatus, InvalidMessage)) as info:
            async with client(f"{live.ws}/inject?where={where}&token={token}", subprotocols=["chat"]):
                pass
        assert isinstance(info.value, InvalidStatus)
        response = info.value.response
        assert response.status_code == 500 and b"evil" not in response.body
        assert "set-cookie" not in response.headers

    run(scenario)
    assert record(token).get(timeout=5) == "ValueError"
