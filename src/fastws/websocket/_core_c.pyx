# cython: language_level=3
"""The WebSocket connection class: the compiled twin of ``_core_py.py``.

The API, state machine, errors and messages are those of ``starlette.websockets.WebSocket``
1.10.0 (Starlette 1.10 documentation, "WebSockets" page, and ``starlette/websockets.py``); see
``fastws.websockets`` for the public docs.
Both states are C integers behind ``client_state``/``application_state`` properties that speak
``WebSocketState``; every method awaits the server's ``receive``/``send`` directly, never through
another coroutine of this class, so one message costs one (compiled) coroutine.
"""

from collections.abc import Coroutine, KeysView, ItemsView, Mapping, ValuesView
from inspect import CO_ITERABLE_COROUTINE
from types import GenericAlias

cimport cython
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF

from fastws.codec._json_c cimport decode_json_bytes, decode_json_text, encode_json_bytes, encode_json_text
from fastws.codec._limits import DEFAULT_MAX_JSON_SIZE, TOO_BIG_REASON, check_json_limit, json_too_big, too_deep
from fastws.datastructures import _core_c as _datastructures_c
from fastws.datastructures._core_c cimport Headers, headers_from_scope, parse_cookie, query_params_from_bytes
from fastws.protocol.close import check_close
from fastws.websocket import _connection
from fastws.websocket._checks import bad_type, check_accept, event_type, payload_error
from fastws.websocket._errors import mismatch_error, starlette_error
from fastws.websocket._info import ConnectionInfo
from fastws.websocket._state import STATES, as_state

__all__ = ["WebSocket"]

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX
    Py_ssize_t PyDict_GET_SIZE(object)
    ctypedef enum PySendResult:
        PYGEN_RETURN
        PYGEN_ERROR
        PYGEN_NEXT
    PySendResult PyIter_Send(PyObject* iterator, PyObject* arg, PyObject** presult)
    ctypedef PySendResult (*sendfunc)(PyObject*, PyObject*, PyObject**) except PYGEN_ERROR
    ctypedef PyObject* (*unaryfunc)(PyObject*)
    ctypedef struct PyAsyncMethods:
        unaryfunc am_await
        sendfunc am_send
    ctypedef struct PyTypeObjectAsync "PyTypeObject":
        PyAsyncMethods* tp_as_async
    bint PyCoro_CheckExact(object obj)
    bint PyGen_CheckExact(object obj)

cdef extern from *:
    """
    /* Tells Cython that the exception the C API just set is raised here. */
    static CYTHON_INLINE int __fastws_propagate(void) { return -1; }
    """
    int _propagate "__fastws_propagate"() except -1

cdef enum:
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3

cdef str _RECEIVE_TYPE = "websocket.receive"


cdef inline object _get(object message, str key):
    # message.get(key), with the common case (a dict) done in C.
    if type(message) is dict:
        return (<dict>message).get(key)
    return message.get(key)


cdef inline object _text_of(object message, WebSocket ws):
    # The text of a received message; without one, what the class's dialect makes of the message
    # (fastws and Starlette: a KeyError that says what arrived).
    text = _get(message, "text")
    if type(text) is str and _get(message, "bytes") is None:
        return text
    problem = payload_error("text", message)
    if problem is not None:
        raise ws._error("bad_event", problem)
    if text is None:
        return type(ws)._fastws_mismatch("text", message)
    return text


cdef inline object _bytes_of(object message, WebSocket ws):
    # The payload of a received message; without one, as _text_of.
    data = _get(message, "bytes")
    if type(data) is bytes and _get(message, "text") is None:
        return data
    problem = payload_error("bytes", message)
    if problem is not None:
        raise ws._error("bad_event", problem)
    if data is None:
        return type(ws)._fastws_mismatch("bytes", message)
    return data


cdef int _state_value(object state) except -1:
    return as_state(state).value


