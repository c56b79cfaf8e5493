"""The WebSocket connection class: the pure-Python twin of ``_websocket_c.pyx``.

The API, state machine, errors and messages are those of ``starlette.websockets.WebSocket``
1.10.0 (the Starlette seed doc and its source); see ``fastws.websockets`` for the public docs.
Every method awaits the server's ``receive``/``send`` directly, never through another coroutine of
this class, so one message costs one coroutine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from fastws import _connection
from fastws._codec_py import decode_json_bytes, decode_json_text, encode_json_bytes, encode_json_text
from fastws._datastructures_py import Headers, QueryParams, parse_cookie, url_from_scope
from fastws._types import UnexpectedMessageType, WebSocketDisconnect, WebSocketDisconnected, WebSocketState
from fastws._url import URL, Address, State, base_url_scope

__all__ = ["WebSocket"]

StateT = TypeVar("StateT")

_CONNECTING = WebSocketState.CONNECTING
_CONNECTED = WebSocketState.CONNECTED
_DISCONNECTED = WebSocketState.DISCONNECTED
_RESPONSE = WebSocketState.RESPONSE

_NOT_ACCEPTED = 'WebSocket is not connected. Need to call "accept" first.'
_RECEIVE_AFTER_DISCONNECT = 'Cannot call "receive" once a disconnect message has been received.'
_SEND_AFTER_CLOSE = 'Cannot call "send" once a close message has been sent.'
_BAD_MODE = 'The "mode" argument should be "text" or "binary".'


class WebSocket(Mapping[str, Any], Generic[StateT]):
    """An ASGI WebSocket connection (see ``fastws.websockets.WebSocket`` for the full docs)."""

    def __init__(self, scope: Any, receive: Any = None, send: Any = None) -> None:
        assert scope["type"] == "websocket", f"Expected an ASGI scope of type 'websocket', got {scope['type']!r}"
        self.scope = scope
        self._receive = receive
        self._send = send
        self.client_state = _CONNECTING
        self.application_state = _CONNECTING
        self._url: URL | None = None
        self._headers: Headers | None = None
        self._query_params: QueryParams | None = None
        self._cookies: dict[str, str] | None = None
        self._state: State | None = None

    # -- mapping over the scope; identity equality (starlette.requests.HTTPConnection) --------
    def __getitem__(self, key: str) -> Any:
        return self.scope[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scope)

    def __len__(self) -> int:
        return len(self.scope)

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    # -- connection info ------------------------------------------------------------------------
    @property
    def app(self) -> Any:
        return self.scope["app"]

    @property
    def url(self) -> URL:
        if self._url is None:
            self._url = URL(url_from_scope(self.scope))
        return self._url

    @property
    def base_url(self) -> URL:
        return URL(url_from_scope(base_url_scope(self.scope)))

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(scope=self.scope)
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        if self._query_params is None:
            self._query_params = QueryParams(self.scope["query_string"])
        return self._query_params

    @property
    def path_params(self) -> dict[str, Any]:
        return self.scope.get("path_params", {})  # type: ignore[no-any-return]

    @property
    def cookies(self) -> dict[str, str]:
        if self._cookies is None:
            cookies: dict[str, str] = {}
            for header in self.headers.getlist("cookie"):
                cookies.update(parse_cookie(header))
            self._cookies = cookies
        return self._cookies

    @property
    def client(self) -> Address | None:
        host_port = self.scope.get("client")
        if host_port is not None:
            return Address(*host_port)
        return None

    @property
    def state(self) -> State:
        if self._state is None:
            self.scope.setdefault("state", {})
            self._state = State(self.scope["state"])
        return self._state

    @property
    def session(self) -> Any:
        return _connection.session(self.scope)

    @property
    def auth(self) -> Any:
        assert "auth" in self.scope, "AuthenticationMiddleware must be installed to access request.auth"
        return self.scope["auth"]

    @property
    def user(self) -> Any:
        assert "user" in self.scope, "AuthenticationMiddleware must be installed to access request.user"
        return self.scope["user"]

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        return _connection.url_for(self, name, **path_params)

    # -- the state machine ------------------------------------------------------------------------
    def _receivable(self) -> WebSocketState:
        # The client state before awaiting a typed receive; raises what Starlette raises.
        if self.application_state is not _CONNECTED:
            raise WebSocketDisconnected(_NOT_ACCEPTED)
        state = self.client_state
        if state is _DISCONNECTED:
            raise WebSocketDisconnected(_RECEIVE_AFTER_DISCONNECT)
        return state

    def _after_receive(self, message: Any, state: WebSocketState, raise_disconnect: bool) -> Any:
        # Checks an event the server delivered while the client was in `state` and moves the
        # client state on; a disconnect is raised as WebSocketDisconnect when asked to.
        message_type = message["type"]
        if state is _CONNECTING:
            if message_type != "websocket.connect":
                raise RuntimeError(f'Expected ASGI message "websocket.connect", but got {message_type!r}')
            self.client_state = _CONNECTED
            return message
        if message_type == "websocket.receive":
            return message
        if message_type == "websocket.disconnect":
            self.client_state = _DISCONNECTED
            if raise_disconnect:
                raise WebSocketDisconnect(message["code"], message.get("reason"))
            return message
        raise RuntimeError(
            f'Expected ASGI message "websocket.receive" or "websocket.disconnect", but got {message_type!r}'
        )

    def _before_send(self, message_type: Any, message: Any) -> bool:
        # Checks an event the app is about to send and moves the application state on. Returns
        # True when the connection is open, where a failing send means the client is gone.
        state = self.application_state
        if state is _CONNECTED:
            if message_type == "websocket.send":
                return True
            if message_type == "websocket.close":
                self.application_state = _DISCONNECTED
                return True
            raise RuntimeError(f'Expected ASGI message "websocket.send" or "websocket.close", but got {message_type!r}')
        if state is _CONNECTING:
            if message_type == "websocket.accept":
                self.application_state = _CONNECTED
            elif message_type == "websocket.close":
                self.application_state = _DISCONNECTED
            elif message_type == "websocket.http.response.start":
                self.application_state = _RESPONSE
            else:
                raise RuntimeError(
                    'Expected ASGI message "websocket.accept", "websocket.close" or '
                    f'"websocket.http.response.start", but got {message_type!r}'
                )
            return False
        if state is _RESPONSE:
            if message_type != "websocket.http.response.body":
                raise RuntimeError(f'Expected ASGI message "websocket.http.response.body", but got {message_type!r}')
            if not message.get("more_body", False):
                self.application_state = _DISCONNECTED
            return False
        raise WebSocketDisconnected(_SEND_AFTER_CLOSE)

    # -- raw events -------------------------------------------------------------------------------
    async def receive(self) -> Any:
        state = self.client_state
        if state is _DISCONNECTED:
            raise WebSocketDisconnected(_RECEIVE_AFTER_DISCONNECT)
        return self._after_receive(await self._receive(), state, False)

    async def send(self, message: Any) -> None:
        if self._before_send(message["type"], message):
            try:
                await self._send(message)
            except OSError:
                self.application_state = _DISCONNECTED
                raise WebSocketDisconnect(code=1006)
        else:
            await self._send(message)

    # -- handshake and close ----------------------------------------------------------------------
    async def accept(self, subprotocol: str | None = None, headers: Iterable[tuple[bytes, bytes]] | None = None) -> None:
        headers = headers or []
        state = self.client_state
        if state is _CONNECTING:
            # If we haven't yet seen the 'connect' message, then wait for it first.
            self._after_receive(await self._receive(), state, False)
        self._before_send("websocket.accept", None)
        await self._send({"type": "websocket.accept", "subprotocol": subprotocol, "headers": headers})

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        message = {"type": "websocket.close", "code": code, "reason": reason or ""}
        if self._before_send("websocket.close", message):
            try:
                await self._send(message)
            except OSError:
                self.application_state = _DISCONNECTED
                raise WebSocketDisconnect(code=1006)
        else:
            await self._send(message)

    async def send_denial_response(self, response: Any) -> None:
        await _connection.send_denial_response(self, response)

    send_response = send_denial_response

    # -- typed receive ----------------------------------------------------------------------------
    async def receive_text(self) -> str:
        state = self._receivable()
        message = self._after_receive(await self._receive(), state, True)
        text = message.get("text")
        if text is None:
            raise UnexpectedMessageType("text", message)
        return text  # type: ignore[no-any-return]

    async def receive_bytes(self) -> bytes:
        state = self._receivable()
        message = self._after_receive(await self._receive(), state, True)
        data = message.get("bytes")
        if data is None:
            raise UnexpectedMessageType("bytes", message)
        return data  # type: ignore[no-any-return]

    async def receive_json(self, mode: str = "text") -> Any:
        if mode != "text" and mode != "binary":
            raise RuntimeError(_BAD_MODE)
        state = self._receivable()
        message = self._after_receive(await self._receive(), state, True)
        if mode == "text":
            text = message.get("text")
            if text is None:
                raise UnexpectedMessageType("text", message)
            return decode_json_text(text)
        data = message.get("bytes")
        if data is None:
            raise UnexpectedMessageType("bytes", message)
        return decode_json_bytes(data)

    async def iter_text(self) -> AsyncIterator[str]:
        while True:
            state = self._receivable()
            try:
                message = self._after_receive(await self._receive(), state, True)
            except WebSocketDisconnect:
                return
            text = message.get("text")
            if text is None:
                raise UnexpectedMessageType("text", message)
            yield text

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        while True:
            state = self._receivable()
            try:
                message = self._after_receive(await self._receive(), state, True)
            except WebSocketDisconnect:
                return
            data = message.get("bytes")
            if data is None:
                raise UnexpectedMessageType("bytes", message)
            yield data

    async def iter_json(self) -> AsyncIterator[Any]:
        while True:
            state = self._receivable()
            try:
                message = self._after_receive(await self._receive(), state, True)
            except WebSocketDisconnect:
                return
            text = message.get("text")
            if text is None:
                raise UnexpectedMessageType("text", message)
            yield decode_json_text(text)

    # -- typed send -------------------------------------------------------------------------------
    async def send_text(self, data: str) -> None:
        self._before_send("websocket.send", None)
        try:
            await self._send({"type": "websocket.send", "text": data})
        except OSError:
            self.application_state = _DISCONNECTED
            raise WebSocketDisconnect(code=1006)

    async def send_bytes(self, data: bytes) -> None:
        self._before_send("websocket.send", None)
        try:
            await self._send({"type": "websocket.send", "bytes": data})
        except OSError:
            self.application_state = _DISCONNECTED
            raise WebSocketDisconnect(code=1006)

    async def send_json(self, data: Any, mode: str = "text") -> None:
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
            self.application_state = _DISCONNECTED
            raise WebSocketDisconnect(code=1006)
