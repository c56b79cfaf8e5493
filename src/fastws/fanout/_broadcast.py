"""``broadcast`` and the per-connection ``Outbox``: the body of ``fastws.fanout`` (whose docstring
tells the design). The per-connection step it drives is ``fastws.fanout._step`` (compiled, or its
pure-Python twin); tests and ``fastws bench`` swap ``Outbox``, ``Pass`` and ``start_each`` here to
run one implementation's step.
"""

from __future__ import annotations

import asyncio
import enum
import sys
from collections import deque
from collections.abc import AsyncIterator, Coroutine, Generator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastws.codec._json import encode_json_text
from fastws.fanout._step import OutboxCore, Pass, start_each
from fastws.protocol.close import CloseCode
from fastws.websocket._errors import WebSocketDisconnect, WebSocketDisconnected
from fastws.websocket._state import WebSocketState

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_MESSAGES",
    "DEFAULT_TIMEOUT",
    "INTERNAL_ERROR",
    "TRY_AGAIN_LATER",
    "BroadcastResult",
    "Encoded",
    "Outbox",
    "Policy",
    "attached",
    "broadcast",
    "encode",
    "outbox_of",
]

#: Close code sent by ``Policy.CLOSE``: 1013 "Try Again Later" (IANA WebSocket close code registry),
#: ``CloseCode.TRY_AGAIN_LATER`` as a plain ``int``.
TRY_AGAIN_LATER = int(CloseCode.TRY_AGAIN_LATER)
#: Default bound of one connection's queue, in messages.
DEFAULT_MAX_MESSAGES = 64
#: Default bound of one connection's queue, in payload bytes (1 MiB).
DEFAULT_MAX_BYTES = 1 << 20
#: Default wait for ``Policy.WAIT``, and for the close handshake of ``Policy.CLOSE``, in seconds.
DEFAULT_TIMEOUT = 1.0

#: Close code sent when a send failed in a way that does not mean the connection is gone (a bug,
#: or a broken middleware): 1011 "Internal Error" (RFC 6455 section 7.4.1).
INTERNAL_ERROR = 1011

_SCOPE_KEY = "fastws.outbox"
#: The frame-level path on ``fastws.server`` (module docstring); off only to measure without it
#: (``fastws bench --broadcast --e2e``).
_FRAMES = True
# What a send raises once the connection is gone (the client left: OSError, reported by the
# WebSocket as WebSocketDisconnect 1006) or closed (WebSocketDisconnected). Other exceptions
# count as "gone" only when the connection's state says it is no longer open (Outbox._gone).
_GONE = (WebSocketDisconnect, WebSocketDisconnected, OSError)
_NO_QUEUE: tuple[()] = ()
_CONNECTING = WebSocketState.CONNECTING
_CONNECTED = WebSocketState.CONNECTED
_DISCONNECTED = WebSocketState.DISCONNECTED


def _report(loop: asyncio.AbstractEventLoop, outbox: Outbox, exc: BaseException) -> None:
    # An unexpected send error is a bug somewhere: log it through the loop's exception handler
    # (asyncio's default logs it with its traceback), as an exception that escaped a task would be.
    loop.call_exception_handler(
        {
            "message": "fastws.fanout: a send failed unexpectedly; the connection's outbox is closed "
            f"and the connection closed with {INTERNAL_ERROR}",
            "exception": exc,
            "outbox": outbox,
        }
    )


class Policy(enum.Enum):
    """What ``broadcast`` does with a connection whose send queue is full (a slow consumer)."""

    #: Evict the oldest queued messages until the new one fits.
    DROP_OLDEST = "drop_oldest"
    #: Close the connection with 1013 (try again later) and discard its queue.
    CLOSE = "close"
    #: Wait up to ``timeout`` seconds for room, else skip this message for that connection.
    WAIT = "wait"


