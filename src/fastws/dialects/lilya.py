"""The Lilya dialect: ``lilya.websockets.WebSocket`` (0.29.0) on fastws's compiled core.

Lilya's class is Starlette-shaped; what differs, and what this dialect reproduces:

* state: ``lilya.enums.WebSocketState``, an ``IntEnum`` with CONNECTING, CONNECTED, DISCONNECTED;
* errors: ``lilya.exceptions.WebSocketRuntimeError`` (a ``RuntimeError``) for every misuse, with
  Lilya's messages, and ``lilya.websockets.WebSocketDisconnect`` (``.code``, ``.reason``);
* a failing server ``send`` (``OSError``) propagates as it is, as in Lilya (Starlette turns it into
  ``WebSocketDisconnect(1006)``);
* ``headers``/``query_params`` are Lilya's multidicts (``lilya.datastructures.Header``/``QueryParam``);
* ``add_cleanup(fn)``: callbacks run (and awaited when they return an awaitable) after ``close()``;
* Lilya's ``Connection`` extras: ``app`` (``None`` when absent), ``server``, ``url``/``base_url``
  (Lilya's ``URL``), ``is_secure()``, ``path_for``/``url_path_for`` (``url_for`` is ``path_for``),
  ``set_session``/``clear_session``, ``is_server_push``/``is_server_pull``, and ``auth``/``user``/
  ``session`` raising ``lilya.exceptions.ImproperlyConfigured`` when their middleware is missing;
* ``send_denial_response`` raises ``RuntimeError`` when the server lacks the denial-response
  extension, as the Lilya docs say;
* ``close(code, reason)`` and ``accept(subprotocol)`` hand their arguments to the server unchecked.

Without Lilya installed, fastws's look-alikes of the same names are used (``WebSocketRuntimeError``,
``WebSocketDisconnect``, a three-member ``WebSocketState`` IntEnum) and fastws's own multidicts.

Source: Lilya 0.29 documentation, "WebSocket" page, and ``lilya/websockets.py`` 0.29.0.
"""

from __future__ import annotations

import enum
import inspect
import sys
from collections.abc import Callable, Iterable
from typing import Any

from fastws.datastructures._core import parse_cookie
from fastws.datastructures._url import URL as _FastwsURL
from fastws.datastructures._url import Address as _FastwsAddress
from fastws.dialects._support import cached_build, import_optional, replace_everywhere
from fastws.websocket import _connection, _errors, _state
from fastws.websocket import _core as _websocket

__all__ = [
    "ImproperlyConfigured",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketRuntimeError",
    "WebSocketState",
    "build",
    "install",
]

_lilya_websockets = import_optional("lilya.websockets")
_Header: Any
_QueryParam: Any
_Event: Any

if _lilya_websockets is not None:
    from lilya import datastructures as _lilya_datastructures
    from lilya import enums as _lilya_enums
    from lilya.enums import WebSocketState

    _Header = _lilya_datastructures.Header
    _QueryParam = _lilya_datastructures.QueryParam
    _Event = _lilya_enums.Event
    from lilya.exceptions import ImproperlyConfigured, WebSocketRuntimeError

    WebSocketDisconnect: Any = _lilya_websockets.WebSocketDisconnect
    _ORIGINAL: Any = _lilya_websockets.WebSocket
    _URL: Any = _lilya_datastructures.URL
else:  # Lilya is not installed: look-alikes
    _Header = _QueryParam = _Event = _URL = None
    _ORIGINAL = None

    class ImproperlyConfigured(ValueError):  # type: ignore[no-redef]
        """A middleware the connection needs is missing (``lilya.exceptions.ImproperlyConfigured``)."""

    class WebSocketState(enum.IntEnum):  # type: ignore[no-redef]
        """State of one side of the connection (``lilya.enums.WebSocketState``)."""

        CONNECTING = 0
        CONNECTED = 1
        DISCONNECTED = 2

    class WebSocketRuntimeError(RuntimeError):  # type: ignore[no-redef]
        """Misuse of a WebSocket (``lilya.exceptions.WebSocketRuntimeError``)."""

    class WebSocketDisconnect(Exception):  # type: ignore[no-redef]
        """The client disconnected (``lilya.websockets.WebSocketDisconnect``).

        Args:
            code (int): the close code; default 1000.
            reason (str | None): the reason; ``None`` is stored as ``""``.
        """

        def __init__(self, code: int = 1000, reason: str | None = None) -> None:
            self.code = code
            self.reason = reason or ""


# Lilya's Address (a private module at 0.29): fastws's, same fields, if it moves.
_Address: Any = getattr(import_optional("lilya._internal._message"), "Address", None) or _FastwsAddress

