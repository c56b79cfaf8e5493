"""fastws.server.WebSocketProtocol under a real uvicorn (uvloop, 127.0.0.1, ephemeral port) with
both twins of the frame codec, talking to real clients (websockets, aiohttp, picows) and to a raw
socket for the wire-level cases (handshake errors, protocol errors, keepalive).

One server per codec twin runs in a background thread for the module; every client conversation
is bounded by ``asyncio.timeout``. The app is raw ASGI so each test controls the events exactly.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from fastws.protocol import _frame_py
from fastws.protocol._frame_types import OP_CLOSE, OP_PING, OP_TEXT
from fastws.server import WebSocketProtocol, accept_key

pytestmark = pytest.mark.e2e

LOOP = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
TEST_TIMEOUT = 10.0
SERVER_TIMEOUT = 10.0
MAX_SIZE = 256 * 1024
PING_INTERVAL = 0.3
PING_TIMEOUT = 0.3


def protocol_class(name: str) -> type:
    """``WebSocketProtocol`` on one codec twin, imported directly (a missing extension fails)."""
    codec = importlib.import_module(f"fastws.protocol._frame_{name}")
    return type(f"{name.title()}Protocol", (WebSocketProtocol,), {"codec": codec})


RECORDS: dict[str, queue.Queue[Any]] = {}
RECORDS_LOCK = threading.Lock()


def record(token: str) -> queue.Queue[Any]:
    with RECORDS_LOCK:
        return RECORDS.setdefault(token, queue.Queue())


async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """Raw ASGI endpoints, by path; ``?token=`` names the side channel a test reads."""
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"http"})
        return
    assert scope["type"] == "websocket"
    path = scope["path"]
    query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
    token = query.get("token", "")
    assert (await receive())["type"] == "websocket.connect"
    if path == "/deny":
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"text/plain"), (b"x-why", b"no")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"go ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"away"})
        return
    if path == "/reject":
        await send({"type": "websocket.close", "code": 1000})
        return
    if path == "/boom":
        raise RuntimeError("boom before accept")
    if path == "/return":
        return
    offered = scope["subprotocols"]
    await send(
        {
            "type": "websocket.accept",
            "subprotocol": offered[0] if offered else None,
            "headers": [(b"x-fastws", b"yes"), (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")],
        }
    )
    if path.startswith("/scope"):
        info = {k: scope[k] for k in ("http_version", "scheme", "path", "root_path", "subprotocols")}
        info.update(
            raw_path=scope["raw_path"].decode(),
            query_string=scope["query_string"].decode(),
            headers=[[k.decode(), v.decode()] for k, v in scope["headers"]],
            client=list(scope["client"]),
            server=list(scope["server"]),
            spec=scope["asgi"]["spec_version"],
            state=sorted(scope["state"]),
            extensions=sorted(scope["extensions"]),
        )
        await send({"type": "websocket.send", "text": json.dumps(info)})
    if path == "/flood":
        # Far more than the socket buffers hold: the app must wait on write backpressure.
        chunk = os.urandom(64 * 1024)
        started = time.monotonic()
        for _ in range(int(query["n"])):
            await send({"type": "websocket.send", "bytes": chunk})
        record(token).put(time.monotonic() - started)
    if path == "/error_after_accept":
        raise RuntimeError("boom after accept")
    if path == "/return_after_accept":
        return
    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect":
            record(token).put(("disconnect", event["code"], event.get("reason", "")))
            return
        text = event.get("text")
        if text is not None and text.startswith("close:"):
            _, code, reason = text.split(":", 2)
            await send({"type": "websocket.close", "code": int(code), "reason": reason})
            after = await receive()
            record(token).put(("after close", after["type"], after.get("code")))
            return
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": event["bytes"]})


class LiveServer:
    """uvicorn in a background thread on an ephemeral port; ``overrides`` replace Config
    arguments (``app`` defaults to this module's)."""

    def __init__(self, protocol: type, http: str = "auto", **overrides: Any) -> None:
        settings: dict[str, Any] = dict(
            app=app,
            host="127.0.0.1",
            port=0,
            loop=LOOP,
            lifespan="off",
            log_level="warning",
            log_config=None,
            ws=protocol,
            http=http,
            ws_max_size=MAX_SIZE,
            ws_ping_interval=PING_INTERVAL,
            ws_ping_timeout=PING_TIMEOUT,
            timeout_graceful_shutdown=2,
        )
        settings.update(overrides)
        self.config = uvicorn.Config(**settings)
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, name="fastws-server-test", daemon=True)
        self.port = 0

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + SERVER_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.server.should_exit = True
                self.thread.join(SERVER_TIMEOUT)
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.005)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(SERVER_TIMEOUT)
        assert not self.thread.is_alive(), "uvicorn did not stop"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