@dataclass(frozen=True)
class BroadcastResult:
    """What one ``broadcast`` call did.

    Attributes:
        delivered (int): connections the message was queued for; their sender sends it in order
            unless the connection goes away first (``Outbox.sent`` counts what was really sent).
        dropped (int): messages discarded by this call: the oldest ones evicted under
            ``DROP_OLDEST``, and this message for each connection that had no room in time under
            ``WAIT`` (or that it could never fit).
        closed (int): connections not given the message because they were closed: by this call
            (``CLOSE``), or already (disconnected, or their outbox was closed).
    """

    delivered: int = 0
    dropped: int = 0
    closed: int = 0

    def __add__(self, other: BroadcastResult) -> BroadcastResult:
        """The field-wise sum, to total several broadcasts."""
        if not isinstance(other, BroadcastResult):
            return NotImplemented
        return BroadcastResult(
            self.delivered + other.delivered, self.dropped + other.dropped, self.closed + other.closed
        )


@dataclass(frozen=True)
class Encoded:
    """A message encoded once for many connections.

    Attributes:
        text (str | None): the text payload, or ``None`` for a binary message.
        data (bytes | None): the binary payload, or ``None`` for a text message.
        size (int): the payload size in bytes (UTF-8 length for text), what ``max_bytes`` counts.
    """

    text: str | None
    data: bytes | None
    size: int


def encode(message: Any) -> Encoded:
    """Encode a message once for ``broadcast``.

    Args:
        message: ``str`` (a text message), ``bytes``/``bytearray``/``memoryview`` (a binary
            message), an ``Encoded`` (returned as is), or any other JSON-serialisable value (a text
            message of compact JSON, byte-identical to ``WebSocket.send_json``).

    Returns:
        Encoded: the payload and its size in bytes.

    Raises:
        TypeError: a value JSON cannot represent. ValueError: a value that contains itself.
    """
    if isinstance(message, Encoded):
        return message
    if isinstance(message, str):
        # len(str) is the UTF-8 size for ASCII; only non-ASCII text pays for an encode.
        return Encoded(message, None, len(message) if message.isascii() else len(message.encode("utf-8")))
    if isinstance(message, (bytes, bytearray, memoryview)):
        data = bytes(message)
        return Encoded(None, data, len(data))
    text = encode_json_text(message)
    return Encoded(text, None, len(text) if text.isascii() else len(text.encode("utf-8")))


def _frame_sink(websocket: Any) -> Any:
    # The frame-level path serves a connection only where it is the same as a `websocket.send`
    # event: a fastws WebSocket class whose send_text/send_bytes are not overridden, whose ASGI
    # `send` is fastws.server's own (no middleware wrapping it, no subclass overriding it).
    server = sys.modules.get("fastws.server")
    if server is None:
        return None  # no connection of this process is served by it
    protocol_class = server.WebSocketProtocol
    send = getattr(websocket, "_send", None)
    protocol = getattr(send, "__self__", None)
    if not isinstance(protocol, protocol_class) or getattr(send, "__func__", None) is not protocol_class.send:
        return None
    cls = type(websocket)
    for base in _websocket_classes():
        if cls.send_text is base.send_text and cls.send_bytes is base.send_bytes:
            return protocol.send_prepared
    return None


def _websocket_classes() -> list[Any]:
    # fastws's WebSocket implementations that are loaded (the frame-level path knows what their
    # send_text/send_bytes do).
    found = []
    for name in ("fastws.websocket._core_c", "fastws.websocket._core_py"):
        module = sys.modules.get(name)
        if module is not None:
            found.append(module.WebSocket)
    return found


def _encode_frame(encoded: Encoded) -> bytes | None:
    # The message as one server-to-client frame, for the frame-level path; None while no
    # connection of this process can be served by fastws.server.
    if not _FRAMES or "fastws.server" not in sys.modules:
        return None
    from fastws.protocol._frame import encode_frame, encode_text
    from fastws.protocol._frame_types import OP_BINARY

    if encoded.text is not None:
        return encode_text(encoded.text)
    return encode_frame(OP_BINARY, encoded.data)  # type: ignore[arg-type]