# Lilya has no RESPONSE state; fastws's is reported while a denial response is being sent (an
# extension fastws supports and Lilya 0.29's class does not).
_STATES = (
    WebSocketState.CONNECTING,
    WebSocketState.CONNECTED,
    WebSocketState.DISCONNECTED,
    _state.WebSocketState.RESPONSE,
)


def _event(message_type: Any) -> Any:
    # Lilya's send_text/bytes/json and close send `lilya.enums.Event` members, whose repr has no
    # quotes; fastws's send plain strings, so those two types are shown as Lilya's members would be
    # (a raw `send()` of the same plain string in the wrong state is shown unquoted too).
    if _Event is not None and type(message_type) is str and message_type in ("websocket.send", "websocket.close"):
        return _Event(message_type)
    return message_type


def _error(kind: str, detail: Any = None, reason: Any = None) -> BaseException:
    # Lilya's classes and messages (lilya/websockets.py 0.29.0).
    if kind == "expected_accept" or kind == "expected_send":
        detail = _event(detail)
    if kind == "disconnect":
        return WebSocketDisconnect(detail, reason)
    if kind == "send_failed":
        return sys.exc_info()[1] or WebSocketDisconnect(detail)  # the OSError, as Lilya lets it through
    if kind == "expected_receive":
        return WebSocketRuntimeError(
            f'Expected ASGI message websocket.receive or "websocket.disconnect", but got {detail!r}'
        )
    if kind == "expected_accept":
        return WebSocketRuntimeError(
            f'Expected ASGI message "websocket.accept" or "websocket.close", but got {detail!r}'
        )
    return WebSocketRuntimeError(*_errors.starlette_error(kind, detail, reason).args)


