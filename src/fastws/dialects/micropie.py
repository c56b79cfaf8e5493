"""The MicroPie dialect: ``micropie.WebSocket`` (0.32) on fastws's compiled core.

MicroPie's class is built from ``(receive, send)`` alone (no scope), keeps the server's callables as
its public ``receive``/``send`` attributes, tracks only ``accepted`` and has no state machine of its
own. This dialect keeps all of that (``ws.receive``/``ws.send`` are the server's callables) and
serves the per-message methods from the compiled core once the connection is accepted:

* ``accept(subprotocol=None, session_id=None)``: receives ``websocket.connect`` (``ValueError``
  otherwise), ``RuntimeError`` when already accepted; a ``session_id`` (validated, UUIDv4 by default)
  is set as a ``session_id`` cookie (``Set-Cookie`` handshake header, ``Secure`` unless
  ``session_cookie_secure=False``);
* ``receive_text()``/``receive_bytes()``: a message of the other kind is converted (bytes decoded as
  UTF-8 ignoring errors, text encoded), as MicroPie 0.32's code does (its doc says ``ValueError``;
  the code wins); ``ConnectionClosed`` when the client disconnected; ``ValueError("Unexpected message
  type: ...")`` for any other event (``websocket.connect`` before accept included);
* ``send_text``/``send_bytes``: ``RuntimeError("WebSocket connection not accepted")`` before accept
  or after close; a failing server ``send`` raises its ``OSError``;
* ``close(code=1000, reason=None)``: only when accepted (a no-op otherwise), then ``accepted`` is
  ``False`` again.

* no connection info: MicroPie's class has no scope, so ``headers``, ``url``, ``query_params``,
  ``cookies`` and the rest of ``SCOPE_ATTRIBUTES`` raise ``AttributeError`` as on MicroPie's class
  (handlers read them from ``self.request``, MicroPie's ``WebSocketRequest``);
* ``close(code, reason)`` and ``accept(subprotocol)`` hand their arguments to the server unchecked.

Without MicroPie installed, a look-alike ``ConnectionClosed`` is used.

Source: MicroPie 0.32 documentation, "WebSocket class" reference page, and ``micropie.py`` 0.32.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Awaitable, Callable
from types import MethodType
from typing import Any

from fastws.dialects._support import cached_build, import_optional, replace_everywhere
from fastws.websocket import _core as _websocket
from fastws.websocket import _errors, _state

__all__ = ["SCOPE_ATTRIBUTES", "ConnectionClosed", "WebSocket", "build", "install"]

_micropie = import_optional("micropie")

if _micropie is not None:
    ConnectionClosed: Any = _micropie.ConnectionClosed
    _ORIGINAL: Any = _micropie.WebSocket
    _format_session_cookie: Any = _micropie._format_session_cookie
    _validate_session_id: Any = _micropie._validate_session_id
else:  # MicroPie is not installed: look-alikes
    _ORIGINAL = None

    class ConnectionClosed(Exception):  # type: ignore[no-redef]
        """Raised when a WebSocket connection is closed (``micropie.ConnectionClosed``)."""

    def _format_session_cookie(session_id: str, *, secure: bool) -> str:
        attributes = [f"session_id={session_id}", "Path=/", "SameSite=Lax", "HttpOnly"]
        if secure:
            attributes.append("Secure")
        return "; ".join(attributes) + ";"

    def _validate_session_id(value: str | None) -> str | None:
        if not value:
            return None
        try:
            parsed = uuid.UUID(value)
        except (AttributeError, TypeError, ValueError):
            return None
        if parsed.version != 4 or str(parsed) != value.lower():
            return None
        return str(parsed)


_CONNECTING, _CONNECTED = _state.WebSocketState.CONNECTING, _state.WebSocketState.CONNECTED


def _error(kind: str, detail: Any = None, reason: Any = None) -> BaseException:
    # MicroPie's exceptions (micropie.py 0.32) for what the core detects once accepted.
    if kind == "disconnect" or kind == "receive_after_disconnect":
        return ConnectionClosed()
    if kind == "send_failed":
        return sys.exc_info()[1] or ConnectionClosed()  # the OSError, as MicroPie lets it through
    if kind == "expected_receive" or kind == "expected_connect":
        return ValueError(f"Unexpected message type: {detail}")
    if kind == "send_after_close" or kind == "not_accepted":
        return RuntimeError("WebSocket connection not accepted")
    return _errors.starlette_error(kind, detail, reason)


def _convert(expected: str, message: Any) -> Any:
    # MicroPie converts a message of the other kind instead of failing.
    if expected == "text":
        return message.get("text", message.get("bytes", b"").decode("utf-8", "ignore"))
    return message.get("bytes", b"") or message.get("text", "").encode("utf-8")


#: fastws's connection info, which needs a scope: MicroPie's class has none of these (it is built
#: from ``(receive, send)`` alone; handlers read the request as ``self.request``, MicroPie's
#: ``WebSocketRequest``), so the dialect has none either: reading one raises ``AttributeError``, as
#: on MicroPie's class, and ``hasattr(ws, "headers")`` is ``False`` (issue 18).
SCOPE_ATTRIBUTES = (
    "app",
    "auth",
    "base_url",
    "client",
    "cookies",
    "headers",
    "path_params",
    "query_params",
    "session",
    "url",
    "url_for",
    "user",
)


def _absent(name: str) -> property:
    def get(self: Any) -> Any:
        raise AttributeError(
            f"'WebSocket' object has no attribute {name!r}: MicroPie's WebSocket is built without the "
            "scope; read it from the request (self.request in a MicroPie handler)",
            name=name,
            obj=self,
        )

    return property(get, doc=f"Absent, as on MicroPie's class: raises ``AttributeError`` ({name!r}).")


async def _raise(exc: BaseException) -> Any:
    raise exc


async def _receive_unaccepted(ws: Any, expected: str) -> Any:
    # Before accept (or after close) MicroPie reads the server's next event as it is.
    message = await ws._receive()
    if message["type"] == "websocket.receive":
        return _convert(expected, message)
    if message["type"] == "websocket.disconnect":
        raise ConnectionClosed()
    raise ValueError(f"Unexpected message type: {message['type']}")


@cached_build
def build(base: Any) -> Any:
    """The MicroPie dialect class over one core class.

    Args:
        base (type): ``fastws.websocket._core_c.WebSocket`` or ``fastws.websocket._core_py.WebSocket``.

    Returns:
        type: a subclass of ``base`` named ``WebSocket`` (one per base).
    """
    base_init = base.__init__
    base_receive_text = base.receive_text
    base_receive_bytes = base.receive_bytes
    base_send_text = base.send_text
    base_send_bytes = base.send_bytes
    base_close = base.close
    _FAST = {
        "receive_text": base_receive_text,
        "receive_bytes": base_receive_bytes,
        "send_text": base_send_text,
        "send_bytes": base_send_bytes,
    }

    class WebSocket(base):
        """``micropie.WebSocket`` (0.32) on fastws's core: ``WebSocket(receive, send, *,
        session_cookie_secure=True, session_id_validator=...)``.

        Args:
            receive (async callable): the server's ``receive``; kept as the ``receive`` attribute.
            send (async callable): the server's ``send``; kept as the ``send`` attribute.
            session_cookie_secure (bool): whether the session cookie carries ``Secure``.
            session_id_validator (Callable[[str], str | None] | None): normalises a ``session_id``
                given to ``accept`` or rejects it (``None``); default: canonical UUIDv4.

        Attributes:
            accepted (bool): ``accept()`` succeeded and ``close()`` was not called since.
            session_id (str | None): the session ID set during the handshake.

        The scope is not known to MicroPie's class; ``scope`` is ``{"type": "websocket"}``.

        Source: MicroPie 0.32 documentation, "WebSocket class" reference page; ``micropie.py`` 0.32.
        """

        _fastws_error = staticmethod(_error)
        _fastws_mismatch = staticmethod(_convert)
        # close(code, reason) hands them to the server unchecked, as MicroPie does
        # (docs/dialects.md, "Close codes and subprotocols").
        _fastws_checks = False

        @property
        def accepted(self) -> bool:
            """bool: ``accept()`` succeeded and ``close()`` was not called since. Assignable."""
            return self.__dict__.get("_accepted", False)

        @accepted.setter
        def accepted(self, value: bool) -> None:
            # While accepted, the per-message methods are the core's compiled ones bound on the
            # instance (no Python-level check per message); otherwise the class's methods below
            # behave as MicroPie's unaccepted connection.
            namespace = self.__dict__
            namespace["_accepted"] = value
            if value:
                for name, method in _FAST.items():
                    namespace[name] = MethodType(method, self)
            else:
                for name in _FAST:
                    namespace.pop(name, None)

        def __init__(
            self,
            receive: Callable[[], Awaitable[dict[str, Any]]],
            send: Callable[[dict[str, Any]], Awaitable[None]],
            *,
            session_cookie_secure: bool = True,
            session_id_validator: Callable[[str], str | None] | None = _validate_session_id,
        ) -> None:
            base_init(self, {"type": "websocket"}, receive, send)
            self.receive = receive
            self.send = send
            self.accepted = False
            self.session_id: str | None = None
            self.session_cookie_secure = session_cookie_secure
            self.session_id_validator = session_id_validator
            self._session_cookie_pending = False

        async def accept(self, subprotocol: str | None = None, session_id: str | None = None) -> None:
            """Accept the connection: receive ``websocket.connect``, then send ``websocket.accept``.

            Args:
                subprotocol (str | None): the negotiated subprotocol.
                session_id (str | None): set as a ``session_id`` cookie during the handshake.

            Raises:
                RuntimeError: already accepted.
                ValueError: the event received is not ``websocket.connect``, or ``session_id`` was
                    rejected by the validator.
            """
            if self.accepted:
                raise RuntimeError("WebSocket connection already accepted")
            message = await self._receive()
            if message["type"] != "websocket.connect":
                raise ValueError(f"Expected websocket.connect, got {message['type']}")
            self.client_state = _CONNECTED
            headers = []
            if session_id is not None:
                validator = self.session_id_validator
                validated = validator(session_id) if validator is not None else session_id
                if not isinstance(validated, str) or not validated:
                    raise ValueError("session_id was rejected by the session ID validator")
                self.session_id = validated
                self._session_cookie_pending = True
            if self._session_cookie_pending and self.session_id:
                headers.append(
                    ("Set-Cookie", _format_session_cookie(self.session_id, secure=self.session_cookie_secure))
                )
                self._session_cookie_pending = False
            await self._send(
                {
                    "type": "websocket.accept",
                    "subprotocol": subprotocol,
                    "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
                }
            )
            self.application_state = _CONNECTED
            self.accepted = True

        def receive_text(self) -> Any:
            """Receive a text message (a binary one is decoded as UTF-8, ignoring errors).

            Returns:
                str: the text.

            Raises:
                ConnectionClosed: the client disconnected.
                ValueError: an event other than ``websocket.receive``/``websocket.disconnect`` arrived.
            """
            if self.accepted:
                return base_receive_text(self)
            return _receive_unaccepted(self, "text")

        def receive_bytes(self) -> Any:
            """Receive a binary message (a text one is encoded as UTF-8).

            Returns:
                bytes: the payload.

            Raises:
                ConnectionClosed: the client disconnected.
                ValueError: an event other than ``websocket.receive``/``websocket.disconnect`` arrived.
            """
            if self.accepted:
                return base_receive_bytes(self)
            return _receive_unaccepted(self, "bytes")

        def send_text(self, data: str) -> Any:
            """Send a text message.

            Raises:
                RuntimeError: not accepted (or closed).
                OSError: the server's ``send`` failed.
            """
            if self.accepted:
                return base_send_text(self, data)
            return _raise(RuntimeError("WebSocket connection not accepted"))

        def send_bytes(self, data: bytes) -> Any:
            """Send a binary message.

            Raises:
                RuntimeError: not accepted (or closed).
                OSError: the server's ``send`` failed.
            """
            if self.accepted:
                return base_send_bytes(self, data)
            return _raise(RuntimeError("WebSocket connection not accepted"))

        async def close(self, code: int = 1000, reason: str | None = None) -> None:
            """Close the connection if it is accepted (a no-op otherwise); ``accepted`` becomes ``False``.

            Args:
                code (int): the close code (RFC 6455 section 7.4); default 1000.
                reason (str | None): the reason; ``None`` is sent as ``""``.

            Raises:
                OSError: the server's ``send`` failed (``accepted`` stays ``True``).
            """
            if self.accepted:
                await base_close(self, code, reason)
                self.accepted = False

    for name in SCOPE_ATTRIBUTES:
        setattr(WebSocket, name, _absent(name))
    WebSocket.__module__ = __name__
    WebSocket.__qualname__ = "WebSocket"
    return WebSocket


WebSocket: Any = build(_websocket.WebSocket)


def install() -> list[str]:
    """Make MicroPie build fastws's ``WebSocket`` for its WebSocket routes.

    Rebinds ``micropie.WebSocket`` (the global MicroPie's ``App`` uses when a WebSocket request
    arrives) to this dialect's class. Call it once, before the app is imported. Idempotent (a
    second call returns ``[]``).

    Limits: code that did ``from micropie import WebSocket`` before the call keeps the original class
    (it is only used for annotations in MicroPie apps, which keep working).

    Returns:
        list[str]: the ``"module.name"`` globals rebound by this call.

    Raises:
        ImportError: MicroPie is not installed.
    """
    if _ORIGINAL is None:
        raise ImportError("fastws.dialects.micropie.install() needs MicroPie installed")
    return replace_everywhere(("micropie",), _ORIGINAL, WebSocket, ("WebSocket",))
