"""Differential end to end: the same scripted ASGI apps and scripted clients against uvicorn's
default WebSocket protocol (websockets-sansio) and against fastws.server (both codec twins).

What the client sees (messages, close code and reason, HTTP status, headers and body of a
rejection) and what the app sees (its events, and whether a send raised ``OSError`` or another
error) must be the same, apart from the differences docs/protocol.md lists; those are asserted
here as they are documented, so the documentation cannot drift from the behaviour:

- the ``sec-websocket-extensions`` response header (uvicorn also negotiates 12-bit windows);
- the reason text of a close frame for a protocol error (each library words its own);
- the type of the exception for an invalid header (websockets' ``InvalidHeaderValue``, fastws's
  ``ValueError``: both are "an error", and the client gets HTTP 500 from both);
- a TCP connection lost after the handshake: 1005 from uvicorn, 1006 from fastws.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from test_server import MASK, LiveServer, client, protocol_class, raw_frames, raw_open, record, run
from websockets.exceptions import ConnectionClosed, InvalidStatus

from fastws.protocol import _frame_py
from fastws.protocol._frame_types import OP_CLOSE, OP_TEXT

pytestmark = pytest.mark.e2e

MAX_SIZE = 64 * 1024


def _query(scope: dict[str, Any]) -> dict[str, str]:
    return dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)


async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """The scripted apps, by path; everything the app sees goes to ``record(token)``."""
    assert scope["type"] == "websocket"
    seen: list[Any] = []
    path = scope["path"]

    async def recv() -> dict[str, Any]:
        event = await receive()
        seen.append(dict(event))
        return event

    async def attempt(message: dict[str, Any]) -> bool:
        try:
            await send(message)
        except OSError:
            seen.append(("raised", "OSError"))
            return False
        except Exception:
            seen.append(("raised", "error"))
            raise
        return True

    try:
        await recv()  # websocket.connect
        if path == "/reject":
            await attempt({"type": "websocket.close"})
            await recv()
        elif path == "/deny":
            await attempt(
                {
                    "type": "websocket.http.response.start",
                    "status": 401,
                    "headers": [(b"content-type", b"text/plain"), (b"x-why", b"no"), (b"set-cookie", b"a=1")],
                }
            )
            await attempt({"type": "websocket.http.response.body", "body": b"go ", "more_body": True})
            await attempt({"type": "websocket.http.response.body", "body": b"away"})
            await recv()
        elif path == "/deny_bad_status":
            await attempt({"type": "websocket.http.response.start", "status": 700, "headers": []})
        elif path == "/boom":
            raise RuntimeError("boom before accept")
        elif path == "/return":
            return
        elif path == "/bad_header":
            await attempt({"type": "websocket.accept", "headers": [(b"x-a", b"1\r\nx-injected: 1")]})
        elif path == "/send_before_accept":
            await attempt({"type": "websocket.send", "text": "too early"})
        else:
            offered = scope["subprotocols"]
            await attempt(
                {
                    "type": "websocket.accept",
                    "subprotocol": offered[0] if offered else None,
                    "headers": [(b"x-a", b"1"), (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")],
                }
            )
            if path == "/return_after_accept":
                return
            if path == "/close":
                await recv()
                await attempt({"type": "websocket.close", "code": 4001, "reason": "server bye"})
                await recv()
                await attempt({"type": "websocket.send", "text": "after close"})
                return
            while True:  # /echo
                event = await recv()
                if event["type"] == "websocket.disconnect":
                    await attempt({"type": "websocket.send", "text": "after disconnect"})
                    return
                if event.get("text") is not None:
                    await attempt({"type": "websocket.send", "text": event["text"]})
                else:
                    await attempt({"type": "websocket.send", "bytes": event["bytes"]})
    finally:
        record(_query(scope)["token"]).put(seen)


SERVER_NAMES = ["uvicorn", "fastws-c", "fastws-py"]


@pytest.fixture(scope="module")
def servers(request: pytest.FixtureRequest) -> Iterator[dict[str, LiveServer]]:
    names = SERVER_NAMES
    if request.config.getoption("--no-c-extensions"):
        names = [n for n in names if n != "fastws-c"]
    protocols: dict[str, Any] = {
        "uvicorn": "websockets-sansio",
        "fastws-c": protocol_class("c") if "fastws-c" in names else None,
        "fastws-py": protocol_class("py"),
    }
    started: dict[str, LiveServer] = {}
    try:
        for name in names:
            server = LiveServer(protocols[name], app=app, ws_ping_interval=None, ws_max_size=MAX_SIZE)
            started[name] = server.__enter__()
        yield started
    finally:
        for server in started.values():
            server.__exit__(None, None, None)


Script = Callable[[LiveServer, str], Awaitable[Any]]


def headers_view(headers: Any) -> list[tuple[str, str]]:
    # Date changes by the second; the extension parameters differ (documented).
    # (sec-websocket-accept answers the client's random key; the client checks it.)
    skip = ("date", "sec-websocket-extensions", "sec-websocket-accept")
    return sorted((k.lower(), v) for k, v in headers.raw_items() if k.lower() not in skip)


async def ws_echo(live: LiveServer, token: str) -> Any:
    view: list[Any] = []
    async with client(f"{live.ws}/echo?token={token}", max_size=None) as ws:
        view.append(headers_view(ws.response.headers))
        for message in ["hello", b"\x00\xff" * 10, "é" * 3000]:
            await ws.send(message)
            view.append(await ws.recv())
        await ws.send(iter(["frag", "mented"]))
        view.append(await ws.recv())
        await asyncio.wait_for(await ws.ping(b"p"), 5)
        await ws.close(4000, "client bye")
    view.append((ws.close_code, ws.close_reason))
    return view


async def ws_subprotocol(live: LiveServer, token: str) -> Any:
    async with client(f"{live.ws}/echo?token={token}", subprotocols=["chat", "other"], compression=None) as ws:
        view = [ws.subprotocol, headers_view(ws.response.headers)]
        await ws.close()
    return [*view, ws.close_code]


async def ws_server_close(live: LiveServer, token: str) -> Any:
    async with client(f"{live.ws}/close?token={token}") as ws:
        await ws.send("x")
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    rcvd = info.value.rcvd
    return [(rcvd.code, rcvd.reason) if rcvd else None, ws.close_code]


def ws_status(path: str) -> Script:
    async def script(live: LiveServer, token: str) -> Any:
        with pytest.raises(InvalidStatus) as info:
            async with client(f"{live.ws}{path}?token={token}"):
                pass
        response = info.value.response
        return [response.status_code, headers_view(response.headers), response.body]

    return script


async def ws_dropped(live: LiveServer, token: str) -> Any:
    async with client(f"{live.ws}/return_after_accept?token={token}") as ws:
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
    return [info.value.rcvd, ws.close_code]


def raw_bad_frame(frame: bytes) -> Script:
    async def script(live: LiveServer, token: str) -> Any:
        reader, writer, response = await raw_open(live.port, f"/echo?token={token}")
        try:
            # The bad frame once the echo of a good one is back (when both arrive together,
            # fastws answers the good one first and uvicorn does not: documented).
            writer.write(_frame_py.encode_frame(OP_TEXT, b"before", mask=MASK))
            before = await raw_frames(reader, stop=OP_TEXT)
            writer.write(frame)
            events = await raw_frames(reader)
            eof = await reader.read() == b""
        finally:
            writer.close()
        # The reason text differs by library (documented): the code only.
        return [response.split(b"\r\n")[0], before, events[:-1], _frame_py.parse_close(events[-1][1])[0], eof]

    return script


async def raw_close_without_code(live: LiveServer, token: str) -> Any:
    reader, writer, _ = await raw_open(live.port, f"/echo?token={token}")
    try:
        writer.write(_frame_py.encode_frame(OP_CLOSE, b"", mask=MASK))
        return [await raw_frames(reader), await reader.read()]
    finally:
        writer.close()


async def raw_drop(live: LiveServer, token: str) -> Any:
    reader, writer, _ = await raw_open(live.port, f"/echo?token={token}")
    writer.write(_frame_py.encode_frame(OP_TEXT, b"then gone", mask=MASK))
    events = await raw_frames(reader, stop=OP_TEXT)
    writer.transport.abort()
    return events


def app_after_protocol_error(seen: list[Any]) -> list[Any]:
    # Documented differences: a protocol error's disconnect reason is each library's own wording;
    # a send after it raises OSError in fastws (ASGI 2.4) where uvicorn raises RuntimeError.
    # test_send_after_a_protocol_error_raises_oserror checks fastws's side.
    return [
        {k: v for k, v in e.items() if k != "reason"} if isinstance(e, dict) else ("raised", "OSError") for e in seen
    ]


SCENARIOS: dict[str, tuple[Script, Callable[[list[Any]], list[Any]]]] = {
    "echo": (ws_echo, list),
    "subprotocol-and-headers": (ws_subprotocol, list),
    "server-close": (ws_server_close, list),
    "reject-403": (ws_status("/reject"), list),
    "denial-response": (ws_status("/deny"), list),
    "denial-bad-status-500": (ws_status("/deny_bad_status"), list),
    "error-before-accept-500": (ws_status("/boom"), list),
    "return-before-accept-500": (ws_status("/return"), list),
    "send-before-accept-500": (ws_status("/send_before_accept"), list),
    "invalid-accept-header-500": (ws_status("/bad_header"), list),
    "return-after-accept-1006": (ws_dropped, list),
    "bad-utf8-1007": (raw_bad_frame(_frame_py.encode_frame(OP_TEXT, b"\xc3\x28", mask=MASK)), app_after_protocol_error),
    "unmasked-1002": (raw_bad_frame(_frame_py.encode_frame(OP_TEXT, b"x")), app_after_protocol_error),
    "rsv-1002": (raw_bad_frame(_frame_py.encode_frame(OP_TEXT, b"x", mask=MASK, rsv=2)), app_after_protocol_error),
    "bad-close-code-1002": (
        raw_bad_frame(_frame_py.encode_frame(OP_CLOSE, b"\x03\xed", mask=MASK)),
        app_after_protocol_error,
    ),
    # Only the header (both servers fail from it; unread payload would make the kernel reset).
    "too-big-1009": (
        raw_bad_frame(_frame_py.encode_frame(OP_TEXT, b"x" * (MAX_SIZE + 1), mask=MASK)[:14]),
        app_after_protocol_error,
    ),
    "close-without-code": (raw_close_without_code, list),
}


def converse(live: LiveServer, script: Script) -> tuple[Any, list[Any]]:
    token = f"diff-{time.monotonic_ns()}"
    client_view = run(lambda: script(live, token))
    return client_view, record(token).get(timeout=5)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_as_uvicorn(servers: dict[str, LiveServer], name: str) -> None:
    script, app_view = SCENARIOS[name]
    reference_client, reference_app = converse(servers["uvicorn"], script)
    for server in servers:
        if server == "uvicorn":
            continue
        got_client, got_app = converse(servers[server], script)
        assert got_client == reference_client, server
        assert app_view(got_app) == app_view(reference_app), server


def test_connection_lost_after_the_handshake(servers: dict[str, LiveServer]) -> None:
    # The documented difference: uvicorn reports 1005, fastws 1006 (RFC 6455 section 7.1.5).
    views = {name: converse(live, raw_drop) for name, live in servers.items()}
    for name, (client_view, app_seen) in views.items():
        assert client_view == [(OP_TEXT, "then gone")], name
        expected = 1005 if name == "uvicorn" else 1006
        assert app_seen[-2:] == [{"type": "websocket.disconnect", "code": expected}, ("raised", "OSError")], name


def test_send_after_a_protocol_error_raises_oserror(servers: dict[str, LiveServer]) -> None:
    # The documented difference: ASGI 2.4 asks for an OSError from send() on a closed connection.
    script = raw_bad_frame(_frame_py.encode_frame(OP_TEXT, b"x"))  # unmasked: 1002
    for name, live in servers.items():
        _, seen = converse(live, script)
        assert seen[-1] == ("raised", "error" if name == "uvicorn" else "OSError"), name