@cached_build
def build(base: Any) -> Any:
    """The Lilya dialect class over one core class.

    Args:
        base (type): ``fastws.websocket._core_c.WebSocket`` or ``fastws.websocket._core_py.WebSocket``.

    Returns:
        type: a subclass of ``base`` named ``WebSocket`` (one per base).
    """

    base_send = base.send

    class WebSocket(base):
        """``lilya.websockets.WebSocket`` (0.29.0) on fastws's core: ``WebSocket(scope, receive, send)``.

        Methods as Starlette's (``accept(subprotocol, headers)``, ``receive_text/bytes/json(mode)``,
        ``iter_text/bytes/json``, ``send_text/bytes/json(data, mode)``, ``close(code, reason)``, raw
        ``receive``/``send``), with Lilya's state enum (``lilya.enums.WebSocketState``), Lilya's errors
        (``WebSocketRuntimeError`` with Lilya's messages; ``WebSocketDisconnect`` with ``.code`` and
        ``.reason``; a failing server ``send`` raises its ``OSError``), Lilya's multidict
        ``headers``/``query_params`` and ``add_cleanup``.

        Source: Lilya 0.29 documentation, "WebSocket" page; ``lilya/websockets.py`` 0.29.0.
        """

        _fastws_states = _STATES
        _fastws_error = staticmethod(_error)
        # close(code, reason) hands them to the server unchecked, as Lilya does
        # (docs/dialects.md, "Close codes and subprotocols").
        _fastws_checks = False

        if _Header is not None:

            @property
            def headers(self) -> Any:
                """lilya.datastructures.Header: the handshake headers, Lilya's multidict, built once."""
                headers = self.__dict__.get("_lilya_headers")
                if headers is None:
                    headers = self.__dict__["_lilya_headers"] = _Header.ensure_header_instance(scope=self.scope)
                return headers

            @property
            def query_params(self) -> Any:
                """lilya.datastructures.QueryParam: the query string's parameters, Lilya's multidict."""
                params = self.__dict__.get("_lilya_query_params")
                if params is None:
                    params = self.__dict__["_lilya_query_params"] = _QueryParam(self.scope["query_string"])
                return params

            @property
            def cookies(self) -> dict[str, str]:
                """dict[str, str]: the cookies of every ``Cookie`` header, built once."""
                cookies = self.__dict__.get("_lilya_cookies")
                if cookies is None:
                    cookies = self.__dict__["_lilya_cookies"] = {}
                    for name, value in self.scope.get("headers", ()):
                        if name.lower() == b"cookie":
                            cookies.update(parse_cookie(value.decode("latin-1")))
                return cookies

        async def accept(
            self, subprotocol: str | None = None, headers: Iterable[tuple[bytes, bytes]] | None = None
        ) -> None:
            """Accept the connection, receiving ``websocket.connect`` first if it has not been.

            Args:
                subprotocol (str | None): the chosen subprotocol (RFC 6455 section 4.2.2).
                headers (Iterable[tuple[bytes, bytes]] | None): extra handshake response headers.

            Raises:
                AssertionError: the first event is not ``websocket.connect`` (Lilya's ``assert``).
                WebSocketRuntimeError: already accepted, or already closed.
            """
            ws: Any = self  # the core's properties, untyped for mypy
            if ws.client_state is WebSocketState.CONNECTING:
                message = await ws._receive()
                assert message["type"] == "websocket.connect"
            ws.client_state = WebSocketState.CONNECTED  # even after a disconnect, as Lilya
            await base_send(self, {"type": "websocket.accept", "headers": headers or [], "subprotocol": subprotocol})

        # -- Lilya's Connection extras (lilya/_internal/_connection.py 0.29.0) ------------------
        @property
        def app(self) -> Any:
            """The application (``scope["app"]``), or ``None`` when the scope has none, as Lilya."""
            return self.scope.get("app")

        @property
        def server(self) -> Any:
            """``Address(host, port)`` of the server (``scope["server"]``), or ``None``.

            Lilya's ``lilya._internal._message.Address`` when Lilya is installed, else
            ``fastws.datastructures.Address`` (same fields).
            """
            server = self.scope.get("server")
            return _Address(*server) if server else None

        @property
        def auth(self) -> Any:
            """``scope["auth"]``, set by Lilya's ``AuthenticationMiddleware``.

            Raises:
                ImproperlyConfigured: no authentication middleware ran (Lilya's class and message).
            """
            if "auth" not in self.scope:
                raise ImproperlyConfigured("AuthenticationMiddleware must be installed to access request.auth")
            return self.scope["auth"]

        @property
        def user(self) -> Any:
            """``scope["user"]``, set by Lilya's ``AuthenticationMiddleware``.

            Raises:
                ImproperlyConfigured: no authentication middleware ran (Lilya's class and message).
            """
            if "user" not in self.scope:
                raise ImproperlyConfigured("AuthenticationMiddleware must be installed to access request.user")
            return self.scope["user"]

        @property
        def session(self) -> Any:
            """dict: ``scope["session"]``, set by Lilya's ``SessionMiddleware``.

            Raises:
                ImproperlyConfigured: no session middleware ran (Lilya's class and message).
            """
            if "session" not in self.scope:
                raise ImproperlyConfigured("SessionMiddleware must be installed to access request.session")
            return self.scope["session"]

        @property
        def is_server_push(self) -> bool:
            """bool: ``scope["server_push"]`` (default ``False``), as Lilya."""
            return bool(self.scope.get("server_push", False))

        @property
        def is_server_pull(self) -> bool:
            """bool: ``scope["server_pull"]`` (default ``False``), as Lilya."""
            return bool(self.scope.get("server_pull", False))

        def set_session(self, value: Any) -> None:
            """Set ``scope["session"]`` to ``value`` (Lilya's ``Connection.set_session``)."""
            self.scope["session"] = value

        def clear_session(self) -> None:
            """Set ``scope["session"]`` to ``None`` (Lilya's ``Connection.clear_session``)."""
            self.scope["session"] = None

        if _URL is not None:

            @property
            def url(self) -> Any:
                """lilya.datastructures.URL: the connection's URL, built once as Lilya builds it
                (``URL.build_from_scope``: the ``Host`` header, else ``server``)."""
                url = self.__dict__.get("_lilya_url")
                if url is None:
                    url = self.__dict__["_lilya_url"] = _URL.build_from_scope(scope=self.scope)
                return url

            @property
            def base_url(self) -> Any:
                """lilya.datastructures.URL: the application's root URL (``app_root_path``, else
                ``root_path``, with a trailing slash), as Lilya builds it."""
                url = self.__dict__.get("_lilya_base_url")
                if url is None:
                    scope = dict(self.scope)
                    root = scope.get("app_root_path", scope.get("root_path", ""))
                    scope["path"] = root if root.endswith("/") else root + "/"
                    scope["query_string"] = b""
                    scope["root_path"] = root
                    url = self.__dict__["_lilya_base_url"] = _URL.build_from_scope(scope=scope)
                return url

        def is_secure(self) -> bool:
            """bool: the scheme is ``https`` or ``wss`` (Lilya's ``Connection.is_secure()``, a method)."""
            return bool(self.url.is_secure)

        def url_path_for(self, name: str, /, **path_params: Any) -> Any:
            """The absolute URL of the route ``name``, built by the router (or app) in the scope.

            Args:
                name (str): the route name.
                **path_params: its path parameters.

            Returns:
                lilya.datastructures.URL: the absolute URL (Lilya's ``URLPath.make_absolute_url``).

            Raises:
                RuntimeError: the scope has neither ``router`` nor ``app`` (Lilya's message).
                lilya.exceptions.NoMatchFound: no route of that name and parameters.
            """
            router = self.scope.get("router") or self.scope.get("app")
            if router is None:
                raise RuntimeError("The `url_for` method can only be used inside a Lilya application or with a router.")
            url_path = router.url_path_for(name, **path_params)
            if hasattr(url_path, "make_absolute_url"):
                return url_path.make_absolute_url(base_url=self.base_url)
            return (_URL or _FastwsURL)(url_path)

        def path_for(self, name: str, /, **path_params: Any) -> Any:
            """Lilya's name for ``url_path_for`` (same arguments, result and errors)."""
            return self.url_path_for(name, **path_params)

        def url_for(self, name: str, /, **path_params: Any) -> Any:
            """``path_for`` under Starlette's name: Lilya 0.29's class has no ``url_for``; code written
            for Starlette gets Lilya's routing (same arguments, result and errors as ``path_for``)."""
            return self.url_path_for(name, **path_params)

        async def send_denial_response(self, response: Any) -> None:
            """Reject the handshake with an HTTP response (the ASGI "WebSocket Denial Response" extension).

            Args:
                response: an ASGI app, such as a ``lilya.responses.Response``.

            Raises:
                RuntimeError: the server does not list ``websocket.http.response`` in
                    ``scope["extensions"]`` (Lilya docs, WebSockets, "Send Denial Response": "In
                    the absence of support, attempting to use it will result in a RuntimeError");
                    or the connection was already accepted.
                WebSocketRuntimeError: the connection was already closed.
            """
            if "websocket.http.response" not in (self.scope.get("extensions") or {}):
                raise RuntimeError("The server doesn't support the Websocket Denial Response extension.")
            await _connection.send_denial_response(self, response, base)

        send_response = send_denial_response

        def add_cleanup(self, fn: Callable[[], Any]) -> None:
            """Register ``fn`` to run after ``close()`` (awaited when it returns an awaitable).

            Args:
                fn (Callable[[], Any]): the callback.
            """
            self.__dict__.setdefault("_cleanup_callbacks", []).append(fn)

        def close(self, code: int = 1000, reason: str | None = None) -> Any:
            """Close the connection (before accept: reject the handshake), then run the cleanup callbacks.

            Args:
                code (int): the close code (RFC 6455 section 7.4); default 1000.
                reason (str | None): the close reason; ``None`` is sent as ``""``.

            Raises:
                WebSocketRuntimeError: the connection was already closed.
            """
            op = base.close(self, code, reason)
            callbacks = self.__dict__.get("_cleanup_callbacks")
            if not callbacks:
                return op
            return _close_then_cleanup(op, callbacks)

    WebSocket.__module__ = __name__
    WebSocket.__qualname__ = "WebSocket"
    return WebSocket


