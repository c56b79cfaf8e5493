# cython: language_level=3
"""The WebSocket connection class: the compiled twin of ``_websocket_py.py``.

The API, state machine, errors and messages are those of ``starlette.websockets.WebSocket``
1.10.0 (the Starlette seed doc and its source); see ``fastws.websockets`` for the public docs.
Both states are C integers behind ``client_state``/``application_state`` properties that speak
``WebSocketState``; every method awaits the server's ``receive``/``send`` directly, never through
another coroutine of this class, so one message costs one (compiled) coroutine.
"""

from collections.abc import KeysView, ItemsView, Mapping, ValuesView
from types import GenericAlias

from fastws import _connection
from fastws._codec_c import decode_json_bytes, decode_json_text, encode_json_bytes, encode_json_text
from fastws._datastructures_c import Headers, QueryParams, parse_cookie, url_from_scope
from fastws._types import UnexpectedMessageType, WebSocketDisconnect, WebSocketDisconnected, WebSocketState
from fastws._url import URL, Address, State, base_url_scope

__all__ = ["WebSocket"]

cdef enum:
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3

# WebSocketState members by their value, so that a C state maps to the enum by indexing.
cdef tuple _STATES = (
    WebSocketState.CONNECTING,
    WebSocketState.CONNECTED,
    WebSocketState.DISCONNECTED,
    WebSocketState.RESPONSE,
)

cdef str _NOT_ACCEPTED = 'WebSocket is not connected. Need to call "accept" first.'
cdef str _RECEIVE_AFTER_DISCONNECT = 'Cannot call "receive" once a disconnect message has been received.'
cdef str _SEND_AFTER_CLOSE = 'Cannot call "send" once a close message has been sent.'
cdef str _BAD_MODE = 'The "mode" argument should be "text" or "binary".'


cdef inline object _get(object message, str key):
    # message.get(key), with the common case (a dict) done in C.
    if type(message) is dict:
        return (<dict>message).get(key)
    return message.get(key)


cdef int _state_value(object state) except -1:
    if not isinstance(state, WebSocketState):
        raise TypeError(f"Expected a WebSocketState, got {state!r}")
    return state.value


