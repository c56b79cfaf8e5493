"""End-to-end: a real uvicorn server (uvloop, websockets-sansio protocol) runs an app built on
each implementation's ``WebSocket`` class, and the ``websockets`` client talks to it over a real
TCP socket on 127.0.0.1.

One server per implementation runs in a background thread for the whole module (``live``); each
test connects with ``websockets.asyncio.client.connect`` under a bounded ``asyncio.timeout``. The
app reports what it saw through a thread-safe side channel (``Recorder``) and records any
unexpected exception, which fails the test that caused it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.responses import PlainTextResponse
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from fastws.demo import make_app
from fastws.websockets import WebSocketDisconnect, WebSocketState

pytestmark = pytest.mark.e2e

#: uvloop as in production; asyncio where uvloop does not exist (Windows, PyPy).
LOOP = "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
#: Upper bound for one test's client conversation (seconds).
TEST_TIMEOUT = 10.0
#: Upper bound for starting or stopping a server (seconds).
SERVER_TIMEOUT = 10.0
#: Upper bound for waiting on the app's side channel (seconds).
RECORD_TIMEOUT = 5.0


# -- harness ------------------------------------------------------------------------------------


class Recorder:
    """Thread-safe side channel from the app (server thread) to the test (main thread): one
    ``queue.Queue`` per token, so a test only sees what its own connection recorded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, queue.Queue[Any]] = {}
        self.errors: list[BaseException] = []

    def _queue(self, token: str) -> queue.Queue[Any]:
        with self._lock:
            return self._queues.setdefault(token, queue.Queue())

    def put(self, token: str, value: Any) -> None:
        self._queue(token).put(value)

    def get(self, token: str, timeout: float = RECORD_TIMEOUT) -> Any:
        """The next value recorded under ``token``; raises ``queue.Empty`` after ``timeout`` s."""
        return self._queue(token).get(timeout=timeout)


class LiveServer:
    """``uvicorn.Server`` on 127.0.0.1, an ephemeral port, uvloop, in a background thread.

    ``port`` is read from the listening socket once ``server.started`` is set; leaving the
    context sets ``should_exit`` and joins the thread (bounded), and fails if it did not stop.
    """

    def __init__(self, app: Any, lifespan: str = "off") -> None:
        self.config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            loop=LOOP,
            lifespan=lifespan,
            log_level="warning",
            log_config=None,  # do not reconfigure logging globally; errors reach pytest's capture
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, name="fastws-e2e-uvicorn", daemon=True)
        self.port = 0

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + SERVER_TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn exited before it started serving")
            if time.monotonic() > deadline:
                self.server.should_exit = True
                self.thread.join(SERVER_TIMEOUT)
                raise TimeoutError(f"uvicorn did not start within {SERVER_TIMEOUT} s")
            time.sleep(0.005)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(SERVER_TIMEOUT)
        assert not self.thread.is_alive(), f"uvicorn did not stop within {SERVER_TIMEOUT} s"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def run_client(scenario: Callable[[], Any], timeout: float = TEST_TIMEOUT) -> Any:
    """Run ``await scenario()`` on a fresh event loop, failing after ``timeout`` seconds."""

    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await scenario()

    return asyncio.run(bounded())


def client(url: str, **kwargs: Any) -> connect:
    """``websockets.asyncio.client.connect`` with bounded open and close timeouts."""
    kwargs.setdefault("open_timeout", 5)
    kwargs.setdefault("close_timeout", 2)
    return connect(url, **kwargs)


# -- the example app ----------------------------------------------------------------------------


