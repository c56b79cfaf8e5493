"""The Yaat dialect: ``yaat.websockets.WebSocket`` (0.1.10) on fastws's compiled core.

What Yaat's class does differently from Starlette's, and this dialect reproduces:

* states: ``yaat.websockets.WebSocketStates`` (CONNECTING, CONNECTED, DISCONNECTED) in
  ``client_state`` and ``server_state`` (Yaat's name for ``application_state``; both work);
* ``accept(subprotocol=None)`` sends no ``headers`` key; ``close(code=1000)`` sends no ``reason``
  (close codes as ``WebSocketCloseEvent`` constants);
* ``send_json(data, mode="text")``/``receive_json(mode="text")``: JSON mode ``"text"`` or
  ``"bytes"`` (not ``"binary"``); ``send_json`` formats with ``json.dumps`` defaults
  (``'{"a": 1}'``, ASCII-escaped);
* errors: ``AssertionError`` for protocol misuse and a bad mode, ``yaat.exceptions.WebSocketException``
  (a ``RuntimeError``) for receive/send after disconnect/close, ``yaat.websockets.WebSocketDisconnect``
  with ``.code`` only; a failing server ``send`` raises its ``OSError``.

* connection info (``url``, ``headers``, ``query_params``, ``cookies``, ``client``) is built with
  Yaat's own ``yaat.components`` classes, as Yaat's ``HTTPConnection`` builds it.

Yaat's known bug, and the choice made here: Yaat 0.1.10 assigns ``self.cleint_state`` on a
``websocket.disconnect`` (a typo), so its ``client_state`` never reaches DISCONNECTED and a receive
after a disconnect awaits the server again. This dialect follows Yaat's documented intent: the
client state becomes DISCONNECTED, and a later receive raises ``WebSocketException("Cannot
'receive' when disconnected")`` (Yaat's own message for that state).

Without Yaat installed, fastws's look-alikes of the same names are used.

Source: Yaat 0.1.10 documentation, "WebSockets" page, and ``yaat/websockets.py``, ``yaat/constants.py`` 0.1.10.
"""

from __future__ import annotations

import enum
import http.cookies
import json
import sys
from typing import Any

from fastws.dialects._support import cached_build, import_optional, replace_everywhere
from fastws.protocol.close import CloseCode
from fastws.websocket import _core as _websocket
from fastws.websocket import _errors, _state

__all__ = [
    "WebSocket",
    "WebSocketCloseEvent",
    "WebSocketDisconnect",
    "WebSocketException",
    "WebSocketStates",
    "build",
    "install",
]

_yaat_websockets = import_optional("yaat.websockets")

_yaat_components: Any = None
if _yaat_websockets is not None:
    WebSocketCloseEvent: Any = import_optional("yaat.constants").WebSocketCloseEvent
    WebSocketException: Any = import_optional("yaat.exceptions").WebSocketException
    _yaat_components = import_optional("yaat.components")

    WebSocketStates: Any = _yaat_websockets.WebSocketStates
    WebSocketDisconnect: Any = _yaat_websockets.WebSocketDisconnect
    _ORIGINAL: Any = _yaat_websockets.WebSocket
else:  # Yaat is not installed: look-alikes
    _ORIGINAL = None

    class WebSocketStates(enum.Enum):  # type: ignore[no-redef]
        """State of one side of the connection (``yaat.websockets.WebSocketStates``)."""

        CONNECTING = 0
        CONNECTED = 1
        DISCONNECTED = 2

    # Close codes by name (``yaat.constants.WebSocketCloseEvent``, plain int attributes): the names
    # of fastws.CloseCode's members (its RFC-spelling aliases aside), not a second vocabulary.
    WebSocketCloseEvent = type(
        "WebSocketCloseEvent",
        (),
        {
            "__doc__": "Close codes by name (``yaat.constants.WebSocketCloseEvent``; RFC 6455 section 7.4.1).",
            **{member.name: int(member) for member in CloseCode},
        },
    )

    class WebSocketException(RuntimeError):  # type: ignore[no-redef]
        """Receive or send on a disconnected WebSocket (``yaat.exceptions.WebSocketException``).

        Args:
            message (str): what happened; ``str(exc)`` is it.
        """

        def __init__(self, message: str) -> None:
            self.message = message

        def __str__(self) -> str:
            return self.message

    class WebSocketDisconnect(Exception):  # type: ignore[no-redef]
        """The client disconnected (``yaat.websockets.WebSocketDisconnect``).

        Args:
            code (int): the close code; default 1000.
        """

        def __init__(self, code: int = 1000) -> None:
            self.code = code

        def __str__(self) -> str:
            return f"WebSocket Disconnected with ({self.code!r})"