cdef class WebSocket:
    """An ASGI WebSocket connection (see ``fastws.websockets.WebSocket`` for the full docs)."""

    cdef public object scope
    cdef public object _receive
    cdef public object _send
    cdef int _client
    cdef int _application
    cdef object _url
    cdef object _headers
    cdef object _query_params
    cdef object _cookies
    cdef object _state
    cdef dict __dict__
    cdef object __weakref__

    __class_getitem__ = classmethod(GenericAlias)

    def __init__(self, scope, receive=None, send=None):
        assert scope["type"] == "websocket", f"Expected an ASGI scope of type 'websocket', got {scope['type']!r}"
        self.scope = scope
        self._receive = receive
        self._send = send
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
        return KeysView(self)

    def items(self):
        return ItemsView(self)

    def values(self):
        return ValuesView(self)

    def get(self, key, default=None):
        try:
            return self.scope[key]
        except KeyError:
            return default

    # -- states -----------------------------------------------------------------------------------
    @property
    def client_state(self):
        return _STATES[self._client]

    @client_state.setter
    def client_state(self, value):
        self._client = _state_value(value)

    @property
    def application_state(self):
        return _STATES[self._application]

    @application_state.setter
    def application_state(self, value):
        self._application = _state_value(value)

    # -- connection info ------------------------------------------------------------------------
    @property
    def app(self):
        return self.scope["app"]

    @property
    def url(self):
        if self._url is None:
            self._url = URL(url_from_scope(self.scope))
        return self._url

    @property
    def base_url(self):
        return URL(url_from_scope(base_url_scope(self.scope)))

    @property
    def headers(self):
        if self._headers is None:
            self._headers = Headers(scope=self.scope)
        return self._headers

    @property
    def query_params(self):
        if self._query_params is None:
            self._query_params = QueryParams(self.scope["query_string"])
        return self._query_params

    @property
    def path_params(self):
        return self.scope.get("path_params", {})

    @property
    def cookies(self):
        cdef dict cookies
        if self._cookies is None:
            cookies = {}
            for header in self.headers.getlist("cookie"):
                cookies.update(parse_cookie(header))
            self._cookies = cookies
        return self._cookies

    @property
    def client(self):
        host_port = self.scope.get("client")
        if host_port is not None:
            return Address(*host_port)
        return None

    @property
    def state(self):
        if self._state is None:
            self.scope.setdefault("state", {})
            self._state = State(self.scope["state"])
        return self._state

    @property
    def session(self):
        return _connection.session(self.scope)

    @property
    def auth(self):
        assert "auth" in self.scope, "AuthenticationMiddleware must be installed to access request.auth"
        return self.scope["auth"]

    @property
    def user(self):
        assert "user" in self.scope, "AuthenticationMiddleware must be installed to access request.user"
        return self.scope["user"]

    def url_for(self, name, /, **path_params):
        return _connection.url_for(self, name, **path_params)

    # -- the state machine ------------------------------------------------------------------------
    cdef int _receivable(self) except -1:
        # The client state before awaiting a typed receive; raises what Starlette raises.
        if self._application != CONNECTED:
            raise WebSocketDisconnected(_NOT_ACCEPTED)
        if self._client == DISCONNECTED:
            raise WebSocketDisconnected(_RECEIVE_AFTER_DISCONNECT)
        return self._client

    cdef object _after_receive(self, object message, int state, bint raise_disconnect):
        # Checks an event the server delivered while the client was in `state` and moves the
        # client state on; a disconnect is raised as WebSocketDisconnect when asked to.
        message_type = message["type"]
        if state == CONNECTING:
            if message_type != "websocket.connect":
                raise RuntimeError(f'Expected ASGI message "websocket.connect", but got {message_type!r}')
            self._client = CONNECTED
            return message
        if message_type == "websocket.receive":
            return message
        if message_type == "websocket.disconnect":
            self._client = DISCONNECTED
            if raise_disconnect:
                raise WebSocketDisconnect(message["code"], _get(message, "reason"))
            return message
        raise RuntimeError(
            f'Expected ASGI message "websocket.receive" or "websocket.disconnect", but got {message_type!r}'
        )

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
            raise RuntimeError(f'Expected ASGI message "websocket.send" or "websocket.close", but got {message_type!r}')
        if state == CONNECTING:
            if message_type == "websocket.accept":
                self._application = CONNECTED
            elif message_type == "websocket.close":
                self._application = DISCONNECTED
            elif message_type == "websocket.http.response.start":
                self._application = RESPONSE
            else:
                raise RuntimeError(
                    'Expected ASGI message "websocket.accept", "websocket.close" or '
                    f'"websocket.http.response.start", but got {message_type!r}'
                )
            return False
        if state == RESPONSE:
            if message_type != "websocket.http.response.body":
                raise RuntimeError(f'Expected ASGI message "websocket.http.response.body", but got {message_type!r}')
            if not message.get("more_body", False):
                self._application = DISCONNECTED
            return False
        raise WebSocketDisconnected(_SEND_AFTER_CLOSE)

    # -- raw events -------------------------------------------------------------------------------
    async def receive(self):
        cdef int state = self._client
        if state == DISCONNECTED:
            raise WebSocketDisconnected(_RECEIVE_AFTER_DISCONNECT)
        return self._after_receive(await self._receive(), state, False)

    async def send(self, message):
        if self._before_send(message["type"], message):
            try:
                await self._send(message)
            except OSError:
                self._application = DISCONNECTED
                raise WebSocketDisconnect(code=1006)
        else:
            await self._send(message)

    # -- handshake and close ----------------------------------------------------------------------
    async def accept(self, subprotocol=None, headers=None):
        headers = headers or []
        cdef int state = self._client
        if state == CONNECTING:
            # If we haven't yet seen the 'connect' message, then wait for it first.
            self._after_receive(await self._receive(), state, False)
        self._before_send("websocket.accept", None)
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": headers})

    async def close(self, code=1000, reason=None):
        message = {"type": "websocket.close", "code": code, "reason": reason or ""}
        if self._before_send("websocket.close", message):
            try:
                await self._send(message)
            except OSError:
                self._application = DISCONNECTED
                raise WebSocketDisconnect(code=1006)
        else:
            await self._send(message)

    async def send_denial_response(self, response):
        await _connection.send_denial_response(self, response)

    send_response = send_denial_response

    # -- typed receive ----------------------------------------------------------------------------
    async def receive_text(self):
        cdef int state = self._receivable()
        message = self._after_receive(await self._receive(), state, True)
        text = _get(message, "text")
        if text is None:
            raise UnexpectedMessageType("text", message)
        return text

    async def receive_bytes(self):
        cdef int state = self._receivable()
        message = self._after_receive(await self._receive(), state, True)
        data = _get(message, "bytes")
        if data is None:
            raise UnexpectedMessageType("bytes", message)
        return data

    async def receive_json(self, mode="text"):
        if mode != "text" and mode != "binary":
            raise RuntimeError(_BAD_MODE)
        cdef int state = self._receivable()
        message = self._after_receive(await self._receive(), state, True)
        if mode == "text":
            text = _get(message, "text")
            if text is None:
                raise UnexpectedMessageType("text", message)
            return decode_json_text(text)
        data = _get(message, "bytes")
        if data is None:
            raise UnexpectedMessageType("bytes", message)
        return decode_json_bytes(data)

    async def iter_text(self):
        cdef int state
        while True:
            state = self._receivable()
            try:
                message = self._after_receive(await self._receive(), state, True)
            except WebSocketDisconnect:
                return
            text = _get(message, "text")
            if text is None:
                raise UnexpectedMessageType("text", message)
            yield text

    async def iter_bytes(self):
        cdef int state
        while True:
            state = self._receivable()
            try:
                message = self._after_receive(await self._receive(), state, True)
            except WebSocketDisconnect:
                return
            data = _get(message, "bytes")
            if data is None:
                raise UnexpectedMessageType("bytes", message)
            yield data

    async def iter_json(self):
        cdef int state
        while True:
            state = self._receivable()
            try:
                message = self._after_receive(await self._receive(), state, True)
            except WebSocketDisconnect:
                return
            text = _get(message, "text")
            if text is None:
                raise UnexpectedMessageType("text", message)
            yield decode_json_text(text)

    # -- typed send -------------------------------------------------------------------------------
    async def send_text(self, data):
        self._before_send("websocket.send", None)
        try:
            await self._send({"type": "websocket.send", "text": data})
        except OSError:
            self._application = DISCONNECTED
            raise WebSocketDisconnect(code=1006)

    async def send_bytes(self, data):
        self._before_send("websocket.send", None)
        try:
            await self._send({"type": "websocket.send", "bytes": data})
        except OSError:
            self._application = DISCONNECTED
            raise WebSocketDisconnect(code=1006)

    async def send_json(self, data, mode="text"):
        if mode == "text":
            message = {"type": "websocket.send", "text": encode_json_text(data)}
        elif mode == "binary":
            message = {"type": "websocket.send", "bytes": encode_json_bytes(data)}
        else:
            raise RuntimeError(_BAD_MODE)
        self._before_send("websocket.send", None)
        try:
            await self._send(message)
        except OSError:
            self._application = DISCONNECTED
            raise WebSocketDisconnect(code=1006)


Mapping.register(WebSocket)