cdef class WebSocket:
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

    cdef public object scope
    cdef public object _receive
    cdef public object _send
    # The server's synchronous send of one data message (fastws.server's send_data_nowait), and
    # the send it belongs to: used only while _send is still that object (see _send_hook).
    cdef object _send_nowait
    cdef object _send_hooked
    cdef int _client
    cdef int _application
    cdef object _headers
    cdef object _query_params
    cdef object _cookies
    # max_json_size + 1; -1 for no limit; 0 until read from the class's default_max_json_size
    # (so a subclass __init__ that skips this one still gets the default).
    cdef Py_ssize_t _json_cap
    cdef dict __dict__
    cdef object __weakref__

    __class_getitem__ = classmethod(GenericAlias)

    # What the class speaks (see fastws.websocket._errors.starlette_error): the state enum members by their
    # number, the factory of every exception raised, and what a message of the other kind
    # (text for receive_bytes, bytes for receive_text) gives. Read only when a state is read or an
    # exception raised, so a dialect subclass costs nothing on the per-message path.
    _fastws_states = STATES
    _fastws_error = starlette_error
    _fastws_mismatch = mismatch_error
    # Whether close() checks its code and reason once accepted, and accept() its subprotocol
    # (docs/errors.md); a dialect whose framework hands them to the server unchecked sets False.
    # Read only in accept() and close().
    _fastws_checks = True
    default_max_json_size = DEFAULT_MAX_JSON_SIZE

    def __init__(self, scope, receive=None, send=None):
        assert scope["type"] == "websocket", f"Expected an ASGI scope of type 'websocket', got {scope['type']!r}"
        self.scope = scope
        self._receive = receive
        self._send = send
        self._send_nowait = _send_hook(send)
        if self._send_nowait is not None:
            self._send_hooked = send
        self._client = CONNECTING
        self._application = CONNECTING

    # -- mapping over the scope; identity equality (starlette.requests.HTTPConnection) --------
    def __getitem__(self, key):
        return self.scope[key]

    def __iter__(self):
        return iter(self.scope)

    def __len__(self):
        return len(self.scope)

    def __contains__(self, key):
        try:
            self.scope[key]
        except KeyError:
            return False
        return True

    def keys(self):
        "D.keys() -> a set-like object providing a view on D's keys"
        return KeysView(self)

    def items(self):
        "D.items() -> a set-like object providing a view on D's items"
        return ItemsView(self)

    def values(self):
        "D.values() -> an object providing a view on D's values"
        return ValuesView(self)

    def get(self, key, default=None):
        'D.get(k[,d]) -> D[k] if k in D, else d.  d defaults to None.'
        try:
            return self.scope[key]
        except KeyError:
            return default

    # -- states -----------------------------------------------------------------------------------
    @property
    def client_state(self):
        """WebSocketState: the client side: CONNECTING until ``websocket.connect`` is received,
        CONNECTED, then DISCONNECTED after ``websocket.disconnect``. Assignable: a ``WebSocketState``, or a
        same-named member of another enum (Starlette's); anything else raises ``TypeError``.
        """
        return type(self)._fastws_states[self._client]

    @client_state.setter
    def client_state(self, value):
        self._client = _state_value(value)

    @property
    def application_state(self):
        """WebSocketState: the app side: CONNECTING until ``accept``/``close``/a denial response,
        CONNECTED after accept, RESPONSE while a denial response is being sent, DISCONNECTED after
        ``close``. Assignable, as ``client_state``.
        """
        return type(self)._fastws_states[self._application]

    @application_state.setter
    def application_state(self, value):
        self._application = _state_value(value)

    @property
    def max_json_size(self):
        """int | None: the largest message ``receive_json``/``iter_json`` parse on this connection, in
        bytes (a text message is measured in UTF-8 bytes); ``None`` for no limit. Defaults to the
        class's ``default_max_json_size`` (``fastws.DEFAULT_MAX_JSON_SIZE``, 16 MiB, uvicorn's
        default ``ws_max_size``). A larger message closes the connection with code 1009 (RFC 6455
        section 7.4.1, "Message Too Big") and raises ``WebSocketDisconnect(1009)``
        (docs/errors.md). Assignable; anything but a non-negative int or ``None`` raises
        ``TypeError``/``ValueError``.
        """
        if self._json_cap == 0:
            self._set_json_limit(type(self).default_max_json_size)
        return None if self._json_cap < 0 else self._json_cap - 1

    @max_json_size.setter
    def max_json_size(self, value):
        self._set_json_limit(value)

    cdef int _set_json_limit(self, object value) except -1:
        limit = check_json_limit(value)
        if limit is None or limit >= PY_SSIZE_T_MAX - 1:
            self._json_cap = -1
        else:
            self._json_cap = <Py_ssize_t>limit + 1
        return 0

    # -- connection info ------------------------------------------------------------------------
    # app, url, base_url, path_params, client, state, session, auth, user and url_for: the shared
    # Python mixin's properties (fastws.websocket._info), off every per-message path; headers,
    # query_params and cookies stay compiled (the handshake reads them: 28% slower as Python).
    _fastws_url_from_scope = staticmethod(_datastructures_c.url_from_scope)
    app = ConnectionInfo.app
    url = ConnectionInfo.url
    base_url = ConnectionInfo.base_url
    path_params = ConnectionInfo.path_params
    client = ConnectionInfo.client
    state = ConnectionInfo.state
    session = ConnectionInfo.session
    auth = ConnectionInfo.auth
    user = ConnectionInfo.user
    url_for = ConnectionInfo.url_for

    @property
    def headers(self):
        """Headers: the handshake request headers, an immutable case-insensitive multidict built
        once from ``scope["headers"]`` (which becomes a list).
        """
        if self._headers is None:
            self._headers = headers_from_scope(self.scope)
        return self._headers

    @property
    def query_params(self):
        """QueryParams: the query string's parameters (percent-decoded, ``+`` as space, blank
        values kept), an immutable multidict built once.

        Raises:
            KeyError: the scope has no ``query_string``.
        """
        if self._query_params is None:
            self._query_params = query_params_from_bytes(self.scope["query_string"])
        return self._query_params

    @property
    def cookies(self):
        """dict[str, str]: the cookies of every ``Cookie`` header, parsed as browsers send them
        (Starlette's ``cookie_parser``), built once.
        """
        cdef dict cookies
        if self._cookies is None:
            cookies = {}
            for header in (<Headers?>self.headers).getlist("cookie"):  # checked: a subclass may override headers
                cookies.update(parse_cookie(header))
            self._cookies = cookies
        return self._cookies

    # -- the state machine ------------------------------------------------------------------------
    cdef object _error(self, str kind, object detail=None, object reason=None):
        # The exception to raise for `kind`, as the class's dialect builds it.
        return type(self)._fastws_error(kind, detail, reason)

    cdef int _receivable(self) except -1:
        # The client state before awaiting a typed receive; raises what Starlette raises.
        if self._application != CONNECTED:
            raise self._error("not_accepted")
        if self._client == DISCONNECTED:
            raise self._error("receive_after_disconnect")
        return self._client

    cdef object _after_receive(self, object message, int state, bint raise_disconnect):
        # Checks an event the server delivered while the client was in `state` and moves the
        # client state on; a disconnect is raised as WebSocketDisconnect when asked to.
        if type(message) is dict:
            message_type = (<dict>message).get("type")
            if type(message_type) is not str:
                message_type = None
        else:
            message_type = event_type(message)
        if message_type is None:
            raise self._error("bad_event", bad_type(message))
        if state == CONNECTING:
            if message_type != "websocket.connect":
                raise self._error("expected_connect", message_type)
            self._client = CONNECTED
            return message
        if message_type == "websocket.receive":
            return message
        if message_type == "websocket.disconnect":
            self._client = DISCONNECTED
            if raise_disconnect:
                raise self._error("disconnect", message["code"], _get(message, "reason"))
            return message
        raise self._error("expected_receive", message_type)

    cdef bint _before_send(self, object message_type, object message) except -1:
        # Checks an event the app is about to send and moves the application state on. Returns
        # True when the connection is open, where a failing send means the client is gone.
        cdef int state = self._application
        if state == CONNECTED:
            if message_type == "websocket.send":
                return True
            if message_type == "websocket.close":
                self._application = DISCONNECTED
                return True
            raise self._error("expected_send", message_type)
        if state == CONNECTING:
            if message_type == "websocket.accept":
                self._application = CONNECTED
            elif message_type == "websocket.close":
                self._application = DISCONNECTED
            elif message_type == "websocket.http.response.start":
                self._application = RESPONSE
            else:
                raise self._error("expected_accept", message_type)
            return False
        if state == RESPONSE:
            if message_type != "websocket.http.response.body":
                raise self._error("expected_body", message_type)
            if not message.get("more_body", False):
                self._application = DISCONNECTED
            return False
        raise self._error("send_after_close")

    # -- raw events -------------------------------------------------------------------------------
    def receive(self):
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
        return _new_op(self, K_RECEIVE)

    def send(self, message):
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
        cdef _Op op = _new_op(self, K_SEND)
        op.data = message
        return op

    # -- handshake and close ----------------------------------------------------------------------
    def accept(self, subprotocol=None, headers=None):
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
        cdef _Op op = _new_op(self, K_ACCEPT)
        op.subprotocol = subprotocol
        op.headers = headers
        # Read here, so the op's step stays as small as before; only a subprotocol is left unchecked
        # by a class without checks (accept()'s headers are always checked).
        op.checks = subprotocol is not None and type(self)._fastws_checks
        return op

    def close(self, code=1000, reason=None):
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
        cdef _Op op = _new_op(self, K_CLOSE)
        op.code = code
        op.reason = reason
        # Read here, so the op's step stays as small as before; a plain close has nothing to check.
        op.checks = not _plain_close(code, reason) and type(self)._fastws_checks
        return op

    async def send_denial_response(self, response):
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
    def receive_text(self):
        """Receive one text message.

        Returns:
            str: the message's text.

        Raises:
            WebSocketDisconnected: not accepted yet, or a disconnect was already received.
            WebSocketDisconnect: the client disconnected (``.code``, ``.reason``).
            UnexpectedMessageType: a binary message arrived (a ``KeyError``, as Starlette's).
            RuntimeError: the server delivered an event of an unexpected type.
        """
        return _new_op(self, K_TEXT)

    def receive_bytes(self):
        """Receive one binary message.

        Returns:
            bytes: the message's payload.

        Raises:
            WebSocketDisconnected: not accepted yet, or a disconnect was already received.
            WebSocketDisconnect: the client disconnected (``.code``, ``.reason``).
            UnexpectedMessageType: a text message arrived (a ``KeyError``, as Starlette's).
            RuntimeError: the server delivered an event of an unexpected type.
        """
        return _new_op(self, K_BYTES)

    def receive_json(self, mode="text"):
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
        cdef _Op op = _new_op(self, K_JSON)
        op.mode = mode
        return op

    def iter_text(self):
        """Iterate over text messages until the client disconnects.

        Returns:
            AsyncIterator[str]: each message's text; the iteration ends at ``websocket.disconnect``.

        Raises:
            WebSocketDisconnected: not accepted yet.
            UnexpectedMessageType: a binary message arrived.
        """
        return _new_iter(self, K_ITER_TEXT)

    def iter_bytes(self):
        """Iterate over binary messages until the client disconnects.

        Returns:
            AsyncIterator[bytes]: each payload; the iteration ends at ``websocket.disconnect``.

        Raises:
            WebSocketDisconnected: not accepted yet.
            UnexpectedMessageType: a text message arrived.
        """
        return _new_iter(self, K_ITER_BYTES)

    def iter_json(self):
        """Iterate over JSON text messages until the client disconnects.

        Returns:
            AsyncIterator[Any]: each parsed value; the iteration ends at ``websocket.disconnect``.

        Raises:
            WebSocketDisconnected: not accepted yet.
            UnexpectedMessageType: a binary message arrived.
            json.JSONDecodeError: a message is not valid JSON.
            WebSocketDisconnect: code 1009, a message is over ``max_json_size`` (as ``receive_json``).
        """
        return _new_iter(self, K_ITER_JSON)

    # -- typed send -------------------------------------------------------------------------------
    def send_text(self, data):
        """Send one text message.

        Args:
            data (str): the text.

        Raises:
            RuntimeError: not accepted yet, or a denial response is being sent.
            WebSocketDisconnected: the connection was already closed.
            WebSocketDisconnect: the server's ``send`` raised ``OSError`` (code 1006).
        """
        cdef _Op op = _new_op(self, K_SEND_TEXT)
        op.data = data
        return op

    def send_bytes(self, data):
        """Send one binary message.

        Args:
            data (bytes): the payload.

        Raises:
            RuntimeError: not accepted yet, or a denial response is being sent.
            WebSocketDisconnected: the connection was already closed.
            WebSocketDisconnect: the server's ``send`` raised ``OSError`` (code 1006).
        """
        cdef _Op op = _new_op(self, K_SEND_BYTES)
        op.data = data
        return op

    def send_json(self, data, mode="text"):
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
        cdef _Op op = _new_op(self, K_SEND_JSON)
        op.data = data
        op.mode = mode
        return op


