"""Cross-site WebSocket hijacking: ``fastws.OriginMiddleware`` and ``fastws.check_origin`` (issue 7).

Unit tests of the allow-list, the middleware over an in-memory server, and end to end: a real
``websockets`` client sending a foreign ``Origin`` to uvicorn gets HTTP 403, on both
implementations. See docs/errors.md, "Cross-site WebSocket hijacking".
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import uvicorn
from conftest import FakeServer, make_scope, run
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

import fastws
from fastws.origin import OriginMiddleware, check_origin, origin_allowed

GOOD = "https://good.example"
EVIL = "https://evil.example"


def scope_with(*origins: bytes, **extra: Any) -> dict[str, Any]:
    scope = make_scope(**extra)
    scope["headers"] = [*scope["headers"], *((b"origin", origin) for origin in origins)]
    return scope


# -- the allow-list -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origins", "allowed", "allow_missing", "expected"),
    [
        ((b"https://good.example",), [GOOD], True, True),
        ((b"HTTPS://Good.Example",), [GOOD], True, True),  # case-insensitive (RFC 6454 section 6.2)
        ((b"https://good.example/",), [GOOD], True, True),
        ((b"https://evil.example",), [GOOD], True, False),
        ((b"https://good.example.evil.example",), [GOOD], True, False),
        ((b"http://good.example",), [GOOD], True, False),  # another scheme is another origin
        ((b"https://good.example:8443",), [GOOD], True, False),  # another port too
        ((b"null",), [GOOD], True, False),
        ((b"null",), ["null"], True, True),
        ((b"https://evil.example",), ["*"], True, True),
        ((), [GOOD], True, True),  # no Origin: not a browser
        ((), [GOOD], False, False),
        ((b"https://good.example", b"https://good.example"), [GOOD], True, False),  # ambiguous
        ((b"https://g\xc3\xb6od.example",), [GOOD], True, False),  # not ASCII
        ((b"https://good.example",), GOOD, True, True),  # one str
    ],
)
def test_origin_allowed(origins: tuple[bytes, ...], allowed: Any, allow_missing: bool, expected: bool) -> None:
    assert origin_allowed(scope_with(*origins), allowed, allow_missing) is expected


def test_origin_header_name_is_case_insensitive() -> None:
    scope = make_scope(headers=[(b"Origin", b"https://evil.example")])
    assert origin_allowed(scope, [GOOD]) is False


def test_allowed_origins_must_be_str() -> None:
    with pytest.raises(TypeError, match="allowed origins must be str"):
        origin_allowed(make_scope(), [b"https://good.example"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        OriginMiddleware(None, allowed=[None])  # type: ignore[list-item]


def test_check_origin_on_a_connection_and_a_scope(impl: Any) -> None:
    ws = impl.WebSocket(scope_with(b"https://evil.example"))
    assert check_origin(ws, [GOOD]) is False
    assert check_origin(ws.scope, [GOOD]) is False
    assert check_origin(impl.WebSocket(scope_with(b"https://good.example")), [GOOD]) is True


def test_default_accepts_any_origin(impl: Any) -> None:
    # Without OriginMiddleware/check_origin, fastws (like Starlette) accepts any Origin.
    server = FakeServer([{"type": "websocket.connect"}])
    ws = impl.WebSocket(scope_with(b"https://evil.example"), server.receive, server.send)
    run(ws.accept())
    assert server.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]


def test_exported() -> None:
    assert fastws.OriginMiddleware is OriginMiddleware
    assert fastws.check_origin is check_origin


# -- the middleware over an in-memory server ---------------------------------------------------------------


def run_middleware(scope: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    reached: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["type"])

    server = FakeServer([{"type": "websocket.connect"}])
    run(OriginMiddleware(app, allowed=[GOOD])(scope, server.receive, server.send))
    return reached, server.sent


def test_middleware_denies_with_a_403_response() -> None:
    reached, sent = run_middleware(scope_with(b"https://evil.example"))
    assert reached == []
    assert sent[0]["type"] == "websocket.http.response.start" and sent[0]["status"] == 403
    assert sent[1] == {"type": "websocket.http.response.body", "body": b"Forbidden: WebSocket Origin not allowed"}


def test_middleware_without_the_denial_extension_closes_before_accept() -> None:
    reached, sent = run_middleware(scope_with(b"https://evil.example", extensions={}))
    assert reached == []
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]


def test_middleware_lets_allowed_and_other_traffic_through() -> None:
    assert run_middleware(scope_with(b"https://good.example"))[0] == ["websocket"]
    assert run_middleware(scope_with())[0] == ["websocket"]
    assert run_middleware({"type": "http", "headers": [(b"origin", b"https://evil.example")]})[0] == ["http"]
    assert run_middleware({"type": "lifespan"})[0] == ["lifespan"]


# -- end to end: uvicorn and a real websockets client ------------------------------------------------------


class Server:
    """uvicorn on 127.0.0.1 and an ephemeral port, in a thread (stopped and joined on exit)."""

    def __init__(self, app: Any) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.005)
        return f"ws://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        assert not self.thread.is_alive()


def echo_app(impl: Any, guard: str) -> Any:
    async def endpoint(scope: Any, receive: Any, send: Any) -> None:
        ws = impl.WebSocket(scope, receive, send)
        if guard == "check_origin" and not check_origin(ws, [GOOD]):
            await ws.close()  # before accept: HTTP 403
            return
        await ws.accept()
        await ws.send_text(await ws.receive_text())
        await ws.close()

    return OriginMiddleware(endpoint, allowed=[GOOD]) if guard == "middleware" else endpoint


async def exchange(url: str, origin: str | None) -> str:
    async with connect(url, origin=origin, open_timeout=5) as client:  # type: ignore[arg-type]
        await client.send("hello")
        return str(await client.recv())


@pytest.mark.parametrize("guard", ["middleware", "check_origin"])
def test_e2e_foreign_origin_gets_403(impl: Any, guard: str) -> None:
    with Server(echo_app(impl, guard)) as url:

        async def scenario() -> None:
            with pytest.raises(InvalidStatus) as info:
                await exchange(url, EVIL)
            assert info.value.response.status_code == 403
            if guard == "middleware":
                assert info.value.response.body == b"Forbidden: WebSocket Origin not allowed"
            assert await exchange(url, GOOD) == "hello"
            assert await exchange(url, None) == "hello"  # no Origin: a non-browser client

        asyncio.run(asyncio.wait_for(scenario(), 20))


def test_e2e_default_accepts_a_foreign_origin(impl: Any) -> None:
    with Server(echo_app(impl, "none")) as url:
        assert asyncio.run(asyncio.wait_for(exchange(url, EVIL), 20)) == "hello"
