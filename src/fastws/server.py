"""fastws's own RFC 6455 WebSocket protocol for uvicorn, on the compiled frame codec.

Use it with ``uvicorn app:app --ws fastws.server:WebSocketProtocol`` or
``uvicorn.Config(app, ws="fastws.server:WebSocketProtocol")`` (a class works too). uvicorn's HTTP
protocol parses the request, sees ``Upgrade: websocket`` and hands the connection over: it builds
this protocol with ``config``, ``server_state`` and ``app_state``, calls ``connection_made`` with
the transport and ``data_received`` with the request head it re-serialised, then points the
transport at this protocol.

Supported: the opening handshake (RFC 6455 section 4.2, parsed with h11), the ASGI WebSocket
scope (ASGI spec "WebSocket" section, ``spec_version`` 2.4), ``websocket.accept`` with a
subprotocol and extra headers, the denial response (``websocket.http.response.start``/``body``)
and HTTP 403 on close before accept, automatic pong, the closing handshake with code and reason
validation, keepalive pings (``ws_ping_interval``/``ws_ping_timeout``), write backpressure
(``pause_writing``/``resume_writing``), read backpressure (reading pauses while ``ws_max_queue``
messages wait for the app), ``ws_max_size`` (close 1009, after decompression too) and
permessage-deflate (RFC 7692, when ``ws_per_message_deflate`` is true: uvicorn's default) with
parameter negotiation.

It behaves as uvicorn's default protocol (websockets-sansio, uvicorn 0.54) does, and runs uvicorn's
own WebSocket test suite in CI; docs/protocol.md lists the few deliberate differences with the
RFC 6455 or ASGI clause behind each. ``receive``/``send`` are cancellation-safe (one future per
waiter), every header byte the app hands the handshake is validated before it is written, and
pongs are held back while the write buffer is over its high-water mark. No private uvicorn module
is imported: only the plug-in contract (``config``, ``server_state``, ``app_state``) is used.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import logging
import os
import socket
from types import ModuleType
from typing import Any, cast
from urllib.parse import quote, unquote

import h11

from fastws.protocol import _frame
from fastws.protocol._frame_types import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    WebSocketProtocolError,
)
from fastws.protocol.deflate import PerMessageDeflate, negotiate_deflate
from fastws.protocol.handshake import accept_key, check_response_headers, check_subprotocol
from fastws.protocol.http import http_response, response_head

__all__ = ["ClientDisconnected", "PerMessageDeflate", "WebSocketProtocol", "accept_key", "negotiate_deflate"]

#: Bound on the request head uvicorn hands over (bytes); uvicorn's own parser limits it first.
_MAX_HEAD = 64 * 1024
#: Data frames buffered in one event-loop iteration beyond this many bytes are written at once.
_COALESCE_BYTES = 64 * 1024
#: Seconds to wait for the peer's close frame after ours before dropping the TCP connection
#: (uvicorn's protocols: 10 s; ``WebSocketProtocol.close_timeout`` per connection).
CLOSE_TIMEOUT = 10.0
#: Seconds the app gets to handle the messages that arrived before a protocol error, before the
#: connection is failed anyway (see ``WebSocketProtocol.data_received``).
FAIL_GRACE = 1.0


class ClientDisconnected(OSError):
    """Raised by the protocol's ``send`` once the connection is gone (an ``OSError``, which
    Starlette and fastws turn into ``WebSocketDisconnect(1006)``). The same contract as
    ``uvicorn.protocols.utils.ClientDisconnected`` (uvicorn 0.54), which is private to uvicorn."""


# The four helpers below are copied from uvicorn 0.54 (uvicorn/protocols/utils.py, BSD-3-Clause),
# whose module is private: the addresses for the scope and the access log line.


def _remote_addr(transport: asyncio.BaseTransport) -> tuple[str, int] | None:
    sock: socket.socket | None = transport.get_extra_info("socket")
    if sock is not None:
        try:
            info = sock.getpeername()
            return (str(info[0]), int(info[1])) if isinstance(info, tuple) else None
        except OSError:  # seen with uvloop on a unix domain socket
            return None
    info = transport.get_extra_info("peername")
    if info is not None and isinstance(info, (list, tuple)) and len(info) == 2:
        return (str(info[0]), int(info[1]))
    return None


def _local_addr(transport: asyncio.BaseTransport) -> tuple[str, int | None] | None:
    sock: socket.socket | None = transport.get_extra_info("socket")
    if sock is not None:
        info = sock.getsockname()
        if isinstance(info, tuple):
            return (str(info[0]), int(info[1]))
        if isinstance(info, str):
            return (info, None)
        return None
    info = transport.get_extra_info("sockname")
    if info is not None and isinstance(info, (list, tuple)) and len(info) == 2:
        return (str(info[0]), int(info[1]))
    if isinstance(info, str):
        return (info, None)
    return None


def _client_addr(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return "%s:%d" % tuple(client) if client else ""


def _path_with_query_string(scope: dict[str, Any]) -> str:
    path = quote(scope["path"])
    if scope["query_string"]:
        path = "{}?{}".format(path, scope["query_string"].decode("ascii"))
    return path


class _HandshakeError(Exception):
    def __init__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or []


class _Deadlines:
    """One kind of deadline (send the next keepalive ping) for every connection on one event loop
    with the same delay: a FIFO queue of ``(due, protocol)`` served by one timer, instead
    of one ``TimerHandle`` per connection (about 600 bytes with its callback, 80 here). Every entry
    is due ``delay`` seconds after it was added and the loop's clock only goes forward, so the queue
    is in due order. Cancelling is lazy: ``fire(protocol, due)`` runs for every entry that falls
    due, and the protocol acts only if it still holds that same ``due`` object; a closed connection
    stays referenced until its entry falls due (``delay`` seconds at most)."""

    __slots__ = ("key", "delay", "fire", "queue", "timer")

    def __init__(self, key: tuple[Any, float, str], delay: float, fire: Any) -> None:
        self.key = key
        self.delay = delay
        self.fire = fire
        self.queue: collections.deque[tuple[float, WebSocketProtocol]] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None

    def add(self, loop: asyncio.AbstractEventLoop, protocol: WebSocketProtocol) -> float:
        due = loop.time() + self.delay
        self.queue.append((due, protocol))
        if self.timer is None:
            self.timer = loop.call_at(due, self._run, loop)
        return due

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        self.timer = None
        queue = self.queue
        now = loop.time()
        while queue and queue[0][0] <= now:
            due, protocol = queue.popleft()
            try:
                self.fire(protocol, due)
            except Exception as exc:  # one connection's failure must not stop the others' keepalive
                loop.call_exception_handler(
                    {"message": "fastws keepalive callback failed", "exception": exc, "protocol": protocol}
                )
        if queue:
            self.timer = loop.call_at(queue[0][0], self._run, loop)
        elif _DEADLINES.get(self.key) is self:
            del _DEADLINES[self.key]


#: (event loop, delay, kind) -> its deadline queue, while the queue has entries.
_DEADLINES: dict[tuple[Any, float, str], _Deadlines] = {}


def _schedule(protocol: WebSocketProtocol, delay: float, kind: str, fire: Any) -> float:
    """Call ``fire(protocol, due)`` about ``delay`` seconds from now; return ``due``."""
    loop = protocol.loop
    key = (loop, delay, kind)
    deadlines = _DEADLINES.get(key)
    if deadlines is None:
        deadlines = _DEADLINES[key] = _Deadlines(key, delay, fire)
    return deadlines.add(loop, protocol)


class WebSocketProtocol(asyncio.Protocol):
    """One server-side WebSocket connection under uvicorn (RFC 6455, ASGI WebSocket spec).

    Built by uvicorn's HTTP protocol on an upgrade request as
    ``WebSocketProtocol(config=..., server_state=..., app_state=...)``. Reads from ``config``:
    ``loaded_app``, ``root_path``, ``asgi_version``, ``ws_max_size`` (bytes per message, 1009
    beyond), ``ws_max_queue`` (messages waiting for the app before reading pauses),
    ``ws_ping_interval`` and ``ws_ping_timeout`` (seconds, ``None`` to disable; 1011 when the
    pong is late); from ``server_state``: ``connections``, ``tasks`` and ``default_headers``
    (``server``/``date`` headers added to the 101 response).

    ``codec`` is the frame codec module (``fastws.protocol._frame``: compiled when available); tests
    subclass with ``codec = fastws.protocol._frame_py`` to run the pure twin.
    """

    codec: ModuleType = _frame

    # No per-instance dict for what every connection holds (about 1.5 KiB less per connection);
    # "__dict__" stays so that a subclass or a hook can still add attributes of its own.
    __slots__ = (
        "__dict__",
        "config",
        "app",
        "loop",
        "logger",
        "root_path",
        "asgi_version",
        "app_state",
        "connections",
        "tasks",
        "default_headers",
        "transport",
        "server",
        "client",
        "scheme",
        "scope",
        "parser",
        "deflate",
        "_extensions",
        "_head",
        "handshake_started",
        "handshake_complete",
        "close_sent",
        "disconnected",
        "_key",
        "_denial",
        "close_timer",
        "close_timeout",
        "_pending_fail",
        "_fail_timer",
        "_messages",
        "_receivers",
        "_max_queue",
        "read_paused",
        "_out",
        "_out_size",
        "_reply_now",
        "_write_paused",
        "_writers",
        "_pending_pong",
        "ping_interval",
        "ping_timeout",
        "_ping_at",
        "_pong_timer",
        "_ping_payload",
        "_app_closed",
        "_lost",
    )

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.config = config
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        self.logger = logging.getLogger("uvicorn.error")
        self.root_path: str = config.root_path
        self.asgi_version: str = config.asgi_version
        self.app_state = app_state
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.default_headers: list[tuple[bytes, bytes]] = server_state.default_headers

        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.server: tuple[str, int | None] | None = None
        self.client: tuple[str, int] | None = None
        self.scheme = "ws"
        self.scope: dict[str, Any] = {}

        self.parser = self.codec.FrameParser(max_size=config.ws_max_size)
        self.deflate: PerMessageDeflate | None = None
        self._extensions = b""  # the Sec-WebSocket-Extensions response value
        self._head = b""
        self.handshake_started = False  # the request head was parsed and the app started
        self.handshake_complete = False  # 101 (or a denial) was sent
        self.close_sent = False
        self._app_closed = False  # the app sent websocket.close after accept
        self._lost = False  # connection_lost was called
        self.disconnected = False
        self._key = b""
        # A denial response in progress (websocket.http.response.start seen, body not finished):
        # status, headers, body parts while the head is held back (no content-length from the app).
        self._denial: tuple[int, list[tuple[bytes, bytes]], list[bytes] | None] | None = None
        # Named as in uvicorn's protocols, whose own tests read them (uvicorn 0.54).
        self.close_timer: asyncio.TimerHandle | None = None
        self.close_timeout: float = CLOSE_TIMEOUT
        # A protocol error waiting until the app has handled the messages before it.
        self._pending_fail: tuple[int, str] | None = None
        self._fail_timer: asyncio.TimerHandle | None = None

        # Messages for the app: a deque, and one future per waiting receive() (each created and
        # removed by its own waiter, so a cancelled receive cannot poison another or a later one).
        # An empty tuple while nothing waits (a deque holds a 64-slot block, ~700 bytes, even
        # empty: most connections are idle); _put makes the deque, receive drops it once drained.
        self._messages: Any = ()
        self._receivers: list[asyncio.Future[None]] = []
        self._max_queue: int = max(1, config.ws_max_queue or 1)
        self.read_paused = False

        # Data frames written in one event-loop iteration go out in one write (one syscall)
        # at its end, or at once past _COALESCE_BYTES or before any other write.
        self._out: list[bytes] = []
        self._out_size = 0
        # Set by receive() when it hands the app the last queued message: the app's next data
        # frame (its reply, in request/response) is written at once, saving the flush's loop
        # callback; any further frame before the next receive() is coalesced as above, so a burst
        # of sends (streaming, fan-out, the replies to a pipelined batch) still goes out in one write.
        self._reply_now = False
        # Write backpressure: set while the transport's buffer is over its high-water mark; one
        # future per send() waiting for it to drain (as for receive()). While paused, pongs are not
        # written: only the latest ping's payload is kept, answered on resume (RFC 6455 5.5.3).
        self._write_paused = False
        self._writers: list[asyncio.Future[None]] = []
        self._pending_pong: bytes | None = None

        # Keepalive.
        self.ping_interval: float | None = config.ws_ping_interval
        self.ping_timeout: float | None = config.ws_ping_timeout
        # The next ping's due time in the shared deadline queue (_Deadlines), None when not
        # scheduled. The pong timeout is a TimerHandle of its own, alive only from a ping to its
        # pong (a round trip): a shared queue would keep every answered ping's entry, and the
        # connection with it, for the whole timeout.
        self._ping_at: float | None = None
        self._pong_timer: asyncio.TimerHandle | None = None
        self._ping_payload: bytes | None = None

    # -- asyncio.Protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Register the connection with uvicorn's server state and read the addresses."""
        self.transport = cast(asyncio.Transport, transport)
        self.connections.add(self)
        self.server = _local_addr(self.transport)
        self.client = _remote_addr(self.transport)
        self.scheme = "wss" if self.transport.get_extra_info("sslcontext") else "ws"

    def connection_lost(self, exc: Exception | None) -> None:
        """Report ``websocket.disconnect`` with code 1006 (no close frame was exchanged, RFC 6455
        section 7.1.5) and no ``reason`` (as uvicorn's protocols), wake every waiter and stop the
        timers."""
        self._stop_keepalive()
        self.connections.discard(self)
        self._lost = True
        if not self.disconnected:
            self.disconnected = True
            self._put({"type": "websocket.disconnect", "code": 1006})
        self.handshake_complete = True
        self._wake(self._writers)
        if self.close_timer is not None:
            self.close_timer.cancel()
            self.close_timer = None
        if self._fail_timer is not None:
            self._fail_timer.cancel()
            self._fail_timer = None
        self._pending_fail = None

    def eof_received(self) -> bool | None:
        """The peer half-closed: let the transport close (no more frames can arrive)."""
        return None

    def pause_writing(self) -> None:
        """The transport's write buffer went over its high-water mark: ``send`` waits."""
        self._write_paused = True

    def resume_writing(self) -> None:
        """The write buffer drained below its low-water mark: the pong held back (if any) goes
        out and waiting ``send`` calls go on."""
        self._write_paused = False
        pong, self._pending_pong = self._pending_pong, None
        if pong is not None and not self.close_sent and not self.transport.is_closing():
            self._write(self.codec.encode_frame(OP_PONG, pong))
        self._wake(self._writers)

    def _send_frame(self, frame: bytes) -> None:
        out = self._out
        if not out:
            if self._reply_now:
                # Nothing buffered ahead of it (order kept) and nothing else queued for the app.
                self._reply_now = False
                if not self.transport.is_closing():
                    self.transport.write(frame)
                return
            self.loop.call_soon(self._flush)
        out.append(frame)
        self._out_size += len(frame)
        if self._out_size > _COALESCE_BYTES:
            self._flush()

    def _flush(self) -> None:
        out = self._out
        if out:
            self._out = []
            self._out_size = 0
            if not self.transport.is_closing():
                self.transport.write(out[0] if len(out) == 1 else b"".join(out))

    def _write(self, data: bytes) -> None:
        if self._out:
            self._flush()
        self.transport.write(data)

    def _close(self) -> None:
        if self._out:
            self._flush()
        self.transport.close()

    def send_prepared(self, frame: bytes) -> bool:
        """Write one data frame encoded elsewhere, if this connection can take it at once: the
        frame-level path of ``fastws.broadcast``, which encodes a message once and hands the same
        bytes to every connection served here (docs/fanout.md, "Frame-level fan-out").

        Args:
            frame (bytes): one complete server-to-client RFC 6455 data frame (FIN set, no RSV
                bit, unmasked: section 5.1), as ``fastws.protocol._frame.encode_text`` or ``encode_frame``
                write it.

        Returns:
            bool: ``True`` when the frame joined this event-loop iteration's coalesced write, in
            order with the app's own ``websocket.send`` events; ``False``, writing nothing, when
            the caller must go through ``send`` instead: the handshake is not complete, a close
            frame was sent or the client is gone (``send`` raises), permessage-deflate was
            negotiated (each connection compresses with its own context), or the transport is over
            its high-water mark (``send`` waits for room).
        """
        if (
            self._write_paused
            or self.deflate is not None
            or self.close_sent
            or self.disconnected
            or not self.handshake_complete
            or self._denial is not None
        ):
            return False
        self._send_frame(frame)
        return True

    def send_data_nowait(self, data: Any, text: bool) -> bool:
        """Send one data message at once, without the coroutine of ``send``, if nothing makes it
        wait or fail: the per-message path of ``fastws.WebSocket``'s ``send_text``/``send_bytes``
        on this protocol (found through the ``_fastws_send_nowait`` attribute of ``send``).

        Args:
            data (str | bytes): the message's ``text`` (``text`` true) or ``bytes``, as the
                ``websocket.send`` event would carry it (ASGI WebSocket spec 2.4).
            text (bool): a text message (opcode 0x1) or a binary one (0x2), RFC 6455 section 5.6.

        Returns:
            bool: ``True`` when the frame was written or joined this iteration's coalesced write,
            exactly as ``await send({"type": "websocket.send", ...})`` would have; ``False``,
            doing nothing, when the caller must ``await send(...)`` instead: write backpressure,
            permessage-deflate, the handshake not complete or a denial response in progress, a
            close frame sent or the client gone (``send`` raises), or ``data`` is ``None``.

        Raises:
            TypeError, AttributeError: ``data`` is not a ``str`` (text) or bytes-like (binary): what
                the frame codec raises for it, as ``send`` does.
            UnicodeEncodeError: text with a lone surrogate, which has no UTF-8 form (RFC 6455
                section 5.6: a text message is UTF-8), as ``send`` raises it.
        """
        if (
            data is None
            or self._write_paused
            or self.deflate is not None
            or self.close_sent
            or self.disconnected
            or not self.handshake_complete
            or self._denial is not None
            or self._app_closed
        ):
            return False
        frame = self.codec.encode_text(data) if text else self.codec.encode_frame(OP_BINARY, data)
        if self._reply_now and not self._out:
            self._reply_now = False
            if not self.transport.is_closing():
                self.transport.write(frame)
        else:
            self._send_frame(frame)
        return True

    @staticmethod
    def _wake(waiters: list[asyncio.Future[None]]) -> None:
        # Wake every waiter (each re-checks its condition); a cancelled one is already done.
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        waiters.clear()

    async def _wait(self, waiters: list[asyncio.Future[None]]) -> None:
        # One future for this waiter alone: cancelling it (a timeout, a task group) leaves the
        # other waiters and every later call untouched.
        waiter = self.loop.create_future()
        waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter in waiters:
                waiters.remove(waiter)
            raise

    def data_received(self, data: bytes) -> None:
        """Parse the request head (first call) and then frames; dispatch events.

        On a protocol error (1002, 1007, 1009) after messages that the app has not read yet, the
        close frame waits until the app comes back to ``receive`` with nothing left to read (so
        its answers to those messages go out first, as Autobahn's strict verdict expects), or
        ``FAIL_GRACE`` seconds; otherwise the connection is failed at once."""
        if not self.handshake_started:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                if len(self._head) > _MAX_HEAD:
                    self._reject(_HandshakeError(431, "request head too large"))
                return
            head, data = self._head[: end + 4], self._head[end + 4 :]
            self._head = b""
            try:
                self._start(head)
            except _HandshakeError as exc:
                self._reject(exc)
                return
            if not data:
                return
        elif self.transport.is_closing():
            return  # we dropped the connection: nothing more to read
        try:
            events = self.parser.feed(data)
        except WebSocketProtocolError as exc:
            self._dispatch(exc.events)
            if self._messages and self.handshake_complete and not self.close_sent:
                self._pending_fail = (exc.code, exc.reason)
                self._fail_timer = self.loop.call_later(FAIL_GRACE, self._fail_pending)
            else:
                self._fail(exc.code, exc.reason)
            return
        if events:
            self._dispatch(events)

    # -- opening handshake ------------------------------------------------------------------------

    def _start(self, head: bytes) -> None:
        conn = h11.Connection(h11.SERVER)
        conn.receive_data(head)
        try:
            request = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise _HandshakeError(400, f"invalid request: {exc}") from None
        if not isinstance(request, h11.Request):
            raise _HandshakeError(400, "incomplete request head")
        headers = [(bytes(name), bytes(value)) for name, value in request.headers]
        if request.method != b"GET":
            raise _HandshakeError(400, "WebSocket handshake needs GET")
        upgrade = b""
        connection: list[bytes] = []
        key = b""
        versions: list[bytes] = []
        subprotocols: list[str] = []
        extensions: list[bytes] = []
        for name, value in headers:
            if name == b"upgrade":
                upgrade = value.strip().lower()
            elif name == b"connection":
                connection += [token.strip().lower() for token in value.split(b",")]
            elif name == b"sec-websocket-key":
                if key:
                    raise _HandshakeError(400, "more than one Sec-WebSocket-Key")
                key = value.strip()
            elif name == b"sec-websocket-version":
                versions.append(value.strip())
            elif name == b"sec-websocket-protocol":
                subprotocols += [t.strip() for t in value.decode("latin-1").split(",") if t.strip()]
            elif name == b"sec-websocket-extensions":
                extensions.append(value)
        if upgrade != b"websocket" or b"upgrade" not in connection:
            raise _HandshakeError(400, "missing Upgrade: websocket / Connection: Upgrade")
        if versions != [b"13"]:
            raise _HandshakeError(
                426, "unsupported Sec-WebSocket-Version, expected 13", [(b"sec-websocket-version", b"13")]
            )
        try:
            if len(base64.b64decode(key, validate=True)) != 16:
                raise ValueError
        except (ValueError, binascii.Error):
            raise _HandshakeError(400, "Sec-WebSocket-Key is not 16 bytes in base64") from None
        self._key = key
        if extensions and self.config.ws_per_message_deflate:
            negotiated = negotiate_deflate(extensions)
            if negotiated is not None:
                self._extensions, self.deflate = negotiated
                self.parser = self.codec.FrameParser(
                    max_size=self.config.ws_max_size,
                    inflate=True,
                    inflate_reset=self.deflate.client_no_context_takeover,
                    inflate_window_bits=self.deflate.client_window_bits,
                )
        target = bytes(request.target)
        raw_path, _, query_string = target.partition(b"?")
        root = self.root_path
        self.scope = {
            "type": "websocket",
            "asgi": {"version": self.asgi_version, "spec_version": "2.4"},
            "http_version": "1.1",
            "scheme": self.scheme,
            "server": self.server,
            "client": self.client,
            "root_path": root,
            "path": root + unquote(raw_path.decode("latin-1")),
            "raw_path": root.encode("latin-1") + raw_path,
            "query_string": query_string,
            "headers": headers,
            "subprotocols": subprotocols,
            "state": self.app_state.copy(),
            "extensions": {"websocket.http.response": {}},
        }
        self.handshake_started = True
        self._put({"type": "websocket.connect"})
        task = self.loop.create_task(self.run_asgi())
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    def _reject(self, exc: _HandshakeError) -> None:
        self.handshake_started = self.handshake_complete = self.close_sent = True
        self.disconnected = True
        body = f"Failed to open a WebSocket connection: {exc}.\n".encode()
        self._write(http_response(exc.status, exc.headers, body))
        self._close()

    # -- frames from the peer ---------------------------------------------------------------------

    def _dispatch(self, events: list[tuple[int, Any]]) -> None:
        for opcode, data in events:
            if opcode == OP_TEXT or opcode == OP_BINARY:
                if not self.close_sent:
                    # _put and _wake inlined on this per-message path.
                    messages = self._messages
                    if type(messages) is tuple:
                        messages = self._messages = collections.deque()
                    if opcode == OP_TEXT:
                        messages.append({"type": "websocket.receive", "text": data})
                    else:
                        messages.append({"type": "websocket.receive", "bytes": data})
                    receivers = self._receivers
                    if receivers:
                        for waiter in receivers:
                            if not waiter.done():
                                waiter.set_result(None)
                        receivers.clear()
            elif opcode == OP_PING:
                if self.close_sent:
                    pass
                elif self._write_paused:
                    # The peer is not reading: hold back the pong, keeping only the latest ping's
                    # (RFC 6455 5.5.3), so pings cannot grow the write buffer past its high-water mark.
                    self._pending_pong = data
                else:
                    self._write(self.codec.encode_frame(OP_PONG, data))
            elif opcode == OP_PONG:
                self._pong(data)
            elif opcode == OP_CLOSE:
                self._peer_closed(data)
        if len(self._messages) >= self._max_queue and not self.read_paused and not self.close_sent:
            self.read_paused = True
            self.transport.pause_reading()

    def _peer_closed(self, payload: bytes) -> None:
        code, reason = self.codec.parse_close(payload)
        if self.close_sent:
            # The peer answered our close frame: the closing handshake is complete.
            if self.close_timer is not None:
                self.close_timer.cancel()
                self.close_timer = None
            self._close()
            return
        self.close_sent = True
        # Echo the close payload, code and reason (RFC 6455 section 5.5.1), as both of uvicorn's
        # protocols do (websockets and wsproto echo the reason too); no code received, none sent.
        self._write(self.codec.encode_frame(OP_CLOSE, payload))
        self._close()
        if not self.disconnected:
            self.disconnected = True
            self._put({"type": "websocket.disconnect", "code": code, "reason": reason})

    def _fail_pending(self) -> None:
        if self._fail_timer is not None:
            self._fail_timer.cancel()
            self._fail_timer = None
        pending, self._pending_fail = self._pending_fail, None
        if pending is not None:
            self._fail(*pending)

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 section 7.1.7): close frame with ``code``, then TCP."""
        if self.handshake_complete and not self.close_sent and not self.transport.is_closing():
            self._write(self.codec.encode_frame(OP_CLOSE, self.codec.close_payload(code, reason[:100])))
        self.close_sent = True
        if not self.disconnected:
            self.disconnected = True
            self._put({"type": "websocket.disconnect", "code": code, "reason": reason})
        self._close()

    # -- keepalive --------------------------------------------------------------------------------

    def _start_keepalive(self) -> None:
        if self.ping_interval is not None and self.ping_interval > 0:
            self._ping_at = _schedule(self, self.ping_interval, "ping", WebSocketProtocol._ping_due)

    def _stop_keepalive(self) -> None:
        self._ping_at = None  # its queue entry fires into nothing
        if self._pong_timer is not None:
            self._pong_timer.cancel()
            self._pong_timer = None
        self._ping_payload = None

    def _ping_due(self, due: float) -> None:
        if self._ping_at is due:
            self._ping_at = None
            self._send_ping()

    def _send_ping(self) -> None:
        if self.close_sent or self.transport.is_closing():
            return
        self._ping_payload = os.urandom(4)
        self._write(self.codec.encode_frame(OP_PING, self._ping_payload))
        if self.ping_timeout is not None:
            self._pong_timer = self.loop.call_later(self.ping_timeout, self._ping_timed_out)
        else:
            self._start_keepalive()

    def _pong(self, data: bytes) -> None:
        if self._ping_payload is None or data != self._ping_payload:
            return  # unsolicited or stale pong (RFC 6455 section 5.5.3)
        self._ping_payload = None
        if self._pong_timer is not None:
            self._pong_timer.cancel()
            self._pong_timer = None
            self._start_keepalive()

    def _ping_timed_out(self) -> None:
        self._pong_timer = None
        self._fail(1011, "keepalive ping timeout")

    # -- ASGI -------------------------------------------------------------------------------------

    async def run_asgi(self) -> None:
        """Run the app on the scope, as uvicorn's protocols do (uvicorn 0.54): an exception or a
        return before any response answers HTTP 500; after the handshake the TCP connection is
        dropped unless the app sent ``websocket.close`` (the client sees 1006); a return value
        other than ``None`` is logged."""
        try:
            result = await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self._send_500()
        else:
            if not self.handshake_complete:
                self.logger.error("ASGI callable returned without completing handshake.")
                self._send_500()
            elif result is not None:
                self.logger.error("ASGI callable should return None, but returned '%s'.", result)
        if self._pending_fail is not None:
            self._fail_pending()
        if self.close_timer is None:
            self._close()

    def _send_500(self) -> None:
        # Only while nothing was written yet (no 101, no denial head).
        if self.handshake_complete:
            return
        self.handshake_complete = self.close_sent = True
        self._denial = None
        self._write(http_response(500, [], b"Internal Server Error"))

    def _put(self, message: dict[str, Any]) -> None:
        if type(self._messages) is tuple:
            self._messages = collections.deque()
        self._messages.append(message)
        if self._receivers:
            self._wake(self._receivers)

    async def receive(self) -> dict[str, Any]:
        """The next ASGI event: ``websocket.connect``, ``websocket.receive`` (``text`` str or
        ``bytes`` bytes) or ``websocket.disconnect`` (``code`` int; ``reason`` str when a close
        frame carried one or the app closed). Resumes reading once the app has caught up to half
        of ``ws_max_queue``.

        Cancellation-safe: a receive cancelled while it waits (``asyncio.wait_for``, a task
        group, an anyio cancel scope) takes no message, and the next receive gets the next one.
        """
        messages = self._messages
        while not messages:
            if self._pending_fail is not None:
                self._fail_pending()  # the app has handled everything before the error
            else:
                # One future per waiter (see _wait), inlined on this per-message path.
                waiter = self.loop.create_future()
                self._receivers.append(waiter)
                try:
                    await waiter
                except BaseException:
                    if waiter in self._receivers:
                        self._receivers.remove(waiter)
                    raise
            messages = self._messages
        message = messages.popleft()
        if messages:
            self._reply_now = False
            resume = self.read_paused and len(messages) <= self._max_queue // 2
        else:
            self._messages = ()
            self._reply_now = True
            resume = self.read_paused
        if resume:
            self.read_paused = False
            if not self.transport.is_closing():
                self.transport.resume_reading()
        return message

    async def send(self, message: dict[str, Any]) -> None:
        """Handle one ASGI event from the app (ASGI WebSocket spec 2.4): ``websocket.accept``
        (``subprotocol``, ``headers``), ``websocket.send`` (``text`` or ``bytes``),
        ``websocket.close`` (``code``, ``reason``; before accept: HTTP 403),
        ``websocket.http.response.start``/``body`` (denial response).

        Waits while the transport's write buffer is over its high-water mark, except for
        ``websocket.close`` (one frame of at most 127 bytes, so a client that stopped reading can
        still be closed); a send cancelled while it waits sends nothing and affects no other send.

        Everything the app hands the handshake is checked before any of it is written: header
        names must be RFC 9110 tokens and values free of CR, LF and NUL, the subprotocol a token,
        the denial status an int from 100 to 599. When the check fails nothing reaches the wire
        and the exception propagates from ``send``; if the app lets it escape, the client gets
        HTTP 500 (as with uvicorn's protocols).

        Raises:
            ClientDisconnected: (an ``OSError``, ASGI 2.4 "Disconnected Client") the connection is
                gone or closed by the peer, a protocol error, the keepalive or a shutdown.
            RuntimeError: an event out of order (a send after the app's own ``websocket.close``
                included, as uvicorn), or a denial status out of range.
            ValueError: an invalid header name/value, subprotocol, or close code/reason.
            TypeError: headers that are not pairs of bytes, a subprotocol that is not a str, a
                status that is not an int.
        """
        kind = message["type"]
        if self._write_paused and not self.disconnected and kind != "websocket.close":
            while self._write_paused and not self.disconnected:
                await self._wait(self._writers)
        if self._denial is not None:
            self._send_denial_body(kind, message)
            return
        if self.handshake_complete:
            if self._app_closed and not self._lost:
                # The app's own bug, as uvicorn reports it (until the connection is gone).
                raise RuntimeError(f"Unexpected ASGI message '{kind}', after sending 'websocket.close'.")
            if self.close_sent or self.disconnected:
                # Closed by the peer, a protocol error, the keepalive or a shutdown: ASGI 2.4
                # ("Disconnected Client - send exception") asks for an OSError.
                raise ClientDisconnected()
            if kind == "websocket.send":
                text = message.get("text")
                deflate = self.deflate
                if text is not None:
                    if deflate is None:
                        frame = self.codec.encode_text(text)
                    else:
                        frame = self.codec.encode_frame(OP_TEXT, deflate.compress(text.encode()), rsv=4)
                else:
                    data = message.get("bytes")
                    if data is None:
                        return
                    if deflate is None:
                        frame = self.codec.encode_frame(OP_BINARY, data)
                    else:
                        frame = self.codec.encode_frame(OP_BINARY, deflate.compress(data), rsv=4)
                if self._reply_now and not self._out:
                    # _send_frame's direct write, inlined on this per-message path.
                    self._reply_now = False
                    if not self.transport.is_closing():
                        self.transport.write(frame)
                else:
                    self._send_frame(frame)
            elif kind == "websocket.close":
                code = message.get("code", 1000) or 1000
                reason = message.get("reason") or ""
                frame = self.codec.encode_frame(OP_CLOSE, self.codec.close_payload(code, reason))
                self._write(frame)
                self.close_sent = self._app_closed = True
                if not self.disconnected:
                    self.disconnected = True
                    self._put({"type": "websocket.disconnect", "code": code, "reason": reason})
                # Keep reading until the peer's close frame arrives, or give up after a while.
                if self.read_paused:
                    self.read_paused = False
                    self.transport.resume_reading()
                self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)
            else:
                raise RuntimeError(f"Expected ASGI message 'websocket.send' or 'websocket.close', but got '{kind}'.")
            return
        if self.disconnected:
            raise ClientDisconnected()
        if kind == "websocket.accept":
            self._accept(message)
        elif kind == "websocket.close":
            self._log("403")
            self.handshake_complete = self.close_sent = self.disconnected = True
            self._write(http_response(403, [], b""))
            self._close()
            self._put({"type": "websocket.disconnect", "code": 1006})
        elif kind == "websocket.http.response.start":
            self._start_denial(message)
        else:
            raise RuntimeError(
                "Expected ASGI message 'websocket.accept', 'websocket.close' "
                f"or 'websocket.http.response.start' but got '{kind}'."
            )

    # fastws.WebSocket finds send_data_nowait through the bound send method. The mark names the
    # function it belongs to: a subclass that overrides send defines a new function, and one that
    # wraps it with functools.wraps copies the mark but is not the function it names, so in both
    # cases the override is always awaited with the websocket.send event.
    send._fastws_send_nowait = ("send_data_nowait", send)  # type: ignore[attr-defined]

    def _start_denial(self, message: dict[str, Any]) -> None:
        # ASGI "websocket.http.response" extension. With a content-length from the app the head
        # goes out now and the body streams (as uvicorn's wsproto protocol does); without one the
        # response is held until the body is complete and sent with its length (as uvicorn's
        # websockets-sansio protocol does), so an app that fails half-way still gets a 500.
        status = message["status"]
        if type(status) is not int:
            raise TypeError(f"'websocket.http.response.start' status must be an int, got {type(status).__name__}")
        if not 100 <= status < 600:
            raise RuntimeError("Invalid HTTP status code '%d' in response." % status)
        headers = check_response_headers(message.get("headers"), "websocket.http.response.start")
        self._log(str(status))
        if any(name.lower() == b"content-length" for name, _ in headers):
            self.handshake_complete = self.close_sent = True
            self._write(response_head(status, headers, None))
            self._denial = (status, headers, None)
        else:
            self._denial = (status, headers, [])

    def _send_denial_body(self, kind: str, message: dict[str, Any]) -> None:
        if self.disconnected:
            raise ClientDisconnected()
        if kind != "websocket.http.response.body":
            raise RuntimeError(f"Expected ASGI message 'websocket.http.response.body' but got '{kind}'.")
        assert self._denial is not None
        status, headers, held = self._denial
        body = bytes(message.get("body", b""))
        if held is None:
            if body:
                self._write(body)
        else:
            held.append(body)
        if not message.get("more_body", False):
            if held is not None:
                self.handshake_complete = self.close_sent = True
                self._write(http_response(status, headers, b"".join(held)))
            self._denial = None
            self.disconnected = True
            self._close()
            self._put({"type": "websocket.disconnect", "code": 1006})

    def _log(self, outcome: str) -> None:
        # The access line uvicorn's own protocols write, e.g. '127.0.0.1:5000 - "WebSocket /ws" [accepted]'.
        if self.logger.isEnabledFor(logging.INFO):
            scope = self.scope
            self.logger.info('%s - "WebSocket %s" %s', _client_addr(scope), _path_with_query_string(scope), outcome)

    def _accept(self, message: dict[str, Any]) -> None:
        # Everything is checked before anything is written (RFC 9110 5.5, 5.6.2; RFC 6455 4.2.2).
        headers = check_response_headers([*self.default_headers, *(message.get("headers") or ())], "websocket.accept")
        subprotocol = check_subprotocol(message.get("subprotocol"))
        self._log("[accepted]")
        lines = [
            b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ",
            accept_key(self._key),
            b"\r\n",
        ]
        for name, value in headers:
            lines += [name, b": ", value, b"\r\n"]
        if subprotocol is not None:
            lines += [b"sec-websocket-protocol: ", subprotocol, b"\r\n"]
        if self._extensions:
            lines += [b"sec-websocket-extensions: ", self._extensions, b"\r\n"]
        lines.append(b"\r\n")
        self.handshake_complete = True
        self._reply_now = False  # the 101 answered websocket.connect: the app's first frames coalesce
        if not self.transport.is_closing():
            self._write(b"".join(lines))
            self._start_keepalive()

    def shutdown(self) -> None:
        """Server shutdown (uvicorn calls this): close 1012 (service restart) after the
        handshake (``websocket.disconnect`` with code 1012, no ``reason``, as uvicorn), HTTP 500
        before it, then drop the connection; a closing handshake in progress is cut short."""
        self._stop_keepalive()
        if self.close_sent:
            if self.close_timer is not None:
                self.close_timer.cancel()
                self.close_timer = None
            self._close()
            return
        if self.handshake_complete:
            self._write(self.codec.encode_frame(OP_CLOSE, self.codec.close_payload(1012)))
            self.close_sent = True
            if not self.disconnected:
                self.disconnected = True
                self._put({"type": "websocket.disconnect", "code": 1012})
        else:
            self._send_500()
        self._close()