Mapping.register(WebSocket)


# -- the awaitable behind every per-message method --------------------------------------------------
#
# A compiled `async def` costs more per call than the whole state machine does (a coroutine, its
# closure and an await wrapper are allocated, and the result travels in a StopIteration). `_Op` is
# a one-allocation coroutine for the fixed shapes of these methods: a synchronous prologue
# (state checks, building the event), one or two awaits of the server's receive/send, and a
# synchronous epilogue. Its `am_send` slot lets `await` drive it without exceptions. Like a
# coroutine it does nothing until first awaited, and it is registered as a
# `collections.abc.Coroutine`, so asyncio.create_task, gather, wait_for and anyio accept it.

cdef enum:
    # The kinds `_Op._fast` completes by itself on an open connection come first.
    K_TEXT = 0
    K_BYTES = 1
    K_JSON = 2
    K_ITER_TEXT = 3
    K_ITER_BYTES = 4
    K_ITER_JSON = 5
    K_LAST_FAST_RECEIVE = 5
    K_SEND_TEXT = 6
    K_SEND_BYTES = 7
    K_SEND_JSON = 8
    K_LAST_FAST = 8
    K_RECEIVE = 9
    K_SEND = 10
    K_CLOSE = 11
    K_ACCEPT = 12


cdef inline bint _receives(int kind) noexcept:
    return kind <= K_LAST_FAST_RECEIVE or kind == K_RECEIVE


