"""One load-client process of ``fastws bench --connections`` and of the soak in ``stress/``.

Run as ``python -m fastws.bench._idle_client HOST PORT SOURCE_ADDRESS [--deflate] [--path PATH]``.
It holds many WebSocket client connections from one source address (``SOURCE_ADDRESS``, a
127.0.0.x: each source address has its own ephemeral ports, so tens of thousands of connections do
not run out of them) and obeys commands, one JSON object per line on standard input, answering each
with one JSON object per line on standard output:

* ``{"cmd": "open", "count": N, "concurrency": C}``: open N more connections, at most C handshakes
  in flight; answers ``{"opened", "failed", "start", "end", "errors"}`` (``time.monotonic()``
  seconds, comparable across processes on Linux).
* ``{"cmd": "echo"}``: one 64-byte text message on every open connection, each answer awaited;
  answers ``{"echoed", "failed", "errors"}``.
* ``{"cmd": "latency", "samples": M}``: M round trips one after another, spread over the
  connections; answers ``{"latencies"}`` (seconds).
* ``{"cmd": "trickle", "connections": K, "messages": M, "interval": S}``: on K connections, M
  numbered messages each, one every S seconds per connection; every answer must be its message,
  once, in order; answers ``{"sent", "received", "errors"}``.
* ``{"cmd": "status"}``: ``{"open", "dropped", "pings"}`` (dropped: closed by the server or lost
  without this process asking).
* ``{"cmd": "close"}``: a close frame (1000) on every connection and the server's close awaited
  (10 s at most); answers ``{"closed", "unclean", "seconds"}``.

End of file on standard input ends the process (its connections are dropped). The client is a
plain :class:`asyncio.Protocol` on uvloop (when installed): a few hundred bytes per connection, so
the client's own cost does not limit how many connections one process can hold. It answers every
ping with a pong (RFC 6455 section 5.5.2). When ``--deflate`` offered permessage-deflate
(``client_max_window_bits``, as browsers do) and the server accepted it, it compresses every
message it sends, as browsers do, and inflates compressed messages (RFC 7692).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import sys
import time
import zlib
from typing import Any

__all__ = ["ClientConnection", "main"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_DEFLATE_TAIL = b"\x00\x00\xff\xff"
_MESSAGE = "x" * 64
_TIMEOUT = 30.0


def _mask(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    if not n:
        return payload
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(n, "little")


def client_frame(opcode: int, payload: bytes, rsv1: bool = False) -> bytes:
    """One masked client frame (RFC 6455 section 5.2), FIN set, RSV1 when ``rsv1``."""
    n = len(payload)
    b0 = 0x80 | opcode | (0x40 if rsv1 else 0)
    if n < 126:
        head = bytes((b0, 0x80 | n))
    elif n < 65536:
        head = bytes((b0, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, 0x80 | 127)) + n.to_bytes(8, "big")
    key = os.urandom(4)
    return head + key + _mask(payload, key)


#: The client compresses as a browser does (every message, when permessage-deflate was agreed),
#: with one compressor for all its connections: a full flush after each message, so none refers
#: to another (RFC 7692 allows a sender not to take over its context without saying so).
_compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)


def _compress(data: bytes) -> bytes:
    out = _compressor.compress(data) + _compressor.flush(zlib.Z_FULL_FLUSH)
    return out[:-4] if out.endswith(_DEFLATE_TAIL) else out


class ClientConnection(asyncio.Protocol):
    """One client WebSocket: handshake, then text messages to ``waiter`` and pongs to every ping."""

    __slots__ = (
        "transport", "buffer", "handshake", "waiter", "closed", "close_requested", "deflate_bits",
        "inflater", "key", "request", "pings", "fragments",
    )  # fmt: skip

    def __init__(self, request: bytes, key: bytes) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiter: asyncio.Future[str] | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.close_requested = False
        self.deflate_bits = 0  # server_max_window_bits when permessage-deflate was agreed, else 0
        self.inflater: Any = None
        self.key = key
        self.request = request
        self.pings = 0
        self.fragments: list[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)  # type: ignore[union-attr]
        self.request = b""

    def connection_lost(self, exc: Exception | None) -> None:
        for future in (self.handshake, self.waiter, self.closed):
            if future is not None and not future.done():
                future.set_exception(ConnectionError(f"connection lost: {exc!r}"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.handshake.done():
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            try:
                self._check_response(head)
            except ValueError as exc:
                self.handshake.set_exception(exc)
                self.transport.close()  # type: ignore[union-attr]
                return
            self.handshake.set_result(None)
        self._frames()

    def _check_response(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        if not lines[0].startswith(b"HTTP/1.1 101"):
            raise ValueError(f"handshake refused: {lines[0]!r}")
        accept = base64.b64encode(hashlib.sha1(self.key + _GUID).digest())
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if headers.get(b"sec-websocket-accept") != accept:
            raise ValueError("wrong Sec-WebSocket-Accept")
        extensions = headers.get(b"sec-websocket-extensions", b"")
        if extensions.startswith(b"permessage-deflate"):
            self.deflate_bits = 15
            for part in extensions.split(b";")[1:]:
                name, _, value = part.strip().partition(b"=")
                if name == b"server_max_window_bits":
                    self.deflate_bits = int(value.strip(b'"'))

    def _frames(self) -> None:
        buffer = self.buffer
        pos = 0
        while len(buffer) - pos >= 2:
            b0, b1 = buffer[pos], buffer[pos + 1]
            if b1 & 0x80:
                self._protocol_error("masked server frame")
                return
            length = b1 & 0x7F
            start = pos + 2
            if length == 126:
                if len(buffer) - pos < 4:
                    break
                length = int.from_bytes(buffer[start : start + 2], "big")
                start += 2
            elif length == 127:
                if len(buffer) - pos < 10:
                    break
                length = int.from_bytes(buffer[start : start + 8], "big")
                start += 8
            if len(buffer) - start < length:
                break
            payload = buffer[start : start + length]
            pos = start + length
            self._frame(b0, payload)
        self.buffer = buffer[pos:]

    def _frame(self, b0: int, payload: bytes) -> None:
        opcode = b0 & 0x0F
        if opcode == 0x9:
            self.pings += 1
            if not self.close_requested:
                self.transport.write(client_frame(0xA, payload))  # type: ignore[union-attr]
        elif opcode == 0x8:
            if not self.close_requested:
                self.close_requested = True
                self.transport.write(client_frame(0x8, payload[:2]))  # type: ignore[union-attr]
            self.transport.close()  # type: ignore[union-attr]
            if not self.closed.done():
                self.closed.set_result(None)
        elif opcode in (0x1, 0x2, 0x0):
            if opcode != 0 and b0 & 0x40:
                self.fragments = [b"\x01"]  # compressed message marker
            elif opcode != 0:
                self.fragments = [b"\x00"]
            if self.fragments is None:
                self._protocol_error("continuation without a message")
                return
            self.fragments.append(payload)
            if b0 & 0x80:
                parts, self.fragments = self.fragments, None
                data = b"".join(parts[1:])
                if parts[0] == b"\x01":
                    if self.inflater is None:
                        self.inflater = zlib.decompressobj(-self.deflate_bits)
                    data = self.inflater.decompress(data + _DEFLATE_TAIL)
                if self.waiter is not None and not self.waiter.done():
                    self.waiter.set_result(data.decode())

    def _protocol_error(self, what: str) -> None:
        for future in (self.handshake, self.waiter):
            if future is not None and not future.done():
                future.set_exception(ValueError(what))
        self.transport.close()  # type: ignore[union-attr]

    async def round_trip(self, text: str) -> str:
        """Send ``text`` (a text message) and return the next message that arrives."""
        self.waiter = asyncio.get_running_loop().create_future()
        if self.deflate_bits:
            frame = client_frame(0x1, _compress(text.encode()), rsv1=True)
        else:
            frame = client_frame(0x1, text.encode())
        self.transport.write(frame)  # type: ignore[union-attr]
        try:
            return await asyncio.wait_for(self.waiter, _TIMEOUT)
        finally:
            self.waiter = None

    async def close(self) -> bool:
        """Close frame 1000, then wait for the server's; True when the closing handshake completed."""
        if self.transport is None or self.transport.is_closing():
            return False
        self.close_requested = True
        self.transport.write(client_frame(0x8, b"\x03\xe8"))
        try:
            await asyncio.wait_for(self.closed, 10)
        except (ConnectionError, asyncio.TimeoutError):
            return False
        return True

    @property
    def dropped(self) -> bool:
        """Closed without this side asking."""
        return not self.close_requested and (self.transport is None or self.transport.is_closing())