def build_app(websocket_class: type, recorder: Recorder) -> Any:
    """An ASGI app with one WebSocket endpoint per scenario, built on ``websocket_class``.

    Endpoints that report through the side channel take a ``token`` query parameter.
    """

    async def echo_text(ws: Any) -> None:
        await ws.accept()
        while True:
            try:
                text = await ws.receive_text()
            except WebSocketDisconnect:
                return
            await ws.send_text(text)

    async def echo_bytes(ws: Any) -> None:
        await ws.accept()
        while True:
            try:
                data = await ws.receive_bytes()
            except WebSocketDisconnect:
                return
            await ws.send_bytes(data)

    async def echo_json(ws: Any) -> None:
        mode = ws.query_params.get("mode", "text")
        await ws.accept()
        while True:
            try:
                value = await ws.receive_json(mode=mode)
            except WebSocketDisconnect:
                return
            await ws.send_json({"echo": value, "type": type(value).__name__}, mode=mode)

    async def iter_text(ws: Any) -> None:
        await ws.accept()
        async for text in ws.iter_text():
            await ws.send_text(text.upper())
        # iter_text ends quietly on the client's close; report the states it left behind.
        recorder.put(ws.query_params["token"], (ws.client_state, ws.application_state))

    async def subprotocol(ws: Any) -> None:
        offered = list(ws.scope["subprotocols"])
        supported = ws.query_params.getlist("supported")
        chosen = next((p for p in supported if p in offered), None)
        await ws.accept(subprotocol=chosen)
        await ws.send_json(
            {"offered": offered, "header": ws.headers.get("sec-websocket-protocol"), "chosen": chosen}
        )
        await ws.close()

    async def accept_headers(ws: Any) -> None:
        await ws.accept(
            headers=[
                (b"x-fastws-impl", ws.__class__.__module__.encode()),
                (b"set-cookie", b"a=1; Path=/"),
                (b"set-cookie", b"b=2; Path=/"),
            ]
        )
        await ws.send_text("hello")
        await ws.close()

    async def close_from_app(ws: Any) -> None:
        await ws.accept()
        request = await ws.receive_json()
        await ws.close(code=request["code"], reason=request["reason"])
        state = ws.application_state
        try:
            await ws.send_text("after close")
        except RuntimeError as exc:
            recorder.put(ws.query_params["token"], (state, type(exc).__name__, str(exc)))

    async def close_from_client(ws: Any) -> None:
        await ws.accept()
        await ws.send_text("ready")
        try:
            text = await ws.receive_text()
        except WebSocketDisconnect as exc:
            recorder.put(ws.query_params["token"], (exc.code, exc.reason, ws.client_state))
        else:
            recorder.put(ws.query_params["token"], ("unexpected message", text))

    async def abrupt(ws: Any) -> None:
        await ws.accept()
        await ws.send_text("ready")
        token = ws.query_params["token"]
        try:
            await ws.receive_text()
        except WebSocketDisconnect as exc:
            received = exc.code
        else:
            received = None
        try:
            await ws.send_text("anyone there?")
        except WebSocketDisconnect as exc:
            recorder.put(token, (received, "WebSocketDisconnect", exc.code, ws.application_state))
        else:
            recorder.put(token, (received, "no error", None, ws.application_state))

    async def deny(ws: Any) -> None:
        await ws.send_denial_response(PlainTextResponse("nope", status_code=401))
        recorder.put(ws.query_params["token"], ws.application_state)

    async def close_before_accept(ws: Any) -> None:
        await ws.close()
        recorder.put(ws.query_params["token"], ws.application_state)

    async def reflect(ws: Any) -> None:
        await ws.accept()
        client_address = ws.client
        await ws.send_json(
            {
                "module": type(ws).__module__,
                "query": dict(ws.query_params.multi_items()),
                "query_multi": ws.query_params.multi_items(),
                "custom": ws.headers.get("x-custom"),
                "repeated": ws.headers.getlist("x-repeated"),
                "cookies": ws.cookies,
                "url": str(ws.url),
                "path": ws.url.path,
                "port": ws.url.port,
                "scheme": ws.url.scheme,
                "base_url": str(ws.base_url),
                "client_host": client_address.host if client_address else None,
                "path_params": ws.path_params,
            }
        )
        await ws.close()

    routes = {
        "/text": echo_text,
        "/bytes": echo_bytes,
        "/json": echo_json,
        "/iter-text": iter_text,
        "/subprotocol": subprotocol,
        "/accept-headers": accept_headers,
        "/close-from-app": close_from_app,
        "/close-from-client": close_from_client,
        "/abrupt": abrupt,
        "/deny": deny,
        "/close-before-accept": close_before_accept,
        "/reflect": reflect,
    }

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket", scope["type"]
        handler = routes[scope["path"]]
        try:
            await handler(websocket_class(scope, receive, send))
        except BaseException as exc:
            recorder.errors.append(exc)
            raise

    return app


@pytest.fixture(scope="module")
def live(impl: SimpleNamespace) -> Iterator[SimpleNamespace]:
    """One server per implementation for the whole module."""
    recorder = Recorder()
    with LiveServer(build_app(impl.WebSocket, recorder)) as server:
        yield SimpleNamespace(server=server, recorder=recorder, impl=impl, url=server.ws)