cdef inline bint _iterates(int kind) noexcept:
    return kind >= K_ITER_TEXT and kind <= K_ITER_JSON


cdef str _TEXT_KEY = "text"
cdef str _BYTES_KEY = "bytes"


cdef inline bint _json_fits(WebSocket ws, object payload) except -1:
    # Whether a JSON payload is within the connection's max_json_size (docs/errors.md): decided
    # in C when the payload is under a quarter of the limit, else by fastws.codec._limits.json_too_big.
    cdef Py_ssize_t cap = ws._json_cap
    if cap < 0:
        return True
    if cap > 0 and len(payload) <= (cap - 1) >> 2:
        return True
    return not json_too_big(payload, ws.max_json_size)


cdef inline object _decode(bint text, object payload):
    # The parsed JSON of a message; nesting past the recursion limit is invalid JSON
    # (fastws.codec._limits.too_deep).
    try:
        if text:
            return decode_json_text(payload)
        return decode_json_bytes(payload)
    except RecursionError:
        raise too_deep(payload) from None


cdef inline str _payload_key(int kind, object mode):
    # The key of a websocket.receive event this receive kind reads.
    if kind == K_BYTES or kind == K_ITER_BYTES or (kind == K_JSON and mode == "binary"):
        return _BYTES_KEY
    return _TEXT_KEY


