"""The WebSocket connection class: the pure-Python twin of ``_core_c.pyx``.

The API, state machine, errors and messages are those of ``starlette.websockets.WebSocket``
1.10.0 (Starlette 1.10 documentation, "WebSockets" page, and ``starlette/websockets.py``); see
``fastws.websockets`` for the public docs.
Every method awaits the server's ``receive``/``send`` directly, never through another coroutine of
this class, so one message costs one coroutine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from fastws.codec._json_py import decode_json_bytes, decode_json_text, encode_json_bytes, encode_json_text
from fastws.codec._limits import DEFAULT_MAX_JSON_SIZE, TOO_BIG_REASON, check_json_limit, json_too_big, too_deep
from fastws.datastructures._core_py import Headers, QueryParams, parse_cookie, url_from_scope
from fastws.protocol.close import check_close
from fastws.websocket import _connection
from fastws.websocket._checks import bad_type, check_accept, payload_error
from fastws.websocket._errors import mismatch_error, starlette_error
from fastws.websocket._info import ConnectionInfo
from fastws.websocket._state import STATES, WebSocketState, as_state

__all__ = ["WebSocket"]

StateT = TypeVar("StateT")

_CONNECTING = WebSocketState.CONNECTING
_CONNECTED = WebSocketState.CONNECTED
_DISCONNECTED = WebSocketState.DISCONNECTED
_RESPONSE = WebSocketState.RESPONSE
_UNSET: Any = object()


def _text_of(message: Any, ws: Any) -> str:
    # The text of a received message; without one, what the class's dialect makes of the message
    # (fastws and Starlette: a KeyError that says what arrived).
    text = message.get("text")
    if type(text) is str and "bytes" not in message:  # the common event; others are checked below
        return text
    problem = payload_error("text", message)
    if problem is not None:
        raise ws._error("bad_event", problem)
    if text is None:
        return type(ws)._fastws_mismatch("text", message)
    return text


def _bytes_of(message: Any, ws: Any) -> bytes:
    # The payload of a received message; without one, as _text_of.
    data = message.get("bytes")
    if type(data) is bytes and "text" not in message:  # the common event; others are checked below
        return data
    problem = payload_error("bytes", message)
    if problem is not None:
        raise ws._error("bad_event", problem)
    if data is None:
        return type(ws)._fastws_mismatch("bytes", message)
    return data


def _too_big(ws: Any, payload: Any) -> bool:
    # Whether a JSON payload is over the connection's max_json_size (docs/errors.md): decided here
    # when it is under a quarter of the limit, else by fastws.codec._limits.json_too_big.
    limit = ws._max_json
    if limit is _UNSET:
        limit = ws.max_json_size
    if limit is None or len(payload) <= limit >> 2:
        return False
    return json_too_big(payload, limit)


def _too_big_close(ws: Any) -> dict[str, Any]:
    # The close event sent when a JSON message is over max_json_size; the caller sends it and
    # raises WebSocketDisconnect(1009).
    message = {"type": "websocket.close", "code": 1009, "reason": TOO_BIG_REASON}
    ws._before_send("websocket.close", message)
    return message


def _send_hook(send: Any) -> Any:
    # The server's synchronous data send, when ``send`` is a bound method marked with the name of
    # one (fastws.server.WebSocketProtocol.send -> send_data_nowait); None otherwise.
    # The mark is (method name, the function it was set on): a wrapper that copied the function's
    # __dict__ (functools.wraps) carries the mark but is another function, so it is not hooked.
    func = getattr(send, "__func__", None)
    if func is None:
        return None
    mark = getattr(func, "_fastws_send_nowait", None)
    if type(mark) is not tuple or len(mark) != 2 or mark[1] is not func:
        return None
    return getattr(send.__self__, mark[0], None)


def _plain_close(code: object, reason: object) -> bool:
    # close()'s common case, which check_close (fastws.protocol.close) would pass: the default code
    # 1000 (an int, not a subclass) and no reason, or a str of at most 30 characters (at most 120
    # bytes of UTF-8, 4 a character, within the 123 that fit). Anything else goes to check_close.
    return type(code) is int and code == 1000 and (reason is None or (type(reason) is str and len(reason) <= 30))


class WebSocket(ConnectionInfo, Mapping[str, Any], Generic[StateT]):
    """An ASGI WebSocket connection: a drop-in for ``starlette.websockets.WebSocket`` (1.10.0).

    Args:
        scope (MutableMapping): the ASGI ``websocket`` scope (ASGI spec 2.4, "WebSocket" section).
        receive (async callable | None): the server's ``receive``; awaited for each client event.
        send (async callable | None): the server's ``send``; awaited for each app event.

    The connection is a read-only mapping over ``scope`` (``ws["path"]``); two connections are
    equal only if they are the same object. ``client_state`` follows the events received
    (``websocket.connect``, ``websocket.disconnect``), ``application_state`` the events sent
    (``websocket.accept``, ``websocket.close``, ``websocket.http.response.*``); each method checks
    them and raises what Starlette raises, with Starlette's messages. ``WebSocket[T]`` is
    subscriptable for typing the ``state``.

    Attributes:
        scope (MutableMapping): the ASGI scope.
        client_state (WebSocketState): the client side: CONNECTING until ``websocket.connect`` is received,
            CONNECTED, then DISCONNECTED after ``websocket.disconnect``. Assignable: a ``WebSocketState``, or a
            same-named member of another enum (Starlette's); anything else raises ``TypeError``.
        application_state (WebSocketState): the app side: CONNECTING until ``accept``/``close``/a denial response,
            CONNECTED after accept, RESPONSE while a denial response is being sent, DISCONNECTED after
            ``close``. Assignable, as ``client_state``.
        max_json_size (int | None): the largest message ``receive_json``/``iter_json`` parse, in
            bytes (UTF-8 bytes for text); default the class's ``default_max_json_size``
            (``fastws.DEFAULT_MAX_JSON_SIZE``, 16 MiB). ``None`` removes the limit. A larger message closes
            the connection with 1009 and raises ``WebSocketDisconnect(1009)`` (docs/errors.md).

    Raises:
        AssertionError: ``scope["type"]`` is not ``"websocket"``.

    Source: Starlette docs "WebSockets" and ``starlette/websockets.py`` (1.10.0); ASGI spec 2.4.
    """

    # The server's synchronous send of one data message (fastws.server's send_data_nowait) and the
    # send it belongs to, used only while _send is still that object; set by __init__ when found.
    _send_nowait: Any = None
    _send_hooked: Any = None

    def __init__(self, scope: Any, receive: Any = None, send: Any = None) -> None:
        assert scope["type"] == "websocket", f"Expected an ASGI scope of type 'websocket', got {scope['type']!r}"
        self.scope = scope
        self._receive = receive
        self._send = send
        hook = _send_hook(send)
        if hook is not None:  # only then: the class defaults (None) cost no memory per connection
            self._send_nowait = hook
            self._send_hooked = send
        self._client = _CONNECTING
        self._application = _CONNECTING
        self._headers: Headers | None = None
        self._query_params: QueryParams | None = None
        self._cookies: dict[str, str] | None = None
        self._max_json: Any = _UNSET

    # -- mapping over the scope; identity equality (starlette.requests.HTTPConnection) --------
    def __getitem__(self, key: str) -> Any:
        return self.scope[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scope)

    def __len__(self) -> int:
        return len(self.scope)

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    # What the class speaks (see fastws.websocket._errors.starlette_error): the state enum members by their
    # number, the factory of every exception raised, and what a message of the other kind
    # (text for receive_bytes, bytes for receive_text) gives. Read only when a state is read or an
    # exception raised, so a dialect subclass costs nothing on the per-message path.
    _fastws_states: Any = STATES
    _fastws_error: Any = staticmethod(starlette_error)
    _fastws_mismatch: Any = staticmethod(mismatch_error)
    # Whether close() checks its code and reason once accepted, and accept() its subprotocol
    # (docs/errors.md); a dialect whose framework hands them to the server unchecked sets False.
    # Read only in accept() and close().
    _fastws_checks: bool = True
    default_max_json_size: int | None = DEFAULT_MAX_JSON_SIZE

    # -- states -----------------------------------------------------------------------------------
    @property
    def client_state(self) -> WebSocketState:
        """WebSocketState: the client side: CONNECTING until ``websocket.connect`` is received,
        CONNECTED, then DISCONNECTED after ``websocket.disconnect``. Assignable: a ``WebSocketState``, or a
        same-named member of another enum (Starlette's); anything else raises ``TypeError``.
        """
        return type(self)._fastws_states[self._client.value]

    @client_state.setter
    def client_state(self, value: WebSocketState) -> None:
        self._client = as_state(value)

    @property
    def application_state(self) -> WebSocketState:
        """WebSocketState: the app side: CONNECTING until ``accept``/``close``/a denial response,
        CONNECTED after accept, RESPONSE while a denial response is being sent, DISCONNECTED after
        ``close``. Assignable, as ``client_state``.
        """
        return type(self)._fastws_states[self._application.value]

    @application_state.setter
    def application_state(self, value: WebSocketState) -> None:
        self._application = as_state(value)

    @property
    def max_json_size(self) -> int | None:
        """int | None: the largest message ``receive_json``/``iter_json`` parse on this connection, in
        bytes (a text message is measured in UTF-8 bytes); ``None`` for no limit. Defaults to the
        class's ``default_max_json_size`` (``fastws.DEFAULT_MAX_JSON_SIZE``, 16 MiB, uvicorn's
        default ``ws_max_size``). A larger message closes the connection with code 1009 (RFC 6455
        section 7.4.1, "Message Too Big") and raises ``WebSocketDisconnect(1009)``
        (docs/errors.md). Assignable; anything but a non-negative int or ``None`` raises
        ``TypeError``/``ValueError``.
        """
        limit = self._max_json
        if limit is _UNSET:
            limit = self._max_json = check_json_limit(type(self).default_max_json_size)
        return limit

    @max_json_size.setter
    def max_json_size(self, value: int | None) -> None:
        self._max_json = check_json_limit(value)

    # -- connection info ------------------------------------------------------------------------
    # app, url, base_url, path_params, client, state, session, auth, user and url_for come from the
    # shared mixin (fastws.websocket._info); headers, query_params and cookies are each twin's own.
    _fastws_url_from_scope: Any = staticmethod(url_from_scope)

    @property
    def headers(self) -> Headers:
        """Headers: the handshake request headers, an immutable case-insensitive multidict built
        once from ``scope["headers"]`` (which becomes a list).
        """
        if self._headers is None:
            self._headers = Headers(scope=self.scope)
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        """QueryParams: the query string's parameters (percent-decoded, ``+`` as space, blank
        values kept), an immutable multidict built once.

        Raises:
            KeyError: the scope has no ``query_string``.
        """
        if self._query_params is None:
            self._query_params = QueryParams(self.scope["query_string"])
        return self._query_params

    @property
    def cookies(self) -> dict[str, str]:
        """dict[str, str]: the cookies of every ``Cookie`` header, parsed as browsers send them
        (Starlette's ``cookie_parser``), built once.
        """
        if self._cookies is None:
            cookies: dict[str, str] = {}
            for header in self.headers.getlist("cookie"):
                cookies.update(parse_cookie(header))
            self._cookies = cookies
        return self._cookies

    # -- the state machine ------------------------------------------------------------------------
    def _error(self, kind: str, detail: Any = None, reason: Any = None) -> BaseException:
        # The exception to raise for `kind`, as the class's dialect builds it.
        return type(self)._fastws_error(kind, detail, reason)

    def _receivable(self) -> WebSocketState:
        # The client state before awaiting a typed receive; raises what Starlette raises.
        if self._application is not _CONNECTED:
            raise self._error("not_accepted")
        state = self._client
        if state is _DISCONNECTED:
            raise self._error("receive_after_disconnect")
        return state

    def _after_receive(self, message: Any, state: WebSocketState, raise_disconnect: bool) -> Any:
        # Checks an event the server delivered while the client was in `state` and moves the
        # client state on; a disconnect is raised as WebSocketDisconnect when asked to.
        # A type that is not a str matches none of the strings below, so it is checked only on
        # the way to an error (the per-message path pays nothing for it).
        try:
            message_type = message["type"]
        except Exception:
            message_type = None
        if state is _CONNECTING:
            if message_type != "websocket.connect":
                if type(message_type) is not str:
                    raise self._error("bad_event", bad_type(message))
                raise self._error("expected_connect", message_type)
            self._client = _CONNECTED
            return message
        if message_type == "websocket.receive":
            return message
        if message_type == "websocket.disconnect":
            self._client = _DISCONNECTED
            if raise_disconnect:
                raise self._error("disconnect", message["code"], message.get("reason"))
            return message
        if type(message_type) is not str:
            raise self._error("bad_event", bad_type(message))
        raise self._error("expected_receive", message_type)

    def _before_send(self, message_type: Any, message: Any) -> bool:
        # Checks an event the app is about to send and moves the application state on. Returns
        # True when the connection is open, where a failing send means the client is gone.
        state = self._application
        if state is _CONNECTED:
            if message_type == "websocket.send":
                return True
            if message_type == "websocket.close":
                self._application = _DISCONNECTED
                return True
            raise self._error("expected_send", message_type)
        if state is _CONNECTING:
            if message_type == "websocket.accept":
                self._application = _CONNECTED
            elif message_type == "websocket.close":
                self._application = _DISCONNECTED
            elif message_type == "websocket.http.response.start":
                self._application = _RESPONSE
            else:
                raise self._error("expected_accept", message_type)
            return False
        if state is _RESPONSE:
            if message_type != "websocket.http.response.body":
                raise self._error("expected_body", message_type)
            if not message.get("more_body", False):
                self._application = _DISCONNECTED
            return False
        raise self._error("send_after_close")

    # -- raw events -------------------------------------------------------------------------------
    async def receive(self) -> Any:
        """Receive the next ASGI event, keeping the client state up to date.

        Returns:
            dict: the event: ``websocket.connect`` first, then ``websocket.receive`` (with ``text``
            or ``bytes``) or ``websocket.disconnect`` (with ``code`` and ``reason``).

        Raises:
            RuntimeError: the first event is not ``websocket.connect``, or a later one is neither
                ``websocket.receive`` nor ``websocket.disconnect``, or it is not a dict with a
                ``type`` string. The payload keys are not checked (docs/errors.md).
            WebSocketDisconnected: a ``websocket.disconnect`` was already received.

        Source: Starlette docs "Sending and receiving messages"; ASGI spec 2.4.
        """
        state = self._client
        if state is _DISCONNECTED:
            raise self._error("receive_after_disconnect")
        return self._after_receive(await self._receive(), state, False)

    async def send(self, message: Any) -> None:
        """Send an ASGI event, keeping the application state up to date.

        Args:
            message (Mapping): ``websocket.accept``, ``websocket.send``, ``websocket.close``, or
                ``websocket.http.response.start``/``.body`` (denial response, before accept).

        Raises:
            RuntimeError: the event is not valid in the current state (Starlette's message names the
                expected and the received types).
            WebSocketDisconnected: a ``websocket.close`` was already sent.
            WebSocketDisconnect: the server's ``send`` raised ``OSError`` on an open connection
                (code 1006, the client is gone).

        Source: Starlette docs "Sending and receiving messages"; ASGI spec 2.4.
        """
        if self._before_send(message["type"], message):
            try:
                await self._send(message)
            except OSError:
                self._application = _DISCONNECTED
                raise self._error("send_failed", 1006)
        else:
            await self._send(message)

    # -- handshake and close ----------------------------------------------------------------------
    async def accept(
        self, subprotocol: str | None = None, headers: Iterable[tuple[bytes, bytes]] | None = None
    ) -> None:
        """Accept the connection (waiting for ``websocket.connect`` first if it was not received).

        Args:
            subprotocol (str | None): the subprotocol chosen from ``scope["subprotocols"]``
                (RFC 6455 section 4.2.2, ``Sec-WebSocket-Protocol``).
            headers (Iterable[tuple[bytes, bytes]] | None): extra handshake response headers.

        Raises:
            ValueError: ``subprotocol`` is not in ``scope["subprotocols"]``, or a header name is not
                an RFC 9110 token or a value holds CR, LF or NUL (checked before anything is
                received or sent).
            TypeError: ``subprotocol`` is not a str, or a header is not a pair of bytes.
            RuntimeError: the first event is not ``websocket.connect``, or the connection was
                already accepted or is sending a denial response.
            WebSocketDisconnected: the connection was already closed.
        """
        if subprotocol is None and headers is None:
            headers = []  # nothing to check
        elif type(self)._fastws_checks:
            headers = check_accept(self.scope, subprotocol, headers) or []
        else:  # the subprotocol goes to the server as given, as the dialect's framework does
            headers = check_accept(self.scope, None, headers) or []
        state = self._client
        if state is _CONNECTING:
            # If we haven't yet seen the 'connect' message, then wait for it first.
            self._after_receive(await self._receive(), state, False)
        self._before_send("websocket.accept", None)
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": headers})

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection; before accept this rejects the handshake (HTTP 403).

        Args:
            code (int): the close code (RFC 6455 section 7.4); default 1000.
            reason (str | None): the close reason (at most 123 bytes of UTF-8 on the wire);
                ``None`` is sent as ``""``.

        Raises:
            ValueError: once accepted, ``code`` is not 1000-1003, 1007-1014 or 3000-4999 (RFC 6455
                section 7.4), or ``reason`` is over 123 bytes of UTF-8; nothing is sent.
            TypeError: once accepted, ``code`` is not an int, or ``reason`` not a str or None.

        Before accept, ``code`` and ``reason`` are not checked: the close is a handshake denial,
        which servers answer with HTTP 403, dropping both (ASGI spec 2.4, ``websocket.close``).
            RuntimeError: a denial response is being sent.
            WebSocketDisconnected: the connection was already closed.
            WebSocketDisconnect: the server's ``send`` raised ``OSError`` (code 1006).
        """
        # Before accept the close is a handshake denial (HTTP 403): servers drop the code and
        # reason, so they are passed on unchecked, as Starlette does (FastAPI closes with a list
        # as the reason there).
        if self._application is not _CONNECTING and not _plain_close(code, reason) and type(self)._fastws_checks:
            check_close(code, reason)
        message = {"type": "websocket.close", "code": code, "reason": reason or ""}
        if self._before_send("websocket.close", message):
            try:
                await self._send(message)
            except OSError:
                self._application = _DISCONNECTED
                raise self._error("send_failed", 1006)
        else:
            await self._send(message)

    async def send_denial_response(self, response: Any) -> None:
        """Reject the handshake with an HTTP response instead of accepting it.

        Args:
            response: an ASGI app such as ``starlette.responses.Response``; it is sent through the
                ``websocket.http.response`` extension when ``scope["extensions"]`` lists it.

        Without the extension the connection is closed before accept, which servers answer with
        HTTP 403 (the Starlette docs' behaviour; Starlette 1.10's code raises ``RuntimeError``
        there instead). ``send_response`` is the same method (the name the Starlette docs use).

        Raises:
            RuntimeError: the connection was already accepted.
            WebSocketDisconnected: the connection was already closed.

        Source: Starlette docs "Rejecting the connection"; ASGI spec 2.4 WebSocket Denial Response.
        """
        await _connection.send_denial_response(self, response, WebSocket)

    send_response = send_denial_response

    # -- typed receive ----------------------------------------------------------------------------
    async def receive_text(self) -> str:
        """Receive one text message.

        Returns:
            str: the message's text.

        Raises:
            WebSocketDisconnected: not accepted yet, or a disconnect was already received.
            WebSocketDisconnect: the client disconnected (``.code``, ``.reason``).
            UnexpectedMessageType: a binary message arrived (a ``KeyError``, as Starlette's).
            RuntimeError: the server delivered an event of an unexpected type.
        """
        state = self._receivable()
        message = self._after_receive(await self._receive(), state, True)
        return _text_of(message, self)

    async def receive_bytes(self) -> bytes:
        """Receive one binary message.

        Returns:
            bytes: the message's payload.

        Raises:
            WebSocketDisconnected: not accepted yet, or a disconnect was already received.
            WebSocketDisconnect: the client disconnected (``.code``, ``.reason``).
            UnexpectedMessageType: a text message arrived (a ``KeyError``, as Starlette's).
            RuntimeError: the server delivered an event of an unexpected type.
        """
        state = self._receivable()
        message = self._after_receive(await self._receive(), state, True)
        return _bytes_of(message, self)

    async def receive_json(self, mode: str = "text") -> Any:
        """Receive one message and parse it as JSON (orjson where it gives ``json.loads``' result).

        Args:
            mode (str): ``"text"`` for a text message (default), ``"binary"`` for UTF-8 JSON in a
                binary message.

        Returns:
            The parsed value, exactly as ``json.loads`` returns it.

        Raises:
            RuntimeError: ``mode`` is neither ``"text"`` nor ``"binary"``.
            json.JSONDecodeError: the message is not valid JSON, or is nested deeper than the
                interpreter's recursion limit (docs/errors.md).
            UnicodeDecodeError: in binary mode, the payload is not UTF-8.
            WebSocketDisconnect: code 1009 when the message is over ``max_json_size`` bytes (the
                connection is closed with 1009 first); or as ``receive_text``.
            WebSocketDisconnected, UnexpectedMessageType: as ``receive_text``.
        """
        if mode != "text" and mode != "binary":
            raise self._error("bad_mode")
        state = self._receivable()
        message = self._after_receive(await self._receive(), state, True)
        payload = _text_of(message, self) if mode == "text" else _bytes_of(message, self)
        if _too_big(self, payload):
            try:
                await self._send(_too_big_close(self))
            except OSError:
                pass
            raise self._error("disconnect", 1009, TOO_BIG_REASON)
        try:
            if mode == "text":
                return decode_json_text(payload)
            return decode_json_bytes(payload)
        except RecursionError:
            raise too_deep(payload) from None

    async def iter_text(self) -> AsyncIterator[str]:
        """Iterate over text messages until the client disconnects.

        Returns:
            AsyncIterator[str]: each message's text; the iteration ends at ``websocket.disconnect``.

        Raises:
            WebSocketDisconnected: not accepted yet.
            UnexpectedMessageType: a binary message arrived.
        """
        while True:
            state = self._receivable()
            message = self._after_receive(await self._receive(), state, False)
            if message["type"] == "websocket.disconnect":
                message["code"]  # a disconnect without a code is a KeyError, as in Starlette
                return
            yield _text_of(message, self)

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        """Iterate over binary messages until the client disconnects.

        Returns:
            AsyncIterator[bytes]: each payload; the iteration ends at ``websocket.disconnect``.

        Raises:
            WebSocketDisconnected: not accepted yet.
            UnexpectedMessageType: a text message arrived.
        """
        while True:
            state = self._receivable()
            message = self._after_receive(await self._receive(), state, False)
            if message["type"] == "websocket.disconnect":
                message["code"]  # a disconnect without a code is a KeyError, as in Starlette
                return
            yield _bytes_of(message, self)

    async def iter_json(self) -> AsyncIterator[Any]:
        """Iterate over JSON text messages until the client disconnects.

        Returns:
            AsyncIterator[Any]: each parsed value; the iteration ends at ``websocket.disconnect``.

        Raises:
            WebSocketDisconnected: not accepted yet.
            UnexpectedMessageType: a binary message arrived.
            json.JSONDecodeError: a message is not valid JSON.
            WebSocketDisconnect: code 1009, a message is over ``max_json_size`` (as ``receive_json``).
        """
        while True:
            state = self._receivable()
            message = self._after_receive(await self._receive(), state, False)
            if message["type"] == "websocket.disconnect":
                message["code"]  # a disconnect without a code is a KeyError, as in Starlette
                return
            payload = _text_of(message, self)
            if _too_big(self, payload):
                try:
                    await self._send(_too_big_close(self))
                except OSError:
                    pass
                raise self._error("disconnect", 1009, TOO_BIG_REASON)
            try:
                value = decode_json_text(payload)
            except RecursionError:
                raise too_deep(payload) from None
            yield value

    # -- typed send -------------------------------------------------------------------------------
    async def send_text(self, data: str) -> None:
        """Send one text message.

        Args:
            data (str): the text.

        Raises:
            RuntimeError: not accepted yet, or a denial response is being sent.
            WebSocketDisconnected: the connection was already closed.
            WebSocketDisconnect: the server's ``send`` raised ``OSError`` (code 1006).
        """
        self._before_send("websocket.send", None)
        try:
            nowait = self._send_nowait
            if nowait is not None and self._send is self._send_hooked and nowait(data, True) is True:
                return  # written by the server at once (fastws.server's send_data_nowait)
            await self._send({"type": "websocket.send", "text": data})
        except OSError:
            self._application = _DISCONNECTED
            raise self._error("send_failed", 1006)

    async def send_bytes(self, data: bytes) -> None:
        """Send one binary message.

        Args:
            data (bytes): the payload.

        Raises:
            RuntimeError: not accepted yet, or a denial response is being sent.
            WebSocketDisconnected: the connection was already closed.
            WebSocketDisconnect: the server's ``send`` raised ``OSError`` (code 1006).
        """
        self._before_send("websocket.send", None)
        try:
            nowait = self._send_nowait
            if nowait is not None and self._send is self._send_hooked and nowait(data, False) is True:
                return  # written by the server at once (fastws.server's send_data_nowait)
            await self._send({"type": "websocket.send", "bytes": data})
        except OSError:
            self._application = _DISCONNECTED
            raise self._error("send_failed", 1006)

    async def send_json(self, data: Any, mode: str = "text") -> None:
        """Send ``data`` as compact JSON, byte-identical to Starlette's
        ``json.dumps(data, separators=(",", ":"), ensure_ascii=False)`` (orjson where it is).

        Args:
            data: any value ``json.dumps`` accepts.
            mode (str): ``"text"`` (default) for a text message, ``"binary"`` for UTF-8 bytes.

        Raises:
            RuntimeError: ``mode`` is neither ``"text"`` nor ``"binary"``; or the state forbids
                sending (as ``send_text``).
            TypeError: ``data`` holds a value JSON cannot represent.
            ValueError: ``data`` contains itself.
            WebSocketDisconnected, WebSocketDisconnect: as ``send_text``.
        """
        message: dict[str, Any]
        if mode == "text":
            message = {"type": "websocket.send", "text": encode_json_text(data)}
        elif mode == "binary":
            message = {"type": "websocket.send", "bytes": encode_json_bytes(data)}
        else:
            raise self._error("bad_mode")
        self._before_send("websocket.send", None)
        try:
            await self._send(message)
        except OSError:
            self._application = _DISCONNECTED
            raise self._error("send_failed", 1006)