@pytest.fixture
def e2e(live: SimpleNamespace) -> Iterator[SimpleNamespace]:
    """The module's live server; fails the test if the app raised while it ran."""
    live.recorder.errors.clear()
    yield live
    errors = list(live.recorder.errors)
    live.recorder.errors.clear()
    assert not errors, f"the app raised: {errors!r}"


def new_token() -> str:
    return uuid.uuid4().hex


# -- messages -----------------------------------------------------------------------------------


def test_text_echo(e2e: SimpleNamespace) -> None:
    messages = ["hello", "", "héllo wörld ✓ 𝄞 🎉", "x" * 70_000, "\x00 nul and \n newline"]

    async def scenario() -> list[Any]:
        async with client(f"{e2e.url}/text") as ws:
            echoes = []
            for message in messages:
                await ws.send(message)
                echoes.append(await ws.recv())
            return echoes

    echoes = run_client(scenario)
    assert echoes == messages
    assert all(type(echo) is str for echo in echoes)


def test_bytes_echo(e2e: SimpleNamespace) -> None:
    messages = [b"\x00\x01\x02", b"", bytes(range(256)), b"\xff" * 300_000, "✓".encode()]

    async def scenario() -> list[Any]:
        async with client(f"{e2e.url}/bytes") as ws:
            echoes = []
            for message in messages:
                await ws.send(message)
                echoes.append(await ws.recv())
            return echoes

    echoes = run_client(scenario)
    assert echoes == messages
    assert all(type(echo) is bytes for echo in echoes)


def test_many_messages_in_flight(e2e: SimpleNamespace) -> None:
    # Pipelined: the client sends 500 messages before reading; order and content must survive.
    messages = [f"message {i} ✓" for i in range(500)]

    async def scenario() -> list[Any]:
        async with client(f"{e2e.url}/text") as ws:
            for message in messages:
                await ws.send(message)
            return [await ws.recv() for _ in messages]

    assert run_client(scenario) == messages


def test_concurrent_connections_do_not_mix(e2e: SimpleNamespace) -> None:
    async def one(n: int) -> list[Any]:
        async with client(f"{e2e.url}/text") as ws:
            got = []
            for i in range(20):
                await ws.send(f"{n}:{i}")
                got.append(await ws.recv())
            return got

    async def scenario() -> list[list[Any]]:
        return await asyncio.gather(*(one(n) for n in range(25)))

    results = run_client(scenario)
    assert results == [[f"{n}:{i}" for i in range(20)] for n in range(25)]


JSON_VALUES = [
    {"hello": "world", "n": 42, "pi": 3.25, "ok": True, "nothing": None},
    ["héllo", "日本語", "emoji 🎉", "\u2028 line separator", 'quote " and \\ backslash'],
    {"nested": {"deeper": [1, [2, [3, {"k": "v"}]]]}, "ключ": "значение"},
    -(2**63),
    2**64 - 1,
    "just a string ✓",
    1.5e-300,
    [],
    {},
]


@pytest.mark.parametrize("mode", ["text", "binary"])
def test_json_echo(e2e: SimpleNamespace, mode: str) -> None:
    async def scenario() -> list[Any]:
        async with client(f"{e2e.url}/json?mode={mode}") as ws:
            frames = []
            for value in JSON_VALUES:
                encoded = json.dumps(value, ensure_ascii=False)
                await ws.send(encoded if mode == "text" else encoded.encode())
                frames.append(await ws.recv())
            return frames

    frames = run_client(scenario)
    assert [type(frame) for frame in frames] == [str if mode == "text" else bytes] * len(JSON_VALUES)
    decoded = [json.loads(frame) for frame in frames]
    assert decoded == [{"echo": value, "type": type(value).__name__} for value in JSON_VALUES]


def test_iter_text_ends_on_client_close(e2e: SimpleNamespace) -> None:
    token = new_token()

    async def scenario() -> list[Any]:
        async with client(f"{e2e.url}/iter-text?token={token}") as ws:
            got = []
            for word in ["one", "twö", "three"]:
                await ws.send(word)
                got.append(await ws.recv())
            return got

    assert run_client(scenario) == ["ONE", "TWÖ", "THREE"]
    client_state, application_state = e2e.recorder.get(token)
    assert client_state is WebSocketState.DISCONNECTED
    assert application_state is WebSocketState.CONNECTED  # the app never closed; the client did


