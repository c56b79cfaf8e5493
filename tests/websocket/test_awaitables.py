"""The per-message methods behave as coroutines on both implementations: lazy until awaited,
usable with asyncio.create_task/gather/wait_for and anyio, cancellable while the server's
receive is pending, and single-use. (The compiled implementation returns its own coroutine
objects, see README "Compatibility"; these tests pin that they act like native ones.)"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import anyio
import pytest
from conftest import FakeServer, make_scope, run

from fastws import UnexpectedMessageType, WebSocketDisconnect, WebSocketDisconnected, WebSocketState


class QueueServer:
    """Server side whose receive blocks on an asyncio.Queue, as uvicorn's does."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return await self.queue.get()

    async def send(self, message: dict[str, Any]) -> None:
        await asyncio.sleep(0)  # a real suspension, as a transport write may cause
        self.sent.append(message)


async def accepted(impl: Any, server: Any) -> Any:
    ws = impl.WebSocket(make_scope(), server.receive, server.send)
    if isinstance(server, QueueServer):
        server.queue.put_nowait({"type": "websocket.connect"})
    await ws.accept()
    return ws


def test_operations_are_coroutines_and_lazy(impl: Any) -> None:
    async def main() -> None:
        server = FakeServer([{"type": "websocket.connect"}])
        ws = impl.WebSocket(make_scope(), server.receive, server.send)
        op = ws.receive_text()  # before accept: must not raise until awaited
        assert isinstance(op, Coroutine)
        assert asyncio.iscoroutine(op)
        op.close()
        pending = ws.accept()
        assert server.sent == [] and server.events  # nothing happened yet
        await pending
        assert server.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]
        with pytest.raises(WebSocketDisconnected):
            await impl.WebSocket(make_scope(), server.receive, server.send).receive_text()

    run(main())


def test_create_task_gather_and_suspension(impl: Any) -> None:
    async def main() -> None:
        server = QueueServer()
        ws = await accepted(impl, server)
        task = asyncio.create_task(ws.receive_text())
        await asyncio.sleep(0)
        assert not task.done()  # suspended in the server's receive
        server.queue.put_nowait({"type": "websocket.receive", "text": "late"})
        assert await asyncio.wait_for(task, 1) == "late"
        await asyncio.gather(ws.send_text("a"), ws.send_bytes(b"b"), ws.send_json({"c": 1}))
        assert [m.get("text", m.get("bytes")) for m in server.sent[1:]] == ["a", b"b", '{"c":1}']

    run(main())


def test_cancellation_while_receiving(impl: Any) -> None:
    async def main() -> None:
        server = QueueServer()
        ws = await accepted(impl, server)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws.receive_text(), 0.01)
        # The cancelled receive consumed nothing: the next one gets the next message.
        server.queue.put_nowait({"type": "websocket.receive", "text": "after"})
        assert await asyncio.wait_for(ws.receive_text(), 1) == "after"
        assert ws.client_state is WebSocketState.CONNECTED

        task = asyncio.create_task(ws.receive_bytes())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())


def test_anyio_task_group_and_cancel_scope(impl: Any) -> None:
    async def main() -> None:
        server = QueueServer()
        ws = await accepted(impl, server)
        results: list[str] = []

        async def reader() -> None:
            results.append(await ws.receive_text())

        async with anyio.create_task_group() as tg:
            tg.start_soon(reader)
            await anyio.sleep(0)
            server.queue.put_nowait({"type": "websocket.receive", "text": "via anyio"})
        assert results == ["via anyio"]

        with anyio.move_on_after(0.01) as scope:
            await ws.receive_text()
        assert scope.cancelled_caught

    run(main())


def test_single_use(impl: Any) -> None:
    async def main() -> None:
        server = FakeServer([{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "x"}])
        ws = impl.WebSocket(make_scope(), server.receive, server.send)
        await ws.accept()
        op = ws.receive_text()
        assert await op == "x"
        with pytest.raises(RuntimeError, match="cannot reuse already awaited coroutine"):
            await op

    run(main())


def test_errors_propagate_through_await(impl: Any) -> None:
    async def main() -> None:
        server = FakeServer(
            [
                {"type": "websocket.connect"},
                {"type": "websocket.receive", "bytes": b"\x00"},
                {"type": "websocket.receive", "text": "not json"},
                {"type": "websocket.disconnect", "code": 4001, "reason": "bye"},
            ]
        )
        ws = impl.WebSocket(make_scope(), server.receive, server.send)
        await ws.accept()
        with pytest.raises(UnexpectedMessageType) as info:
            await ws.receive_text()
        assert isinstance(info.value, KeyError)
        assert "binary" in str(info.value) and "text" in str(info.value)
        with pytest.raises(ValueError):  # json.JSONDecodeError
            await ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as disc:
            await ws.receive_text()
        assert (disc.value.code, disc.value.reason) == (4001, "bye")

    run(main())


def test_server_returning_futures_and_failing_sends(impl: Any) -> None:
    """Servers may return any awaitable (a Future here), and an OSError from send on an open
    connection becomes WebSocketDisconnect(1006) after a real suspension too."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        events = [{"type": "websocket.connect"}, {"type": "websocket.receive", "text": "f"}]

        def receive() -> asyncio.Future[dict[str, Any]]:
            fut: asyncio.Future[dict[str, Any]] = loop.create_future()
            loop.call_soon(fut.set_result, events.pop(0))
            return fut

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "websocket.send":
                await asyncio.sleep(0)
                raise ConnectionResetError("peer went away")

        ws = impl.WebSocket(make_scope(), receive, send)
        await ws.accept()
        assert await ws.receive_text() == "f"
        with pytest.raises(WebSocketDisconnect) as info:
            await ws.send_text("x")
        assert info.value.code == 1006
        assert isinstance(info.value.__context__, OSError)
        assert ws.application_state is WebSocketState.DISCONNECTED

    run(main())


def test_iterators_end_on_disconnect_and_stay_ended(impl: Any) -> None:
    async def main() -> None:
        server = FakeServer(
            [
                {"type": "websocket.connect"},
                {"type": "websocket.receive", "text": '{"a": 1}'},
                {"type": "websocket.receive", "text": "[2]"},
                {"type": "websocket.disconnect", "code": 1000},
            ]
        )
        ws = impl.WebSocket(make_scope(), server.receive, server.send)
        await ws.accept()
        iterator = ws.iter_json()
        assert [m async for m in iterator] == [{"a": 1}, [2]]
        with pytest.raises(StopAsyncIteration):
            await iterator.__anext__()
        await iterator.aclose()

    run(main())