# Yaat has no RESPONSE state; fastws's is reported while a denial response is being sent (an
# extension fastws supports and Yaat does not).
_STATES = (
    WebSocketStates.CONNECTING,
    WebSocketStates.CONNECTED,
    WebSocketStates.DISCONNECTED,
    _state.WebSocketState.RESPONSE,
)


def _error(kind: str, detail: Any = None, reason: Any = None) -> BaseException:
    # Yaat's classes and messages (yaat/websockets.py 0.1.10): its checks are `assert`s.
    if kind == "disconnect":
        return WebSocketDisconnect(detail)
    if kind == "send_failed":
        return sys.exc_info()[1] or WebSocketDisconnect(detail)  # the OSError, as Yaat lets it through
    if kind == "receive_after_disconnect":
        return WebSocketException("Cannot 'receive' when disconnected")
    if kind == "send_after_close":
        return WebSocketException("Cannot 'send' when disconnected")
    if kind == "bad_event":
        return _errors.starlette_error(kind, detail, reason)  # a malformed server event: fastws's RuntimeError
    return AssertionError()


async def _raise(exc: BaseException) -> Any:
    raise exc


_MODES = {"text": "text", "bytes": "binary"}


@cached_build
def build(base: Any) -> Any:
    """The Yaat dialect class over one core class.

    Args:
        base (type): ``fastws.websocket._core_c.WebSocket`` or ``fastws.websocket._core_py.WebSocket``.

    Returns:
        type: a subclass of ``base`` named ``WebSocket`` (one per base).
    """
    base_receive = base.receive
    base_send = base.send
    base_send_text = base.send_text
    base_send_bytes = base.send_bytes
    base_receive_json = base.receive_json

    class WebSocket(base):
        """``yaat.websockets.WebSocket`` (0.1.10) on fastws's core: ``WebSocket(scope, receive, send)``.

        ``client_state``/``server_state`` are ``WebSocketStates`` members; ``accept(subprotocol)``,
        ``close(code)``, ``send_text``/``send_bytes``, ``send_json(data, mode)`` and
        ``receive_text``/``receive_bytes``/``receive_json(mode)`` with JSON modes ``"text"`` and
        ``"bytes"``; raw ``receive``/``send``. fastws's ``iter_*`` methods are available too.

        Raises (as Yaat): ``AssertionError`` (not accepted, wrong event type, bad mode),
        ``WebSocketException`` (receive/send after disconnect/close), ``WebSocketDisconnect``
        (``.code``) when the client disconnects, the server's ``OSError`` when a send fails.

        Source: Yaat 0.1.10 documentation, "WebSockets" page; ``yaat/websockets.py`` 0.1.10.
        """

        _fastws_states = _STATES
        _fastws_error = staticmethod(_error)

        if _yaat_components is not None:
            # Connection info as Yaat's HTTPConnection builds it (yaat/requests.py 0.1.10), with
            # Yaat's own classes: a repeated query key gives a list, a repeated header its last
            # value, and the URL has Yaat's members (is_secure() called, host, server, url).

            @property
            def url(self) -> Any:
                """yaat.components.URL: the connection's URL (``str(url)``, ``url.scheme``, ``url.host``,
                ``url.port``, ``url.server``, ``url.path``, ``url.query``, ``url.url``,
                ``url.is_secure()``), built once as Yaat builds it.

                Raises:
                    KeyError: the scope has no ``path`` or ``headers``, as in Yaat.
                """
                url = self.__dict__.get("_yaat_url")
                if url is None:
                    url = self.__dict__["_yaat_url"] = _yaat_components.URL(scope=self.scope)
                return url

            @property
            def headers(self) -> Any:
                """yaat.components.Headers: the handshake headers as a dict of latin-1 strings (a
                repeated header keeps its last value), built once as Yaat builds it."""
                headers = self.__dict__.get("_yaat_headers")
                if headers is None:
                    headers = self.__dict__["_yaat_headers"] = _yaat_components.Headers(self.scope["headers"])
                return headers

            @property
            def query_params(self) -> Any:
                """yaat.components.QueryParams: the query string as a dict (a repeated key gives the
                list of its values, blank values kept), built once as Yaat builds it."""
                params = self.__dict__.get("_yaat_query_params")
                if params is None:
                    params = self.__dict__["_yaat_query_params"] = _yaat_components.QueryParams(
                        self.scope["query_string"]
                    )
                return params

            @property
            def cookies(self) -> dict[str, str]:
                """dict[str, str]: the ``Cookie`` header parsed by ``http.cookies.SimpleCookie``, as Yaat."""
                cookies = self.__dict__.get("_yaat_cookies")
                if cookies is None:
                    cookies = {}
                    raw = self.headers.get("cookie")
                    if raw:
                        cookie = http.cookies.SimpleCookie()
                        cookie.load(raw)
                        for key, morsel in cookie.items():
                            cookies[key] = morsel.value
                    self.__dict__["_yaat_cookies"] = cookies
                return cookies

            @property
            def client(self) -> Any:
                """yaat.components.Address | None: the client's address, ``None`` when unknown."""
                host, port = self.scope.get("client") or (None, None)
                return _yaat_components.Address(host, port) if host else None

        @property
        def path(self) -> str:
            """str: the request path (``scope["path"]``), as Yaat's ``HTTPConnection.path``."""
            return self.scope["path"]

        @property
        def method(self) -> str:
            """str: ``scope["method"]``, as Yaat's ``HTTPConnection.method`` (a WebSocket scope has none).

            Raises:
                KeyError: always for a WebSocket scope, as in Yaat.
            """
            return self.scope["method"]

        @property
        def server_state(self) -> Any:
            """WebSocketStates: the application side (Yaat's name for ``application_state``)."""
            return self.application_state

        @server_state.setter
        def server_state(self, value: Any) -> None:
            self.application_state = value

        async def accept(self, subprotocol: str | None = None) -> None:
            """Accept the connection, receiving ``websocket.connect`` first if it has not been.

            Args:
                subprotocol (str | None): the chosen subprotocol (RFC 6455 section 4.2.2).

            Raises:
                AssertionError: the first event is not ``websocket.connect``, or already accepted.
                WebSocketException: the connection was already closed.
            """
            if self.client_state is WebSocketStates.CONNECTING:
                await base_receive(self)
            await base_send(self, {"type": "websocket.accept", "subprotocol": subprotocol})

        def close(self, code: int = 1000) -> Any:
            """Close the connection (before accept: reject the handshake, HTTP 403).

            Args:
                code (int): the close code (``WebSocketCloseEvent``); default 1000. No reason is sent.

            Raises:
                WebSocketException: the connection was already closed.
            """
            return base_send(self, {"type": "websocket.close", "code": code})

        def send_json(self, data: Any, mode: str = "text") -> Any:
            """Send ``json.dumps(data)`` (Yaat's formatting: ``", "``/``": "`` separators, ASCII).

            Args:
                data: any value ``json.dumps`` accepts.
                mode (str): ``"text"`` (default) or ``"bytes"`` (UTF-8 in a binary message).

            Raises:
                AssertionError: ``mode`` is neither, or the state forbids sending.
                TypeError: ``data`` is not JSON serialisable (raised when called).
                WebSocketException: the connection was already closed.
            """
            if mode == "text":
                return base_send_text(self, json.dumps(data))
            if mode == "bytes":
                return base_send_bytes(self, json.dumps(data).encode("utf-8"))
            return _raise(AssertionError())

        def receive_json(self, mode: str = "text") -> Any:
            """Receive one message and parse it as JSON.

            Args:
                mode (str): ``"text"`` (default) or ``"bytes"`` (UTF-8 JSON in a binary message).

            Returns:
                The parsed value, as ``json.loads`` returns it.

            Raises:
                AssertionError: ``mode`` is neither, or not accepted.
                WebSocketDisconnect: the client disconnected (``.code``).
                WebSocketException: a disconnect was already received.
                json.JSONDecodeError: the message is not JSON.
                KeyError: the message is of the other kind.
            """
            core_mode = _MODES.get(mode) if type(mode) is str else None
            if core_mode is None:
                return _raise(AssertionError())
            return base_receive_json(self, core_mode)

    WebSocket.__module__ = __name__
    WebSocket.__qualname__ = "WebSocket"
    return WebSocket


WebSocket: Any = build(_websocket.WebSocket)

_MODULES = ("yaat.websockets", "yaat.middleware.base", "yaat.middleware.exception", "yaat.app")


def install() -> list[str]:
    """Make Yaat build fastws's ``WebSocket`` everywhere it builds one.

    Imports Yaat's modules that build WebSocket objects (``yaat.app``, its middleware base and
    exception middleware), then rebinds every ``WebSocket`` global in ``yaat.*`` that is
    ``yaat.websockets.WebSocket``. Call it once, before the app is imported. Idempotent (a second
    call returns ``[]``).

    Limits: modules outside ``yaat`` that imported the class before the call keep it.

    Returns:
        list[str]: the ``"module.name"`` globals rebound by this call.

    Raises:
        ImportError: Yaat is not installed.
    """
    if _ORIGINAL is None:
        raise ImportError("fastws.dialects.yaat.install() needs Yaat installed")
    for name in _MODULES:
        import_optional(name)
    return replace_everywhere(("yaat",), _ORIGINAL, WebSocket, ("WebSocket",))