cdef object _send_hook(object send):
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


cdef object _await_iter(object awaitable):
    # What `await awaitable` iterates: the coroutine itself, or what its __await__ returns.
    if PyCoro_CheckExact(awaitable):
        return awaitable
    if PyGen_CheckExact(awaitable) and awaitable.gi_code.co_flags & CO_ITERABLE_COROUTINE:
        return awaitable
    method = getattr(type(awaitable), "__await__", None)
    if method is None:
        raise TypeError(f"object {type(awaitable).__name__} can't be used in 'await' expression")
    return method(awaitable)


cdef enum _Stage:
    # Which server call an op is in (_Op.stage).
    STAGE_FIRST = 0  # the op's one server call (a receive or a send)
    STAGE_AWAIT_CONNECT = 1  # accept() waits for websocket.connect before sending websocket.accept
    STAGE_ACCEPT_SENT = 2  # accept() sent websocket.accept
    STAGE_TOO_BIG_CLOSE = 3  # a JSON message over max_json_size: the 1009 close was sent


cdef inline bint _plain_close(object code, object reason) noexcept:
    # close()'s common case, which check_close (fastws.protocol.close) would pass: the default code
    # 1000 (an int, not a subclass) and no reason, or a str of at most 30 characters (at most 120
    # bytes of UTF-8, 4 a character, within the 123 that fit). Anything else goes to check_close.
    return type(code) is int and code == 1000 and (
        reason is None or (type(reason) is str and len(<str>reason) <= 30)
    )


cdef inline _Op _new_op(WebSocket ws, int kind):
    # The other fields start as None/0; callers set the ones their kind uses.
    cdef _Op op = _Op.__new__(_Op)
    op.ws = ws
    op.kind = kind
    return op


