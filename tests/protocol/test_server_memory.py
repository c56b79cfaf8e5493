"""What fastws.server keeps per idle connection (issue 14), on both codec twins.

* The keepalive pings of every connection on a loop share one deadline queue and one timer per
  delay (``server._Deadlines``), not one ``TimerHandle`` per connection (the pong timeout has a
  timer only from a ping to its pong); a pong answered in time re-arms the ping, a missing one
  closes 1011; a callback that raises does not stop the other connections' keepalive; the queue
  leaves the registry once it is empty.
* The protocol has ``__slots__``: no per-instance dict unless a subclass adds attributes; an idle
  connection holds no message deque.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
from types import SimpleNamespace
from typing import Any

import pytest
from test_server_protocol import HEAD, MASK, FakeTransport, frames

from fastws import server as server_module
from fastws.protocol._frame_types import OP_CLOSE, OP_PING, OP_PONG
from fastws.server import WebSocketProtocol


@pytest.fixture(params=["c", "py"])
def codec(request: pytest.FixtureRequest) -> Any:
    if request.param == "c" and request.config.getoption("--no-c-extensions"):
        pytest.skip("needs the compiled extension (--no-c-extensions)")
    return importlib.import_module(f"fastws.protocol._frame_{request.param}")


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


def _open(codec: Any, count: int, interval: float, timeout: float | None) -> list[tuple[Any, FakeTransport]]:
    config = SimpleNamespace(
        loaded=True, loaded_app=_app, root_path="", asgi_version="3.0", ws_max_size=1 << 20, ws_max_queue=4,
        ws_ping_interval=interval, ws_ping_timeout=timeout, ws_per_message_deflate=False,
    )  # fmt: skip
    state = SimpleNamespace(connections=set(), tasks=set(), default_headers=[])
    cls = WebSocketProtocol if codec is WebSocketProtocol.codec else type("P", (WebSocketProtocol,), {"codec": codec})
    opened = []
    for _ in range(count):
        protocol = cls(config=config, server_state=state, app_state={})
        transport = FakeTransport()
        protocol.connection_made(transport)
        protocol.data_received(HEAD)
        opened.append((protocol, transport))
    return opened


def _queues(loop: asyncio.AbstractEventLoop) -> dict[str, int]:
    return {key[2]: len(q.queue) for key, q in server_module._DEADLINES.items() if key[0] is loop}


def _pings(codec: Any, transport: FakeTransport) -> list[bytes]:
    return [data for chunk in transport.written[1:] for op, data in frames(codec, chunk) if op == OP_PING]


def test_keepalive_of_many_connections_shares_one_queue(codec: Any) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        opened = _open(codec, 40, interval=0.05, timeout=0.5)
        await asyncio.sleep(0.01)
        assert all(t.written[0].startswith(b"HTTP/1.1 101") for _, t in opened)
        assert _queues(loop) == {"ping": 40}  # one queue, one timer, 40 entries
        await asyncio.sleep(0.08)
        assert all(len(_pings(codec, t)) == 1 for _, t in opened)
        assert _queues(loop) == {}  # every ping sent; each waits for its pong on a short-lived timer
        # half answer, half stay silent
        for protocol, transport in opened[:20]:
            protocol.data_received(codec.encode_frame(OP_PONG, _pings(codec, transport)[0], mask=MASK))
        assert _queues(loop) == {"ping": 20}  # the answered ones wait for their next ping
        await asyncio.sleep(0.1)
        for _, transport in opened[:20]:  # answered: pinged again
            assert not transport.closed and len(_pings(codec, transport)) >= 2
        for _, transport in opened[20:]:  # silent: waiting for the pong
            assert not transport.closed and len(_pings(codec, transport)) == 1
        await asyncio.sleep(0.5)
        for _, transport in opened[20:]:
            assert transport.closed
            closes = [d for c in transport.written[1:] for o, d in frames(codec, c) if o == OP_CLOSE]
            code, _ = codec.parse_close(closes[0])
            assert code == 1011
        for protocol, _ in opened:
            protocol.connection_lost(None)
        await asyncio.sleep(0.6)
        assert _queues(loop) == {}  # every queue left the registry once empty

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_failing_keepalive_callback_does_not_stop_the_others(codec: Any) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        errors: list[dict[str, Any]] = []
        loop.set_exception_handler(lambda loop, context: errors.append(context))
        opened = _open(codec, 3, interval=0.03, timeout=None)
        await asyncio.sleep(0.01)

        def broken() -> None:
            raise RuntimeError("boom")

        opened[0][0]._send_ping = broken
        await asyncio.sleep(0.05)
        assert [type(e["exception"]) for e in errors] == [RuntimeError]
        assert all(len(_pings(codec, t)) >= 1 for _, t in opened[1:])
        for protocol, _ in opened:
            protocol.connection_lost(None)

    asyncio.run(asyncio.wait_for(main(), 10))


def test_protocol_has_no_instance_dict(codec: Any) -> None:
    async def main() -> None:
        ((protocol, transport),) = _open(codec, 1, interval=1.0, timeout=1.0)
        await asyncio.sleep(0.01)
        assert transport.written[0].startswith(b"HTTP/1.1 101")
        if type(protocol) is WebSocketProtocol:
            assert not any(isinstance(r, dict) and "transport" in r for r in gc.get_referents(protocol))
        assert protocol._messages == ()  # idle: no message queue allocated
        protocol.data_received(codec.encode_frame(0x1, b"hi", mask=MASK))
        await asyncio.sleep(0.01)
        assert protocol._messages == ()  # the app took it: the queue is released again
        protocol.extra_attribute = 1  # a subclass or hook may still add its own
        assert protocol.extra_attribute == 1
        protocol.connection_lost(None)

    asyncio.run(asyncio.wait_for(main(), 10))