class Outbox(OutboxCore):
    """The bounded send queue of one connection, and its sender task while messages are queued.

    Args:
        websocket: an accepted connection with ``send_text``/``send_bytes``/``close`` and
            ``application_state``/``client_state`` (``fastws.WebSocket``, either implementation,
            or Starlette's).

    Normally obtained with ``outbox_of(websocket)`` (one per connection, kept in its scope). The
    bounds and the policy are those of each ``put`` call; the sender takes a message off the queue
    as it starts sending it, so at most one message more than the bounds is held (in flight). See
    the module docstring for the lifetime of the sender task.

    Attributes:
        queued (int): messages waiting. queued_bytes (int): their payload bytes.
        sent (int): messages sent so far. dropped (int): messages evicted or refused.
        closed (bool): the outbox refuses messages (closed by ``aclose``, the policy, or a failed
            send).
        error (BaseException | None): the exception of a send that failed without the connection
            being gone (module docstring, "When a send fails"), else ``None``.
    """

    __slots__ = ()  # the fields are OutboxCore's (compiled, or its twin's slots)

    def __init__(self, websocket: Any) -> None:
        self.websocket = websocket
        # No deque until a message has to wait (most sends complete inline): saves ~760 bytes
        # per idle connection. The sender releases it again once it has drained.
        self._queue: deque[Encoded] | tuple[()] = _NO_QUEUE
        self._task: asyncio.Task[None] | None = None
        self._room: asyncio.Event | None = None
        self.queued_bytes = 0
        self.sent = 0
        self.dropped = 0
        self.closed = False
        self.error: BaseException | None = None
        # fastws.server's `send_prepared` when the frame-level path can serve this connection.
        self.frames = _frame_sink(websocket)

    @property
    def queued(self) -> int:
        """int: messages waiting to be sent."""
        return len(self._queue)

    @property
    def busy(self) -> bool:
        """bool: a sender task is running (messages are queued or one is being sent)."""
        return self._live()

    def _start(self, coro: Coroutine[Any, Any, None]) -> None:
        # Run `coro` (a sender, or the 1011 close) as this outbox's task.
        task = asyncio.get_running_loop().create_task(coro)
        task.add_done_callback(self._reap)
        self._task = task

    def _reap(self, task: asyncio.Task[None]) -> None:
        # The task ended. `_drain` normally leaves the outbox idle or closed itself; a task
        # cancelled before it first ran never entered `_drain`, and would strand its queue.
        if self._task is not task:
            return
        self._task = None
        if task.cancelled() or task.exception() is not None or self._queue:
            self.closed = True
            self._discard()

    def _live(self) -> bool:
        # Whether a sender task is running (reaping one that ended without its callback yet).
        task = self._task
        if task is not None and task.done():
            self._reap(task)
        return self._task is not None

    def _open(self) -> bool:
        # By identity for fastws's states, by name for another enum (Starlette's WebSocketState).
        # (Enum.name is slow: read only for a foreign enum.)
        ws = self.websocket
        app_state = ws.application_state
        client_state = ws.client_state
        if app_state is _CONNECTED and client_state is _CONNECTED:
            return True
        return (app_state is _CONNECTED or app_state.name == "CONNECTED") and not (
            client_state is _DISCONNECTED or client_state.name == "DISCONNECTED"
        )

    def _fits(self, message: Encoded, max_messages: int, max_bytes: int) -> bool:
        # An empty queue always takes one message, however large, so nothing is unsendable; the
        # bound is then max(max_bytes, that message's size).
        queue = self._queue
        return not queue or (len(queue) < max_messages and self.queued_bytes + message.size <= max_bytes)

    def _append(self, message: Encoded) -> bool:
        # Queue `message`, or send it at once when nothing is queued or in flight. False when the
        # connection failed on the spot (the outbox is then closed).
        if self._live() or self._queue:
            queue = self._queue
            if queue is _NO_QUEUE:
                queue = self._queue = deque()
            queue.append(message)  # type: ignore[union-attr]
            self.queued_bytes += message.size
            return True
        # Nothing queued, no sender: start the send inline. A send the server completes at once
        # (the usual case: the transport takes the frame) costs no task and no trip through the
        # event loop; a send that suspends (backpressure) continues in a sender task, so a slow
        # connection never holds up the caller or the other connections.
        ws = self.websocket
        send = ws.send_text(message.text) if message.text is not None else ws.send_bytes(message.data)
        try:
            awaited = send.send(None)
        except StopIteration:
            self.sent += 1
            return True
        except BaseException as exc:
            self._failed(exc)
            return False
        self._start(self._drain(send, awaited))
        return True

    def _gone(self, exc: BaseException) -> bool | None:
        # What a failed send means. True: the connection is gone or closed (the client left, the
        # server's send raised OSError, the app closed it): nothing more can be sent. None: it was
        # never accepted (the app has not called accept yet): this message is lost, later ones
        # may go. False: anything else, e.g. a bug in a middleware's send; a RuntimeError is only
        # "gone" when the connection's state says so.
        if isinstance(exc, _GONE):
            return True
        if not isinstance(exc, Exception):
            return False  # cancellation, KeyboardInterrupt, SystemExit: not the connection's doing
        try:
            app_state = self.websocket.application_state
            if app_state is _CONNECTING or getattr(app_state, "name", None) == "CONNECTING":
                return None
            return not self._open()
        except Exception:  # an object without the state attributes: cannot tell
            return False

    def _failed(self, exc: BaseException) -> None:
        # A send started inline (outside the sender task) raised `exc`. The outbox ends in a
        # defined state: closed, queue discarded (a connection never accepted: left as it was),
        # and for an unexpected error also reported and the connection closed with 1011 by a task
        # that `aclose` cancels. Exceptions that are not errors (cancellation, KeyboardInterrupt)
        # close the outbox and propagate.
        gone = self._gone(exc)
        if gone is None:
            return
        self.closed = True
        self._discard()
        if gone:
            return
        if not isinstance(exc, Exception):
            raise exc
        self.error = exc
        loop = asyncio.get_running_loop()
        _report(loop, self, exc)
        self._start(self._close_after_error())

    async def _close_after_error(self) -> None:
        # The 1011 close after an unexpected send error (`_failed`), bounded by DEFAULT_TIMEOUT.
        try:
            await self._close_quietly(INTERNAL_ERROR, "broadcast send failed", DEFAULT_TIMEOUT)
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    async def _close_quietly(self, code: int, reason: str, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.websocket.close(code, reason), timeout)
        except (asyncio.TimeoutError, Exception):
            pass  # already closing or gone (or broken): either way it gets no more messages

    async def put(
        self,
        message: Encoded,
        *,
        policy: Policy = Policy.DROP_OLDEST,
        max_messages: int = DEFAULT_MAX_MESSAGES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> BroadcastResult:
        """Queue one encoded message, applying ``policy`` if the queue is full.

        Args:
            message (Encoded): from ``encode``.
            policy (Policy): the slow-consumer policy.
            max_messages (int): queue bound in messages (>= 1).
            max_bytes (int): queue bound in payload bytes.
            timeout (float): seconds to wait for room (``WAIT``) or for the 1013 close (``CLOSE``).

        Returns:
            BroadcastResult: for this one connection (each field 0 or 1, ``dropped`` up to the
            number of evicted messages).

        Raises:
            Nothing for a closed or failing connection (that is counted); ``asyncio.CancelledError``
            if the caller is cancelled.
        """
        if self.closed or not self._open():
            self._discard()
            return BroadcastResult(closed=1)
        if self._fits(message, max_messages, max_bytes):
            return BroadcastResult(delivered=1) if self._append(message) else BroadcastResult(closed=1)
        if policy is Policy.DROP_OLDEST:
            evicted = 0
            while not self._fits(message, max_messages, max_bytes):
                self.queued_bytes -= self._queue.popleft().size  # type: ignore[union-attr]
                evicted += 1
            self.dropped += evicted
            self._append(message)  # queued: a sender is running
            return BroadcastResult(delivered=1, dropped=evicted)
        if policy is Policy.CLOSE:
            await self._close_slow(timeout)
            return BroadcastResult(closed=1)
        # Policy.WAIT: the sender sets `_room` after each message it sends.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._fits(message, max_messages, max_bytes):
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closed or not self._live():
                break
            if self._room is None:
                self._room = asyncio.Event()
            try:
                await asyncio.wait_for(self._room.wait(), remaining)
            except asyncio.TimeoutError:
                break
        if self.closed:
            return BroadcastResult(closed=1)
        if self._fits(message, max_messages, max_bytes):
            return BroadcastResult(delivered=1) if self._append(message) else BroadcastResult(closed=1)
        self.dropped += 1
        return BroadcastResult(dropped=1)

    async def _drain(self, in_flight: Coroutine[Any, Any, None] | None = None, awaited: Any = None) -> None:
        # The sender: finish the send started inline (if any: a WebSocket send coroutine, or a
        # broadcast pass detached on this connection's send), then send queued messages in order;
        # return when the queue is empty. However it ends, the outbox is left in a defined state:
        # idle (queue empty, no task), or closed with its queue discarded (module docstring,
        # "When a send fails"); never a queue without a sender.
        ws = self.websocket
        try:
            if in_flight is not None:
                await _Continue(in_flight, awaited)
                self.sent += 1
                room = self._room
                if room is not None:
                    self._room = None
                    room.set()
            # self._queue is read afresh each time: `_append` creates it while a send is in flight.
            while self._queue:
                # Taken off the queue before the send: the bounds count what waits, and at most
                # one more message is in flight.
                message = self._queue.popleft()
                self.queued_bytes -= message.size
                if message.text is not None:
                    await ws.send_text(message.text)
                else:
                    await ws.send_bytes(message.data)
                self.sent += 1
                room = self._room
                if room is not None:
                    self._room = None
                    room.set()
        except BaseException as exc:
            gone = self._gone(exc)
            self.closed = True
            self._discard()
            if gone is False and isinstance(exc, Exception) and self._task is asyncio.current_task():
                # Unexpected (a bug, a broken middleware): say so, and close the connection with
                # 1011 rather than leave it open and silently fed nothing.
                self.error = exc
                _report(asyncio.get_running_loop(), self, exc)
                await self._close_quietly(INTERNAL_ERROR, "broadcast send failed", DEFAULT_TIMEOUT)
            elif not isinstance(exc, Exception):
                raise  # cancelled (aclose, the policy, or the task's owner), KeyboardInterrupt...
        finally:
            if self._task is asyncio.current_task():
                self._task = None
            if not self._queue:
                self._queue = _NO_QUEUE

    def _discard(self) -> None:
        self.dropped += len(self._queue)
        self._queue = _NO_QUEUE
        self.queued_bytes = 0
        room = self._room
        if room is not None:
            self._room = None
            room.set()

    async def _stop_sender(self) -> None:
        task = self._task
        self._task = None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            # The task's own CancelledError is returned, not raised; the caller's is raised.
            await asyncio.gather(task, return_exceptions=True)

    async def _close_slow(self, timeout: float) -> None:
        self.closed = True
        self._discard()
        await self._stop_sender()
        await self._close_quietly(TRY_AGAIN_LATER, "slow consumer", timeout)

    async def aclose(self) -> None:
        """Close the outbox: refuse further messages, discard the queue, cancel and await the
        sender task. Idempotent. Does not close the WebSocket itself.

        Raises:
            asyncio.CancelledError: only if the caller itself is cancelled.
        """
        self.closed = True
        self._discard()
        await self._stop_sender()

    async def join(self, timeout: float | None = None) -> bool:
        """Wait until the queue is empty and the sender idle (for tests and graceful shutdowns).

        Args:
            timeout (float | None): seconds to wait at most; ``None`` waits as long as it takes.

        Returns:
            bool: ``True`` when drained, ``False`` on timeout (the sender keeps going).
        """
        if not self._live():
            return True
        done, _ = await asyncio.wait({self._task}, timeout=timeout)  # type: ignore[type-var]
        return bool(done) and not self._live()


class _Continue:
    # Awaitable that carries on a coroutine already started by hand (see Outbox._append and _drain): it
    # yields what the coroutine last yielded (the future it waits on, already marked as blocking,
    # or None for a bare yield) to the task running it, and passes every result, exception and
    # cancellation back into the coroutine, as awaiting it from the start would have.
    __slots__ = ("awaited", "coro")

    def __init__(self, coro: Coroutine[Any, Any, None], awaited: Any) -> None:
        self.coro = coro
        self.awaited = awaited

    def __await__(self) -> Generator[Any, Any, None]:
        coro = self.coro
        awaited = self.awaited
        self.awaited = None
        while True:
            try:
                sent = yield awaited
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:
                try:
                    awaited = coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    awaited = coro.send(sent)
                except StopIteration:
                    return


_OUTBOX = Outbox  # the class over the loaded core, whatever a benchmark swaps in meanwhile


def _twin_outbox(core: type) -> type[Outbox]:
    # `Outbox` with the same methods over another `OutboxCore` (the pure twin's, when the compiled
    # one is loaded): the benchmark and the tests run both implementations in one process, and
    # the pure step is only as fast as in a pure install over the pure core's __slots__.
    if core is OutboxCore:
        return _OUTBOX
    namespace = {name: value for name, value in vars(_OUTBOX).items() if name not in ("__dict__", "__weakref__")}
    return type("Outbox", (core,), namespace)


def outbox_of(websocket: Any) -> Outbox:
    """The outbox of a connection, created on first use and kept in its ASGI scope.

    Args:
        websocket: a connection with a ``scope`` mapping (``fastws.WebSocket`` or Starlette's).

    Returns:
        Outbox: the same object for the same connection every time.
    """
    scope = websocket.scope
    outbox = scope.get(_SCOPE_KEY)
    if outbox is None:
        outbox = scope[_SCOPE_KEY] = Outbox(websocket)
    return outbox


@asynccontextmanager
async def attached(websocket: Any) -> AsyncIterator[Outbox]:
    """Tie a connection's outbox to a block (the endpoint): on exit, however it exits, the outbox
    is closed and its sender task cancelled and awaited, so it cannot outlive the connection.

    Args:
        websocket: the connection (see ``outbox_of``).

    Yields:
        Outbox: the connection's outbox.
    """
    outbox = outbox_of(websocket)
    try:
        yield outbox
    finally:
        await outbox.aclose()


async def broadcast(
    websockets: Iterable[Any],
    message: Any,
    *,
    policy: Policy | str = Policy.DROP_OLDEST,
    max_messages: int = DEFAULT_MAX_MESSAGES,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
) -> BroadcastResult:
    """Send one message to every connection, each through its bounded send queue.

    Args:
        websockets (Iterable): accepted connections (``fastws.WebSocket``, either implementation,
            or any object with its send API and a ``scope``); an ``Outbox`` is taken as is.
        message: ``str``, bytes-like, ``Encoded``, or a JSON value (see ``encode``); encoded once.
        policy (Policy | str): the slow-consumer policy (``"drop_oldest"``, ``"close"``, ``"wait"``).
        max_messages (int): per-connection queue bound, in messages (>= 1).
        max_bytes (int): per-connection queue bound, in payload bytes (>= 0).
        timeout (float): seconds: the most ``WAIT`` waits for room, and the most ``CLOSE`` waits
            for the close frame to be handed to the server.

    Returns:
        BroadcastResult: how many connections got the message queued (``delivered``), how many
        messages were dropped, how many connections were (or got) closed. It returns once the
        message is queued everywhere (without waiting for the sends), except that ``WAIT`` and
        ``CLOSE`` first finish with the full connections (concurrently, at most ``timeout``).

    Raises:
        TypeError, ValueError: the message cannot be encoded (from ``encode``), or a bound is
            invalid. Nothing for slow, closed or failing connections: they are counted.

    Source: RFC 6455 section 7.4 (1013); the module docstring describes the queues.
    """
    policy = Policy(policy)
    if max_messages < 1 or max_bytes < 0 or timeout < 0:
        raise ValueError(
            f"broadcast needs max_messages >= 1, max_bytes >= 0 and timeout >= 0, "
            f"got {max_messages}, {max_bytes} and {timeout}"
        )
    encoded = encode(message)
    run = Pass(iter(websockets), encoded.text, encoded.data, _encode_frame(encoded))
    # Each idle connection's send is started inline, in turn (fastws.fanout._step: compiled, or its
    # pure-Python twin); a send that suspends (backpressure) is handed to that connection's
    # sender task, and the step goes on with the next connections.
    while True:
        started = start_each(run, _SCOPE_KEY, Outbox, outbox_of)
        if started is None:
            break
        run.outbox._start(run.outbox._drain(*started))
    delivered, dropped, closed = run.delivered, 0, run.closed
    if run.busy:
        slow: list[Any] = []
        for outbox in run.busy:
            outbox._live()  # reaps a sender that ended unseen (cancelled before it ran)
            if not outbox.closed and outbox._fits(encoded, max_messages, max_bytes) and outbox._open():
                # A sender is running and there is room: queue behind it.
                outbox._append(encoded)
                delivered += 1
            else:
                slow.append(
                    outbox.put(encoded, policy=policy, max_messages=max_messages, max_bytes=max_bytes, timeout=timeout)
                )
        if slow:
            for result in await asyncio.gather(*slow):
                delivered += result.delivered
                dropped += result.dropped
                closed += result.closed
    return BroadcastResult(delivered, dropped, closed)