@cython.freelist(8)
@cython.final
cdef class _Op:
    """An awaitable WebSocket operation (what ``receive_text()`` and friends return): a coroutine
    object that can be awaited once, passed to ``asyncio.create_task``, or driven with
    ``send``/``throw``/``close``."""

    cdef WebSocket ws
    cdef int kind
    # The client state when a receive started (CONNECTED/DISCONNECTED...), for _after_receive.
    cdef int client_state
    # Which server call self.inner is (the _Stage names).
    cdef int stage
    cdef bint started
    # A send on an open connection: an OSError from the server is reported as a disconnect (1006).
    cdef bint wrap
    # accept()/close(): whether the class checks the subprotocol, code and reason (_fastws_checks).
    cdef bint checks
    # The arguments, by kind: send_text/send_bytes/send_json's data and send()'s message; the JSON
    # mode of receive_json/send_json; accept's subprotocol and headers; close's code and reason.
    cdef object data
    cdef object mode
    cdef object subprotocol
    cdef object headers
    cdef object code
    cdef object reason
    cdef object inner
    cdef _Iter owner

    cdef int _start(self) except -1:
        # The prologue, run at the first step: state checks, then the first server call.
        cdef WebSocket ws = self.ws
        cdef int kind = self.kind
        if _receives(kind):
            if kind == K_RECEIVE:
                self.client_state = ws._client
                if self.client_state == DISCONNECTED:
                    raise ws._error("receive_after_disconnect")
            else:
                if kind == K_JSON and self.mode != "text" and self.mode != "binary":
                    raise ws._error("bad_mode")
                self.client_state = ws._receivable()
            self.inner = _await_iter(ws._receive())
            return 0
        if kind == K_ACCEPT:
            # Without the class's checks the subprotocol goes to the server as given, as the
            # dialect's framework does.
            if self.subprotocol is not None or self.headers is not None:  # else nothing to check
                self.headers = check_accept(ws.scope, self.subprotocol if self.checks else None, self.headers)
            if ws._client == CONNECTING:
                # If we haven't yet seen the 'connect' message, then wait for it first.
                self.stage = STAGE_AWAIT_CONNECT
                self.inner = _await_iter(ws._receive())
            else:
                self._send_accept()
            return 0
        if kind == K_SEND_TEXT:
            message = {"type": "websocket.send", "text": self.data}
            self.wrap = ws._before_send("websocket.send", None)
        elif kind == K_SEND_BYTES:
            message = {"type": "websocket.send", "bytes": self.data}
            self.wrap = ws._before_send("websocket.send", None)
        elif kind == K_SEND_JSON:
            if self.mode == "text":
                message = {"type": "websocket.send", "text": encode_json_text(self.data)}
            elif self.mode == "binary":
                message = {"type": "websocket.send", "bytes": encode_json_bytes(self.data)}
            else:
                raise ws._error("bad_mode")
            self.wrap = ws._before_send("websocket.send", None)
        elif kind == K_CLOSE:
            # Before accept the close is a handshake denial (HTTP 403): servers drop the code and
            # reason, so they are passed on unchecked, as Starlette does (FastAPI closes with a
            # list as the reason there).
            if self.checks and ws._application != CONNECTING:
                check_close(self.code, self.reason)
            message = {"type": "websocket.close", "code": self.code, "reason": self.reason or ""}
            self.wrap = ws._before_send("websocket.close", message)
        else:  # K_SEND
            message = self.data
            self.wrap = ws._before_send(message["type"], message)
        self.data = self.code = self.reason = None
        self.inner = _await_iter(ws._send(message))
        return 0

    cdef int _send_accept(self) except -1:
        headers = self.headers or []
        self.ws._before_send("websocket.accept", None)
        self.stage = STAGE_ACCEPT_SENT
        self.inner = _await_iter(
            self.ws._send({"type": "websocket.accept", "subprotocol": self.subprotocol, "headers": headers})
        )
        return 0

    cdef object _finish(self, object value):
        # The epilogue for what the server call returned: the op's result, or None after starting
        # the next server call (accept's second stage, in self.inner).
        cdef WebSocket ws = self.ws
        cdef int kind = self.kind
        if self.stage == STAGE_TOO_BIG_CLOSE:
            raise ws._error("disconnect", 1009, TOO_BIG_REASON)
        if not _receives(kind):
            if kind == K_ACCEPT and self.stage == STAGE_AWAIT_CONNECT:
                ws._after_receive(value, CONNECTING, False)
                self._send_accept()
            return None
        if kind == K_RECEIVE:
            return ws._after_receive(value, self.client_state, False)
        if _iterates(kind):
            message = ws._after_receive(value, self.client_state, False)
            if message["type"] == "websocket.disconnect":
                message["code"]  # a disconnect without a code is a KeyError, as in Starlette
                self.owner.finished = True
                raise StopAsyncIteration
            if kind == K_ITER_BYTES:
                return _bytes_of(message, ws)
            if kind == K_ITER_JSON:
                payload = _text_of(message, ws)
                if not _json_fits(ws, payload):
                    return self._close_too_big()
                return _decode(True, payload)
            return _text_of(message, ws)
        message = ws._after_receive(value, self.client_state, True)
        if kind == K_TEXT:
            return _text_of(message, ws)
        if kind == K_BYTES:
            return _bytes_of(message, ws)
        payload = _text_of(message, ws) if self.mode == "text" else _bytes_of(message, ws)
        if not _json_fits(ws, payload):
            return self._close_too_big()
        if self.mode == "text":
            return _decode(True, payload)
        return _decode(False, payload)

    cdef object _close_too_big(self):
        # A JSON message over max_json_size: send the 1009 close (STAGE_TOO_BIG_CLOSE), then _finish raises
        # WebSocketDisconnect(1009) (or _failed, when the send fails with OSError).
        message = {"type": "websocket.close", "code": 1009, "reason": TOO_BIG_REASON}
        self.ws._before_send("websocket.close", message)
        self.stage = STAGE_TOO_BIG_CLOSE
        self.inner = _await_iter(self.ws._send(message))
        return None

    cdef int _failed(self) except -1:
        # The server call raised (the exception is set): on an open connection an OSError means
        # the client is gone, reported as WebSocketDisconnect(1006) as Starlette does.
        self.inner = None
        if self.stage == STAGE_TOO_BIG_CLOSE:
            try:
                _propagate()
            except OSError:
                raise self.ws._error("disconnect", 1009, TOO_BIG_REASON)
        if self.wrap:
            try:
                _propagate()
            except OSError:
                self.ws._application = DISCONNECTED
                raise self.ws._error("send_failed", 1006)
        return _propagate()

    cdef PySendResult _drive(self, PySendResult status, PyObject* res, PyObject** presult) except PYGEN_ERROR:
        # Carries on from one step of self.inner until the op yields or completes.
        cdef object value
        while True:
            if status == PYGEN_NEXT:
                presult[0] = res
                return PYGEN_NEXT
            if status == PYGEN_ERROR:
                self._failed()
            value = <object>res
            Py_DECREF(value)
            self.inner = None
            value = self._finish(value)
            if self.inner is None:
                Py_INCREF(value)
                presult[0] = <PyObject*>value
                return PYGEN_RETURN
            res = NULL
            status = PyIter_Send(<PyObject*>self.inner, <PyObject*>None, &res)

    cdef PySendResult _step(self, PyObject* arg, PyObject** presult) except PYGEN_ERROR:
        cdef PyObject* res = NULL
        if self.inner is None:
            if self.started:
                raise RuntimeError("cannot reuse already awaited coroutine")
            self.started = True
            if self.kind <= K_LAST_FAST and self.ws._application == CONNECTED and (
                self.kind > K_LAST_FAST_RECEIVE or self.ws._client == CONNECTED
            ):
                return self._fast(arg, presult)
            self._start()
        status = PyIter_Send(<PyObject*>self.inner, arg, &res)
        return self._drive(status, res, presult)

    cdef PySendResult _fast(self, PyObject* arg, PyObject** presult) except PYGEN_ERROR:
        # The first step of a text/bytes receive or send on an open connection, in one function:
        # no state can change here (both sides are CONNECTED), the server is called once, and a
        # websocket.receive event with the wanted key is returned as it is. Anything else (a
        # suspension, a disconnect, a message of the other kind, an error) continues on the
        # general path with the same state it would have had.
        cdef WebSocket ws = self.ws
        cdef int kind = self.kind
        cdef PyObject* res = NULL
        cdef PySendResult status
        cdef object value
        cdef bint usable
        if kind <= K_LAST_FAST_RECEIVE:
            if kind == K_JSON and self.mode != "text" and self.mode != "binary":
                raise ws._error("bad_mode")
            self.client_state = CONNECTED
            awaitable = ws._receive()
        else:
            self.wrap = True
            if (kind == K_SEND_TEXT or kind == K_SEND_BYTES) and ws._send_nowait is not None and (
                ws._send is ws._send_hooked
            ):
                # The server writes the frame now, or says to await its send as below.
                try:
                    done = ws._send_nowait(self.data, kind == K_SEND_TEXT)
                except OSError:
                    ws._application = DISCONNECTED
                    raise ws._error("send_failed", 1006)
                if done is True:
                    self.data = None
                    Py_INCREF(None)
                    presult[0] = <PyObject*>None
                    return PYGEN_RETURN
            if kind == K_SEND_TEXT:
                message = {"type": "websocket.send", "text": self.data}
            elif kind == K_SEND_BYTES:
                message = {"type": "websocket.send", "bytes": self.data}
            elif self.mode == "text":
                message = {"type": "websocket.send", "text": encode_json_text(self.data)}
            elif self.mode == "binary":
                message = {"type": "websocket.send", "bytes": encode_json_bytes(self.data)}
            else:
                raise ws._error("bad_mode")
            self.data = None
            awaitable = ws._send(message)
        if not PyCoro_CheckExact(awaitable):
            awaitable = _await_iter(awaitable)
        status = PyIter_Send(<PyObject*>awaitable, arg, &res)
        if status == PYGEN_NEXT:
            self.inner = awaitable
            presult[0] = res
            return PYGEN_NEXT
        if status == PYGEN_RETURN and kind <= K_LAST_FAST_RECEIVE:
            value = <object>res
            Py_DECREF(value)
            if type(value) is dict:
                message_type = (<dict>value).get("type")
                if message_type is _RECEIVE_TYPE or message_type == _RECEIVE_TYPE:
                    if _payload_key(kind, self.mode) is _TEXT_KEY:
                        payload = (<dict>value).get(_TEXT_KEY)
                        usable = type(payload) is str and (
                            PyDict_GET_SIZE(value) == 2 or (<dict>value).get(_BYTES_KEY) is None
                        )
                    else:
                        payload = (<dict>value).get(_BYTES_KEY)
                        usable = type(payload) is bytes and (
                            PyDict_GET_SIZE(value) == 2 or (<dict>value).get(_TEXT_KEY) is None
                        )
                    if usable and (kind <= K_BYTES or kind == K_ITER_TEXT or kind == K_ITER_BYTES):
                        Py_INCREF(payload)
                        presult[0] = <PyObject*>payload
                        return PYGEN_RETURN
                    if usable and _json_fits(ws, payload):
                        payload = _decode(kind == K_ITER_JSON or self.mode == "text", payload)
                        Py_INCREF(payload)
                        presult[0] = <PyObject*>payload
                        return PYGEN_RETURN
            Py_INCREF(value)
            res = <PyObject*>value
        elif status == PYGEN_RETURN:  # a send completed; its result is not the op's
            value = <object>res
            Py_DECREF(value)
            Py_INCREF(None)
            presult[0] = <PyObject*>None
            return PYGEN_RETURN
        return self._drive(status, res, presult)

    def __await__(self):
        return self

    def __next__(self):
        return self.send(None)

    def send(self, value):
        """Resume the operation with ``value`` (the coroutine protocol, PEP 492).

        Returns:
            What the server's awaitable yields to the event loop.

        Raises:
            StopIteration: the operation completed; ``.value`` is its result.
        """
        cdef PyObject* res = NULL
        cdef PySendResult status = _op_am_send(<PyObject*>self, <PyObject*>value, &res)
        out = <object>res
        Py_DECREF(out)
        if status == PYGEN_NEXT:
            return out
        raise StopIteration(out)

    def throw(self, typ, val=None, tb=None):
        """Raise an exception inside the server call in progress (how asyncio cancels a task).

        Returns:
            What the server's awaitable yields next, if it handled the exception.

        Raises:
            The thrown exception, or what the operation raises, or ``StopIteration`` when it
            completed.
        """
        cdef PyObject* res = NULL
        cdef PySendResult status
        inner = self.inner
        if inner is None:
            self.started = True
            if self.owner is not None:
                self.owner.finished = True
            if val is None:
                raise typ
            raise val.with_traceback(tb) if tb is not None else val
        try:
            yielded = inner.throw(typ) if val is None and tb is None else inner.throw(typ, val, tb)
        except StopIteration as stop:
            value = stop.value
        except BaseException as exc:
            self.inner = None
            if self.owner is not None:
                self.owner.finished = True
            if self.wrap and isinstance(exc, OSError):
                self.ws._application = DISCONNECTED
                error = self.ws._error("send_failed", 1006)
                if error is exc:  # the dialect lets the OSError through
                    raise
                raise error from exc
            raise
        else:
            return yielded
        Py_INCREF(value)
        try:
            status = self._drive(PYGEN_RETURN, <PyObject*>value, &res)
        except BaseException:
            if self.owner is not None:
                self.owner.finished = True
            raise
        out = <object>res
        Py_DECREF(out)
        if status == PYGEN_NEXT:
            return out
        raise StopIteration(out)

    def close(self):
        """Close the server call in progress, if any; the operation cannot be resumed after."""
        inner = self.inner
        self.inner = None
        self.started = True
        if inner is not None and hasattr(inner, "close"):
            inner.close()

    @property
    def cr_running(self):
        """bool: always False: on an event loop, other code only ever sees the operation between
        two steps (waiting, or finished)."""
        return False

    @property
    def cr_suspended(self):
        """bool: the operation is waiting on the server's awaitable."""
        return self.inner is not None

    @property
    def cr_await(self):
        """The server awaitable being awaited, or ``None``."""
        return self.inner

    @property
    def cr_frame(self):
        """``None`` once the operation finished (as for a closed coroutine), else the operation."""
        if self.started and self.inner is None:
            return None
        return self

    @property
    def cr_code(self):
        """None: the operation is compiled and has no code object."""
        return None