# -- handshake ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "supported", "expected"),
    [
        (["a", "b"], ["b", "a"], "b"),  # the app's preference wins, not the client's order
        (["a", "b"], ["a"], "a"),
        (["a", "b"], ["c"], None),  # nothing in common: accepted without a subprotocol
    ],
    ids=["app-preference", "single-match", "no-match"],
)
def test_subprotocol_negotiation(
    e2e: SimpleNamespace, offered: list[str], supported: list[str], expected: str | None
) -> None:
    query = "&".join(f"supported={p}" for p in supported)

    async def scenario() -> tuple[Any, Any]:
        async with client(f"{e2e.url}/subprotocol?{query}", subprotocols=offered) as ws:
            report = json.loads(await ws.recv())
            return ws.subprotocol, report

    negotiated, report = run_client(scenario)
    assert negotiated == expected
    assert report == {"offered": offered, "header": ", ".join(offered), "chosen": expected}


def test_accept_headers_reach_the_client(e2e: SimpleNamespace) -> None:
    async def scenario() -> tuple[Any, Any]:
        async with client(f"{e2e.url}/accept-headers") as ws:
            assert ws.response is not None
            return ws.response.headers, await ws.recv()

    headers, greeting = run_client(scenario)
    assert greeting == "hello"
    assert headers["x-fastws-impl"] == f"fastws.websocket._core_{e2e.impl.name}"
    assert headers.get_all("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]


def test_denial_response_reaches_the_client(e2e: SimpleNamespace) -> None:
    token = new_token()

    async def scenario() -> None:
        async with client(f"{e2e.url}/deny?token={token}"):
            pytest.fail("the handshake should have been denied")

    with pytest.raises(InvalidStatus) as caught:
        run_client(scenario)
    response = caught.value.response
    assert response.status_code == 401
    assert response.body == b"nope"
    assert response.headers["content-type"].startswith("text/plain")
    assert e2e.recorder.get(token) is WebSocketState.DISCONNECTED


def test_close_before_accept_is_http_403(e2e: SimpleNamespace) -> None:
    token = new_token()

    async def scenario() -> None:
        async with client(f"{e2e.url}/close-before-accept?token={token}"):
            pytest.fail("the handshake should have been rejected")

    with pytest.raises(InvalidStatus) as caught:
        run_client(scenario)
    assert caught.value.response.status_code == 403
    assert e2e.recorder.get(token) is WebSocketState.DISCONNECTED


# -- closing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1000, ""), (1001, "going away"), (4001, "bye ✓ — ünïcode"), (3000, "r" * 120)],
    ids=["1000-no-reason", "1001", "4001-unicode-reason", "3000-120-byte-reason"],
)
def test_close_from_app(e2e: SimpleNamespace, code: int, reason: str) -> None:
    token = new_token()

    async def scenario() -> tuple[Any, Any, Any]:
        async with client(f"{e2e.url}/close-from-app?token={token}") as ws:
            await ws.send(json.dumps({"code": code, "reason": reason}))
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return ws.close_code, ws.close_reason, ws.state.name

    close_code, close_reason, state = run_client(scenario)
    assert (close_code, close_reason, state) == (code, reason, "CLOSED")
    state_after_close, error_type, error = e2e.recorder.get(token)
    assert state_after_close is WebSocketState.DISCONNECTED
    assert (error_type, error) == ("WebSocketDisconnected", 'Cannot call "send" once a close message has been sent.')


@pytest.mark.parametrize(
    ("code", "reason"),
    [(1000, ""), (1001, "tab closed"), (4002, "client bye é ✓")],
    ids=["1000-no-reason", "1001", "4002-unicode-reason"],
)
def test_close_from_client(e2e: SimpleNamespace, code: int, reason: str) -> None:
    token = new_token()

    async def scenario() -> None:
        async with client(f"{e2e.url}/close-from-client?token={token}") as ws:
            assert await ws.recv() == "ready"
            await ws.close(code=code, reason=reason)

    run_client(scenario)
    assert e2e.recorder.get(token) == (code, reason, WebSocketState.DISCONNECTED)