@pytest.fixture(params=["c", "py"], scope="module")
def live(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    if request.param == "c" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    with LiveServer(protocol_class(request.param)) as server:
        yield server


def run(coro_fn: Callable[[], Any], timeout: float = TEST_TIMEOUT) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro_fn()

    return asyncio.run(bounded())


def client(url: str, **kwargs: Any) -> connect:
    kwargs.setdefault("open_timeout", 5)
    kwargs.setdefault("close_timeout", 2)
    return connect(url, **kwargs)


# -- raw socket client --------------------------------------------------------------------------

KEY = base64.b64encode(b"0123456789abcdef").decode()
MASK = b"\x01\x02\x03\x04"


async def raw_open(
    port: int, path: str = "/echo", extra: str = "", version: str = "13", key: str = KEY
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n{extra}\r\n"
    )
    writer.write(head.encode())
    response = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, response


async def raw_frames(reader: asyncio.StreamReader, stop: int = OP_CLOSE) -> list[tuple[int, Any]]:
    """Server frames until one with opcode ``stop`` (or EOF)."""
    parser = _frame_py.FrameParser(require_mask=False, max_size=None)
    events: list[tuple[int, Any]] = []
    while not any(op == stop for op, _ in events):
        data = await reader.read(65536)
        if not data:
            break
        events += parser.feed(data)
    return events


# -- tests --------------------------------------------------------------------------------------


def test_accept_key_rfc_example() -> None:
    # RFC 6455 section 1.3.
    assert accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_echo_websockets(live: LiveServer) -> None:
    async def scenario() -> None:
        async with client(f"{live.ws}/echo", max_size=None) as ws:
            # websockets offers permessage-deflate by default and uvicorn enables it by default.
            assert ws.response.headers["sec-websocket-extensions"].startswith("permessage-deflate")
            for message in ["hello", "é" * 1000, b"\x00\xff" * 70000, "", b""]:
                await ws.send(message)
                assert await ws.recv() == message
            # A fragmented message from the client, with a ping between its fragments.
            await ws.send(iter(["frag", "mented", " text"]))
            assert await ws.recv() == "fragmented text"
            await ws.send(iter([b"a" * 100_000, b"b" * 100_000]))
            assert await ws.recv() == b"a" * 100_000 + b"b" * 100_000
            latency = await ws.ping()
            await asyncio.wait_for(latency, 5)

    run(scenario)


def test_subprotocol_headers_and_scope(live: LiveServer) -> None:
    async def scenario() -> None:
        async with client(
            f"{live.ws}/scope/%C3%A9x?a=1&b=2", subprotocols=["chat", "superchat"], additional_headers={"X-Custom": "v"}
        ) as ws:
            assert ws.subprotocol == "chat"
            assert ws.response.headers["x-fastws"] == "yes"
            assert ws.response.headers.get_all("set-cookie") == ["a=1", "b=2"]
            assert "server" in ws.response.headers  # uvicorn's default headers
            info = json.loads(await ws.recv())
        assert info["path"] == "/scope/éx"
        assert info["raw_path"] == "/scope/%C3%A9x"
        assert info["query_string"] == "a=1&b=2"
        assert info["subprotocols"] == ["chat", "superchat"]
        assert ["x-custom", "v"] in info["headers"]
        assert all(name == name.lower() for name, _ in info["headers"])
        assert info["scheme"] == "ws" and info["http_version"] == "1.1" and info["root_path"] == ""
        assert info["client"][0] == "127.0.0.1" and info["server"] == ["127.0.0.1", live.port]
        assert info["extensions"] == ["websocket.http.response"]

    run(scenario)


def test_denial_response(live: LiveServer) -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as info:
            async with client(f"{live.ws}/deny"):
                pass
        response = info.value.response
        assert response.status_code == 401
        assert response.headers["x-why"] == "no"
        assert response.body == b"go away"

    run(scenario)


@pytest.mark.parametrize(("path", "status"), [("/reject", 403), ("/boom", 500), ("/return", 500)])
def test_close_or_fail_before_accept(live: LiveServer, path: str, status: int) -> None:
    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as info:
            async with client(f"{live.ws}{path}"):
                pass
        assert info.value.response.status_code == status

    run(scenario)


def test_server_close_code_and_reason(live: LiveServer) -> None:
    token = "server-close-" + os.urandom(4).hex()

    async def scenario() -> None:
        async with client(f"{live.ws}/echo?token={token}") as ws:
            await ws.send("close:4001:bye now")
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (4001, "bye now")

    run(scenario)
    assert record(token).get(timeout=5) == ("after close", "websocket.disconnect", 4001)


def test_client_close_code_and_reason(live: LiveServer) -> None:
    token = "client-close-" + os.urandom(4).hex()

    async def scenario() -> None:
        async with client(f"{live.ws}/echo?token={token}") as ws:
            await ws.close(3003, "client done")
        assert ws.close_code == 3003  # the server echoed the code

    run(scenario)
    assert record(token).get(timeout=5) == ("disconnect", 3003, "client done")


def test_app_error_after_accept_drops_the_connection(live: LiveServer) -> None:
    # As uvicorn's protocols (uvicorn 0.54, test_duplicate_handshake): no close frame, the
    # client sees 1006.
    async def scenario() -> None:
        async with client(f"{live.ws}/error_after_accept") as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
        assert info.value.rcvd is None and ws.close_code == 1006

    run(scenario)


def test_too_big_closes_1009(live: LiveServer) -> None:
    async def scenario() -> None:
        async with client(f"{live.ws}/echo", max_size=None) as ws:
            await ws.send(b"x" * MAX_SIZE)
            assert len(await ws.recv()) == MAX_SIZE
            await ws.send(b"x" * (MAX_SIZE + 1))
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009

    run(scenario)


def test_write_backpressure_with_a_slow_reader(live: LiveServer) -> None:
    token = "flood-" + os.urandom(4).hex()
    n = 300  # 19 MiB

    async def scenario() -> None:
        async with client(f"{live.ws}/flood?n={n}&token={token}", max_size=None, max_queue=1) as ws:
            await asyncio.sleep(0.3)  # the app fills the socket buffers and must wait
            assert record(token).empty()
            for _ in range(n):
                assert len(await ws.recv()) == 64 * 1024

    run(scenario)
    assert record(token).get(timeout=5) >= 0.25


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (_frame_py.encode_frame(OP_TEXT, b"\xc3\x28", mask=MASK), 1007),
        (_frame_py.encode_frame(OP_TEXT, b"unmasked"), 1002),
        (_frame_py.encode_frame(OP_TEXT, b"rsv", mask=MASK, rsv=4), 1002),
        (_frame_py.encode_frame(OP_CLOSE, b"\x03", mask=MASK), 1002),
        (_frame_py.encode_frame(OP_CLOSE, b"\x03\xed", mask=MASK), 1002),
        (bytes([0x89 & 0x7F, 0x80]) + MASK, 1002),
    ],
    ids=["bad-utf8", "unmasked", "rsv", "close-1-byte", "close-1005", "fragmented-ping"],
)
def test_protocol_errors_on_the_wire(live: LiveServer, frame: bytes, code: int) -> None:
    async def scenario() -> None:
        reader, writer, response = await raw_open(live.port)
        try:
            assert response.startswith(b"HTTP/1.1 101")
            writer.write(_frame_py.encode_frame(OP_TEXT, b"before", mask=MASK))
            echoed = await raw_frames(reader, stop=OP_TEXT)
            assert [e for e in echoed if e[0] != OP_PING] == [(OP_TEXT, "before")]
            writer.write(frame)
            events = await raw_frames(reader)
            assert events[-1][0] == OP_CLOSE
            assert _frame_py.parse_close(events[-1][1])[0] == code
            assert await reader.read() == b""  # then the server closes TCP
        finally:
            writer.close()

    run(scenario)