async def _close_then_cleanup(op: Any, callbacks: list[Callable[[], Any]]) -> None:
    await op
    for fn in callbacks:
        result = fn()
        if inspect.isawaitable(result):
            await result


WebSocket: Any = build(_websocket.WebSocket)

_MODULES = (
    "lilya.websockets",
    "lilya.routing",
    "lilya.routing.router",
    "lilya.middleware.exceptions",
    "lilya._internal._responses",
    "lilya._internal._exception_handlers",
    "lilya.dependencies",
    "lilya.controllers",
    "lilya.authentication",
    "lilya.apps",
)


def install() -> list[str]:
    """Make Lilya build fastws's ``WebSocket`` everywhere it builds one.

    Imports Lilya's modules that build or check WebSocket objects (routing, controllers, the
    exception middleware and handlers, responses, dependencies, authentication, apps), then
    rebinds every ``WebSocket`` global in ``lilya.*`` that is ``lilya.websockets.WebSocket`` to this
    dialect's class. Call it once, before the app is imported. Idempotent (a second call returns
    ``[]``).

    Limits: modules outside ``lilya`` that imported the class before the call keep it.

    Returns:
        list[str]: the ``"module.name"`` globals rebound by this call.

    Raises:
        ImportError: Lilya is not installed.
    """
    if _ORIGINAL is None:
        raise ImportError("fastws.dialects.lilya.install() needs Lilya installed")
    for name in _MODULES:
        import_optional(name)
    return replace_everywhere(("lilya",), _ORIGINAL, WebSocket, ("WebSocket",))