def test_abrupt_client_disconnect(e2e: SimpleNamespace) -> None:
    # The client drops the TCP connection without a close frame: the app's receive raises
    # WebSocketDisconnect (uvicorn reports 1005 or 1006), and a later send raises
    # WebSocketDisconnect(1006) (uvicorn's ClientDisconnected is an OSError) and marks the
    # application side DISCONNECTED, as Starlette does.
    token = new_token()

    async def scenario() -> None:
        async with client(f"{e2e.url}/abrupt?token={token}") as ws:
            assert await ws.recv() == "ready"
            ws.transport.abort()

    run_client(scenario)
    received, error, code, state = e2e.recorder.get(token)
    assert received in (1005, 1006)
    assert (error, code, state) == ("WebSocketDisconnect", 1006, WebSocketState.DISCONNECTED)


# -- connection info ----------------------------------------------------------------------------


def test_query_headers_cookies_and_url_reflected(e2e: SimpleNamespace) -> None:
    port = e2e.server.port
    query = "a=1&a=2&b=%C3%A9t%C3%A9&c=x+y&empty="

    async def scenario() -> Any:
        async with client(
            f"{e2e.url}/reflect?{query}",
            additional_headers=[
                ("X-Custom", "custom value ✓".encode().decode("latin-1")),
                ("X-Repeated", "one"),
                ("X-Repeated", "two"),
                ("Cookie", "session=abc123; theme=dark"),
                ("Cookie", "lang=fr"),
            ],
        ) as ws:
            return json.loads(await ws.recv())

    report = run_client(scenario)
    assert report["module"] == f"fastws.websocket._core_{e2e.impl.name}"
    # dict() keeps the last value of a repeated key, as Starlette's QueryParams does.
    assert report["query"] == {"a": "2", "b": "été", "c": "x y", "empty": ""}
    assert report["query_multi"] == [["a", "1"], ["a", "2"], ["b", "été"], ["c", "x y"], ["empty", ""]]
    assert report["custom"] == "custom value ✓".encode().decode("latin-1")
    assert report["repeated"] == ["one", "two"]
    assert report["cookies"] == {"session": "abc123", "theme": "dark", "lang": "fr"}
    assert report["url"] == f"ws://127.0.0.1:{port}/reflect?{query}"
    assert (report["path"], report["port"], report["scheme"]) == ("/reflect", port, "ws")
    assert report["base_url"] == f"ws://127.0.0.1:{port}/"
    assert report["client_host"] == "127.0.0.1"
    assert report["path_params"] == {}


# -- the bundled demo app -----------------------------------------------------------------------


def test_demo_app(impl: SimpleNamespace) -> None:
    # The demo (fastws.demo.make_app) on this implementation, with the lifespan protocol on.
    server = LiveServer(make_app(impl.WebSocket), lifespan="on")
    with server:
        base = server.http

        async def scenario() -> dict[str, Any]:
            results: dict[str, Any] = {}
            async with httpx.AsyncClient(base_url=base, timeout=5) as http:
                results["page"] = await http.get("/")
                results["head"] = await http.head("/")
                results["missing"] = await http.get("/missing")
                results["post"] = await http.post("/", content=b"x")
            async with client(f"{server.ws}/ws") as ws:
                echoes = []
                for message in ["hi ✓", b"\x00\xff", json.dumps({"k": [1, "é"]})]:
                    await ws.send(message)
                    echoes.append(await ws.recv())
                results["echoes"] = echoes
            with pytest.raises(InvalidStatus) as caught:
                async with client(f"{server.ws}/elsewhere"):
                    pass
            results["ws_missing"] = caught.value.response
            return results

        results = run_client(scenario)
        lifespan = server.server.lifespan
    assert not lifespan.startup_failed and not lifespan.shutdown_failed and not lifespan.error_occurred
    assert lifespan.startup_event.is_set() and lifespan.shutdown_event.is_set()

    page = results["page"]
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    expected_impl = {"c": "cython", "py": "python"}[impl.name]
    assert f'id="impl">{expected_impl}<' in page.text
    assert "new WebSocket(" in page.text and "/ws" in page.text
    assert "<script src" not in page.text and "<link" not in page.text  # self-contained
    head = results["head"]
    assert (head.status_code, head.content) == (200, b"")
    assert results["missing"].status_code == 404
    assert results["post"].status_code == 405
    assert results["post"].headers["allow"] == "GET, HEAD"
    assert results["echoes"] == ["hi ✓", b"\x00\xff", json.dumps({"k": [1, "é"]})]
    assert results["ws_missing"].status_code == 404
    assert results["ws_missing"].body == b"Not Found"