def test_ping_pong_and_close_echo_on_the_wire(live: LiveServer) -> None:
    async def scenario() -> None:
        reader, writer, response = await raw_open(live.port)
        try:
            assert b"sec-websocket-accept: " + accept_key(KEY.encode()) in response
            writer.write(_frame_py.encode_frame(OP_PING, b"abc", mask=MASK))
            writer.write(_frame_py.encode_frame(OP_CLOSE, b"", mask=MASK))
            events = await raw_frames(reader)
            assert (0xA, b"abc") in events
            assert events[-1] == (OP_CLOSE, b"")  # no code received, none sent back
        finally:
            writer.close()

    run(scenario)


def test_keepalive_timeout_closes_1011(live: LiveServer) -> None:
    async def scenario() -> None:
        reader, writer, _ = await raw_open(live.port)
        try:
            started = time.monotonic()
            events = await raw_frames(reader)  # never answer the ping
            assert events[0][0] == OP_PING and len(events[0][1]) == 4
            assert events[-1][0] == OP_CLOSE and _frame_py.parse_close(events[-1][1])[0] == 1011
            assert time.monotonic() - started >= PING_INTERVAL + PING_TIMEOUT - 0.1
        finally:
            writer.close()

    run(scenario)


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [({"version": "8"}, 426), ({"key": "short"}, 400), ({"key": ""}, 400)],
)
def test_handshake_errors(live: LiveServer, kwargs: dict[str, str], status: int) -> None:
    async def scenario() -> None:
        reader, writer, response = await raw_open(live.port, **kwargs)
        try:
            assert response.startswith(f"HTTP/1.1 {status} ".encode())
            if status == 426:
                assert b"sec-websocket-version: 13" in response
        finally:
            writer.close()

    run(scenario)