cdef PySendResult _op_am_send(PyObject* op, PyObject* arg, PyObject** presult) except PYGEN_ERROR:
    cdef _Op self = <_Op>op
    if self.owner is None:
        return self._step(arg, presult)
    try:
        return self._step(arg, presult)
    except BaseException:
        self.owner.finished = True
        raise


cdef PyObject* _op_am_await(PyObject* op) noexcept:
    # `await op` iterates the op itself; the C slot spares the Python-level __await__ call.
    Py_INCREF(<object>op)
    return op


(<PyTypeObjectAsync*>_Op).tp_as_async.am_send = _op_am_send
(<PyTypeObjectAsync*>_Op).tp_as_async.am_await = _op_am_await
Coroutine.register(_Op)


cdef inline _Iter _new_iter(WebSocket ws, int kind):
    cdef _Iter it = _Iter.__new__(_Iter)
    it.ws = ws
    it.kind = kind
    return it


@cython.final
cdef class _Iter:
    """The async iterator ``iter_text()``/``iter_bytes()``/``iter_json()`` return: each step
    receives one message; a ``websocket.disconnect`` ends the iteration (Starlette 1.10)."""

    cdef WebSocket ws
    cdef int kind
    cdef public bint finished

    def __aiter__(self):
        return self

    def __anext__(self):
        if self.finished:
            raise StopAsyncIteration
        cdef _Op op = _new_op(self.ws, self.kind)
        op.owner = self
        return op

    async def aclose(self):
        """End the iteration; later steps raise ``StopAsyncIteration``."""
        self.finished = True