class Client:
    def __init__(self, host: str, port: int, source: str, deflate: bool, path: str) -> None:
        self.host, self.port, self.source, self.deflate, self.path = host, port, source, deflate, path
        self.connections: list[ClientConnection] = []

    def _request(self, index: int) -> tuple[bytes, bytes]:
        key = base64.b64encode(os.urandom(16))
        lines = [
            f"GET {self.path.replace('{i}', f'{self.source}-{index}')} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key.decode()}",
            "Sec-WebSocket-Version: 13",
        ]
        if self.deflate:
            lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")  # as browsers do
        return ("\r\n".join(lines) + "\r\n\r\n").encode(), key

    async def _open_one(self, index: int) -> ClientConnection:
        loop = asyncio.get_running_loop()
        request, key = self._request(index)
        _, protocol = await asyncio.wait_for(
            loop.create_connection(
                lambda: ClientConnection(request, key), self.host, self.port, local_addr=(self.source, 0)
            ),
            _TIMEOUT,
        )
        await asyncio.wait_for(protocol.handshake, _TIMEOUT)
        return protocol

    async def open(self, count: int, concurrency: int) -> dict[str, Any]:
        errors: list[str] = []
        failed = 0
        semaphore = asyncio.Semaphore(concurrency)
        base = len(self.connections)

        async def one(index: int) -> None:
            nonlocal failed
            async with semaphore:
                try:
                    self.connections.append(await self._open_one(index))
                except (OSError, ValueError, asyncio.TimeoutError) as exc:
                    failed += 1
                    if len(errors) < 5:
                        errors.append(repr(exc))

        start = time.monotonic()
        await asyncio.gather(*(one(base + i) for i in range(count)))
        end = time.monotonic()
        return {"opened": count - failed, "failed": failed, "start": start, "end": end, "errors": errors}

    async def echo(self) -> dict[str, Any]:
        errors: list[str] = []

        async def one(connection: ClientConnection) -> bool:
            try:
                answer = await connection.round_trip(_MESSAGE)
            except (OSError, ValueError, asyncio.TimeoutError) as exc:
                if len(errors) < 5:
                    errors.append(repr(exc))
                return False
            if answer != _MESSAGE:
                errors.append(f"echo {answer[:80]!r}")
                return False
            return True

        results = await asyncio.gather(*(one(c) for c in self.connections))
        return {"echoed": sum(results), "failed": len(results) - sum(results), "errors": errors[:5]}

    async def latency(self, samples: int) -> dict[str, Any]:
        latencies: list[float] = []
        errors: list[str] = []
        if self.connections:
            step = max(1, len(self.connections) // max(1, samples))
            for i in range(samples):
                connection = self.connections[(i * step) % len(self.connections)]
                start = time.perf_counter()
                try:
                    await connection.round_trip(_MESSAGE)
                except (OSError, ValueError, asyncio.TimeoutError) as exc:
                    errors.append(repr(exc))
                    continue
                latencies.append(time.perf_counter() - start)
        return {"latencies": latencies, "errors": errors[:5]}

    async def trickle(self, connections: int, messages: int, interval: float) -> dict[str, Any]:
        errors: list[str] = []
        sent = received = 0
        chosen = self.connections[:: max(1, len(self.connections) // max(1, connections))][:connections]

        async def one(index: int, connection: ClientConnection) -> None:
            nonlocal sent, received
            await asyncio.sleep(interval * index / max(1, len(chosen)))  # spread over the interval
            for seq in range(messages):
                text = f"{index}:{seq}"
                sent += 1
                try:
                    answer = await connection.round_trip(text)
                except (OSError, ValueError, asyncio.TimeoutError) as exc:
                    errors.append(f"connection {index} message {seq}: {exc!r}")
                    return
                if answer != text:
                    errors.append(f"connection {index}: sent {text!r}, got {answer[:80]!r}")
                    return
                received += 1
                await asyncio.sleep(interval)

        await asyncio.gather(*(one(i, c) for i, c in enumerate(chosen)))
        return {"sent": sent, "received": received, "errors": errors[:10], "error_count": len(errors)}

    def status(self) -> dict[str, Any]:
        dropped = sum(1 for c in self.connections if c.dropped)
        return {
            "open": len(self.connections) - dropped,
            "dropped": dropped,
            "pings": sum(c.pings for c in self.connections),
        }

    async def close(self) -> dict[str, Any]:
        start = time.monotonic()
        results = await asyncio.gather(*(c.close() for c in self.connections))
        self.connections = []
        return {"closed": sum(results), "unclean": len(results) - sum(results), "seconds": time.monotonic() - start}


async def serve(client: Client) -> None:
    """Read commands from stdin until end of file, answer each on stdout."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": True}), flush=True)
    while line := await reader.readline():
        command = json.loads(line)
        name = command["cmd"]
        if name == "open":
            answer = await client.open(int(command["count"]), int(command.get("concurrency", 100)))
        elif name == "echo":
            answer = await client.echo()
        elif name == "latency":
            answer = await client.latency(int(command["samples"]))
        elif name == "trickle":
            answer = await client.trickle(
                int(command["connections"]), int(command["messages"]), float(command["interval"])
            )
        elif name == "status":
            answer = client.status()
        elif name == "close":
            answer = await client.close()
        else:
            answer = {"error": f"unknown command {name!r}"}
        print(json.dumps(answer), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments and serve commands until stdin closes; 0 on a clean stop."""
    import resource

    parser = argparse.ArgumentParser(prog="python -m fastws.bench._idle_client")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("source", help="source address (127.0.0.x)")
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    parser.add_argument("--path", default="/", help="request target; {i} becomes a unique connection id")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    client = Client(args.host, args.port, args.source, args.deflate, args.path)
    try:
        import uvloop

        uvloop.run(serve(client))
    except ImportError:
        asyncio.run(serve(client))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