def test_aiohttp_client(live: LiveServer) -> None:
    import aiohttp  # the test extra brings it (FASTWS_STRICT_TESTS: never a skip in CI)

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(
                f"{live.ws}/echo", protocols=["p1"], timeout=aiohttp.ClientWSTimeout(ws_close=2)
            ) as ws:
                assert ws.protocol == "p1"
                await ws.send_str("héllo")
                assert await ws.receive_str() == "héllo"
                await ws.send_bytes(b"\x01" * 100_000)
                assert await ws.receive_bytes() == b"\x01" * 100_000
                await ws.close(code=4000, message=b"bye")
            assert ws.close_code == 4000

    run(scenario)


def test_picows_client(live: LiveServer) -> None:
    import picows

    async def scenario() -> None:
        received: asyncio.Queue[Any] = asyncio.Queue()

        class Listener(picows.WSListener):  # type: ignore[misc]
            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                received.put_nowait((frame.msg_type, frame.get_payload_as_bytes()))

        transport, _ = await picows.ws_connect(Listener, f"{live.ws}/echo")
        try:
            transport.send(picows.WSMsgType.TEXT, b"from picows")
            assert await received.get() == (picows.WSMsgType.TEXT, b"from picows")
            transport.send(picows.WSMsgType.BINARY, b"\x00" * 70000)
            assert await received.get() == (picows.WSMsgType.BINARY, b"\x00" * 70000)
        finally:
            transport.send_close(picows.WSCloseCode.OK)
            transport.disconnect()
            await transport.wait_disconnected()

    run(scenario)


def test_messages_before_a_protocol_error_are_answered_first(live: LiveServer) -> None:
    # Autobahn 3.2-5.15 (strict): a valid message, then a bad frame in the same TCP segment: the
    # echo of the valid message goes out before the close frame.
    async def scenario() -> None:
        reader, writer, _ = await raw_open(live.port)
        try:
            writer.write(
                _frame_py.encode_frame(OP_TEXT, b"first", mask=MASK)
                + _frame_py.encode_frame(OP_TEXT, b"second", mask=MASK)
                + _frame_py.encode_frame(OP_TEXT, b"x", mask=MASK, rsv=2)
            )
            events = [e for e in await raw_frames(reader) if e[0] != OP_PING]
            assert events[:2] == [(OP_TEXT, "first"), (OP_TEXT, "second")]
            assert events[2][0] == OP_CLOSE and _frame_py.parse_close(events[2][1])[0] == 1002
        finally:
            writer.close()

    run(scenario)


@pytest.mark.parametrize("compress", [0, 15])
def test_aiohttp_with_and_without_compression(live: LiveServer, compress: int) -> None:
    import aiohttp
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{live.ws}/echo", compress=compress) as ws:
                assert ws.compress == compress
                for _ in range(3):  # the compression context carries over between messages
                    await ws.send_str("compressible " * 1000)
                    assert await ws.receive_str() == "compressible " * 1000
                await ws.close()

    run(scenario)


def test_websockets_without_compression(live: LiveServer) -> None:
    async def scenario() -> None:
        async with client(f"{live.ws}/echo", compression=None) as ws:
            assert "sec-websocket-extensions" not in ws.response.headers
            await ws.send("plain")
            assert await ws.recv() == "plain"

    run(scenario)


def test_app_returning_after_accept_drops_the_connection(live: LiveServer) -> None:
    # As uvicorn's protocols (uvicorn 0.54, test_close_transport_on_asgi_return): 1006.
    async def scenario() -> None:
        async with client(f"{live.ws}/return_after_accept") as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
        assert info.value.rcvd is None and ws.close_code == 1006

    run(scenario)


def test_uvicorn_import_string() -> None:
    # `uvicorn app:app --ws fastws.server:WebSocketProtocol` resolves the import string this way.
    config = uvicorn.Config(app, ws="fastws.server:WebSocketProtocol", log_config=None)
    config.load()
    assert config.ws_protocol_class is WebSocketProtocol


def test_upgrade_from_h11() -> None:
    # uvicorn's h11 HTTP protocol hands over the request head too (httptools is the default).
    with LiveServer(WebSocketProtocol, http="h11") as server:

        async def scenario() -> None:
            async with client(f"{server.ws}/scope?q=1", subprotocols=["one"]) as ws:
                info = json.loads(await ws.recv())
                assert ws.subprotocol == "one"
                await ws.send("ping")
                assert await ws.recv() == "ping"
            assert info["path"] == "/scope" and info["query_string"] == "q=1"

        run(scenario)
