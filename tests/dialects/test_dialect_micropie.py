"""fastws.dialects.micropie against micropie.WebSocket 0.32: scripted conversations give the same
results, exceptions (MicroPie's ConnectionClosed, ValueError, RuntimeError) and sent messages on
both implementations; the session cookie; install() with a MicroPie app."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

pytest.importorskip("micropie")

import micropie  # noqa: E402
from dialect_harness import CONNECT, assert_same, binary, disconnect, run_snippet, text  # noqa: E402
from dialect_scripts import accept, call  # noqa: E402

from fastws.dialects import micropie as dialect  # noqa: E402

SESSION = str(uuid.UUID(int=0x1234_5678_9ABC_4DEF_8123_4567_89AB_CDEF))


async def accepted(ws: Any) -> Any:
    return (ws.accepted, ws.session_id)


SCRIPTS: dict[str, tuple[list[Any], list[Any]]] = {
    "text_bytes_and_disconnect": (
        [CONNECT, text("hi"), binary(b"\xc3\xbc\xff"), binary(b"b"), text("ü"), disconnect(1001, "bye")],
        [
            accepted,
            accept(),
            accepted,
            call("receive_text"),
            call("receive_text"),
            call("receive_bytes"),
            call("receive_bytes"),
            call("send_text", "x"),
            call("send_bytes", b"y"),
            call("receive_text"),
            accepted,
        ],
    ),
    "accept_with_subprotocol_and_session": (
        [CONNECT],
        [
            accept("chat", SESSION),
            accepted,
            accept(),
            call("close", 4001, "going"),
            accepted,
            call("close"),
            call("send_text", "late"),
            call("send_bytes", b"late"),
        ],
    ),
    "rejected_session_id": (
        [CONNECT, CONNECT],
        [accept(session_id="not-a-uuid"), accepted, accept(), accepted],
    ),
    "insecure_cookie_and_pending_rotation": (
        [CONNECT],
        [lambda ws: _pending(ws), accept(), accepted],
    ),
    "misuse_before_accept": (
        [CONNECT, text("early"), binary(b"e"), disconnect(1000)],
        [
            call("send_text", "x"),
            call("send_bytes", b"x"),
            call("close"),
            call("receive_text"),
            call("receive_text"),
            call("receive_bytes"),
            call("receive_bytes"),
            accepted,
        ],
    ),
    "bad_first_event": (
        [text("not connect"), CONNECT],
        [accept(), accepted, accept(), accepted],
    ),
    "unexpected_event_after_accept": (
        [CONNECT, {"type": "websocket.bogus"}, CONNECT, text("ok")],
        [accept(), call("receive_text"), call("receive_bytes"), call("receive_text")],
    ),
    "close_default": (
        [CONNECT],
        [accept(), call("close"), accepted],
    ),
}


async def _pending(ws: Any) -> None:
    # What MicroPie's App does after building the WebSocket: a session to (re)issue as a cookie.
    ws.session_id = SESSION
    ws._session_cookie_pending = True
    ws.session_cookie_secure = False


@pytest.fixture
def cls(impl: Any) -> Any:
    return dialect.build(impl.WebSocket)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_scripted_conversation(cls: Any, name: str) -> None:
    events, steps = SCRIPTS[name]
    assert_same(
        lambda server: micropie.WebSocket(server.receive, server.send),
        lambda server: cls(server.receive, server.send),
        events,
        steps,
    )


def test_receive_and_send_are_the_servers_callables(cls: Any) -> None:
    async def receive() -> Any:
        return CONNECT

    async def send(message: Any) -> None:
        pass

    ws = cls(receive, send)
    assert ws.receive is receive and ws.send is send
    assert ws.scope == {"type": "websocket"}


@pytest.mark.parametrize("name", dialect.SCOPE_ATTRIBUTES)
def test_connection_info_is_absent_as_on_micropies_class(cls: Any, name: str) -> None:
    # Issue 18: these raised KeyError (the scope MicroPie gives holds only its type). MicroPie's
    # class has no such attribute; neither has the dialect.
    async def receive() -> Any:  # pragma: no cover - never called
        return {}

    async def send(message: Any) -> None:  # pragma: no cover - never called
        pass

    theirs = micropie.WebSocket(receive, send)
    ours = cls(receive, send)
    assert not hasattr(theirs, name)
    assert not hasattr(ours, name)
    with pytest.raises(AttributeError, match="self.request"):
        getattr(ours, name)


def test_every_public_member_of_micropies_class_exists(cls: Any) -> None:
    async def receive() -> Any:  # pragma: no cover - never called
        return {}

    async def send(message: Any) -> None:  # pragma: no cover - never called
        pass

    theirs = micropie.WebSocket(receive, send)
    ours = cls(receive, send)
    public = {name for name in dir(theirs) if not name.startswith("_")}
    assert public <= set(dir(ours)), public - set(dir(ours))
    for name in public:
        assert hasattr(ours, name), name


def test_failing_send_raises_the_oserror_as_micropie(cls: Any) -> None:
    async def main(make: Any) -> bool:
        async def receive() -> Any:
            return CONNECT

        async def send(message: Any) -> None:
            if message["type"] != "websocket.accept":
                raise ConnectionResetError("gone")

        ws = make(receive, send)
        await ws.accept()
        with pytest.raises(ConnectionResetError):
            await ws.send_text("x")
        return ws.accepted

    assert asyncio.run(main(micropie.WebSocket)) is asyncio.run(main(cls)) is True


MICROPIE_APP = """
import asyncio, fastws, fastws.dialects.micropie as dialect
assert dialect.install() and dialect.install() == []
from micropie import App, ConnectionClosed

seen = []

class Root(App):
    async def ws_echo(self, ws, room):
        seen.append(type(ws))
        await ws.accept()
        try:
            while True:
                await ws.send_text(room + ": " + await ws.receive_text())
        except ConnectionClosed:
            seen.append("closed")

async def main():
    events = [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "hi"},
              {"type": "websocket.disconnect", "code": 1000}]
    sent = []
    async def receive():
        return events.pop(0)
    async def send(message):
        sent.append(message)
    scope = {"type": "websocket", "path": "/echo/lobby", "root_path": "", "query_string": b"", "headers": [],
             "scheme": "ws", "server": ("t", 80), "client": ("c", 1)}
    await Root()(scope, receive, send)
    return sent

sent = asyncio.run(main())
assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send"], sent
assert sent[1]["text"] == "lobby: hi", sent
assert seen == [dialect.WebSocket, "closed"], seen
print("OK", fastws.IMPLEMENTATION)
"""


@pytest.mark.parametrize("implementation", ["cython", "python"])
def test_install_serves_a_micropie_app(implementation: str, request: pytest.FixtureRequest) -> None:
    if implementation == "cython" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    # MicroPie imports `multipart`, which python-multipart (a Starlette test dependency) shadows with a warning.
    out = run_snippet(MICROPIE_APP, implementation, warnings=["ignore::PendingDeprecationWarning"])
    assert out.split()[-2:] == ["OK", implementation]
