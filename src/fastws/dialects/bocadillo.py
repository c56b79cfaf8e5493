"""The Bocadillo dialect: ``bocadillo.websockets.WebSocket`` (0.18.3) on fastws's compiled core.

Bocadillo wraps Starlette 0.12's WebSocket and redefines ``receive()``/``send()`` as typed
shortcuts. This dialect reproduces, on fastws's core:

* ``WebSocket(scope, receive, send, auto_accept=True, value_type=None, receive_type=None,
  send_type=None, caught_close_codes=None)``; ``receive()``/``send(message)`` call
  ``receive_<receive_type>()``/``send_<send_type>(message)`` (``"text"``, ``"bytes"`` or
  ``"json"``; ``value_type`` sets both); ``receive_event()``/``send_event(event)`` are the raw
  ASGI events;
* ``accept(subprotocol=None)`` (no ``headers`` key sent), ``close(code=1000)`` (no ``reason``
  sent), ``reject()``, ``ensure_closed(code=1000)`` (ignores ``RuntimeError`` when already closed);
* ``send_json(data)`` formats with ``json.dumps`` defaults (``'{"a": 1}'``), as Starlette 0.12;
* ``async with ws`` accepts (once) and on exit silences ``WebSocketDisconnect`` whose code is in
  ``caught_close_codes`` (default ``(1000, 1001)``; ``all`` for every known code), else closes with
  1000 (no exception) or 1011; ``async for message in ws`` yields ``await ws.receive()`` forever;
* Starlette 0.12's errors: ``AssertionError`` for receiving before accept and protocol misuse,
  ``RuntimeError`` after disconnect/close, ``WebSocketDisconnect`` with ``.code`` only; a failing
  server ``send`` raises its ``OSError``.

Bocadillo's known bug, and the choice made here: ``reject()`` is ``close(403)``. Before accept that
is a handshake denial (servers answer HTTP 403; the code is not sent), and the dialect does the
same. After accept Bocadillo sends close code 403, which is not a valid WebSocket close code (RFC
6455 section 7.4.2: 0-999 are unused), so servers fail the send; the dialect closes with 1008
(Policy Violation), the WebSocket counterpart of HTTP 403.

When Bocadillo is importable, states are Starlette 0.12's ``WebSocketState`` and the disconnect is
Bocadillo's (Starlette's) ``WebSocketDisconnect``; otherwise fastws's look-alikes.

Source: Bocadillo 0.18 API reference, ``bocadillo.websockets`` page, and ``bocadillo/websockets.py``
0.18.3, ``starlette/websockets.py`` 0.12.13.
"""

from __future__ import annotations

import enum
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

from fastws.dialects._support import cached_build, import_optional, replace_everywhere
from fastws.websocket import _core as _websocket
from fastws.websocket import _errors, _state

__all__ = ["WEBSOCKET_CLOSE_CODES", "WebSocket", "WebSocketDisconnect", "WebSocketState", "build", "install"]

_bocadillo_websockets = import_optional("bocadillo.websockets")

if _bocadillo_websockets is not None:
    from bocadillo.constants import WEBSOCKET_CLOSE_CODES  # type: ignore[import-not-found,unused-ignore]
    from starlette.websockets import WebSocketState

    WebSocketDisconnect: Any = _bocadillo_websockets.WebSocketDisconnect
    _ORIGINAL: Any = _bocadillo_websockets.WebSocket
else:  # Bocadillo is not installed: look-alikes
    _ORIGINAL = None

    #: Close codes by number, as ``bocadillo.constants.WEBSOCKET_CLOSE_CODES``.
    WEBSOCKET_CLOSE_CODES = {
        1000: "Normal Closure",
        1001: "Going Away",
        1002: "Protocol Error",
        1003: "Unsupported Type",
        1005: "No Status Code [Internal]",
        1006: "Connection Closed Abnormally [Internal]",
        1007: "Invalid Data",
        1008: "Policy Violation",
        1009: "Message Too Big",
        1010: "Extension Required",
        1011: "Internal Error",
        1015: "TLS Failure [Internal]",
    }

    class WebSocketState(enum.Enum):  # type: ignore[no-redef]
        """State of one side of the connection (``starlette.websockets.WebSocketState`` 0.12)."""

        CONNECTING = 0
        CONNECTED = 1
        DISCONNECTED = 2

    class WebSocketDisconnect(Exception):  # type: ignore[no-redef]
        """The client disconnected (``bocadillo.WebSocketDisconnect``, Starlette 0.12's).

        Args:
            code (int): the close code; default 1000.
        """

        def __init__(self, code: int = 1000) -> None:
            self.code = code


_STATES = (
    WebSocketState.CONNECTING,
    WebSocketState.CONNECTED,
    WebSocketState.DISCONNECTED,
    _state.WebSocketState.RESPONSE,
)


def _error(kind: str, detail: Any = None, reason: Any = None) -> BaseException:
    # Starlette 0.12's classes and messages, which Bocadillo raises through.
    if kind == "disconnect":
        return WebSocketDisconnect(detail)
    if kind == "send_failed":
        return sys.exc_info()[1] or WebSocketDisconnect(detail)  # the OSError, as Starlette 0.12 lets it through
    if kind == "receive_after_disconnect" or kind == "send_after_close":
        return RuntimeError(*_errors.starlette_error(kind).args)  # Starlette 0.12: a plain RuntimeError
    if kind == "bad_event":
        return _errors.starlette_error(kind, detail, reason)  # a malformed server event: fastws's RuntimeError
    return AssertionError()


@cached_build
def build(base: Any) -> Any:
    """The Bocadillo dialect class over one core class.

    Args:
        base (type): ``fastws.websocket._core_c.WebSocket`` or ``fastws.websocket._core_py.WebSocket``.

    Returns:
        type: a subclass of ``base`` named ``WebSocket`` (one per base).
    """
    base_init = base.__init__
    base_receive = base.receive
    base_send = base.send
    base_send_text = base.send_text

    class WebSocket(base):
        """``bocadillo.websockets.WebSocket`` (0.18.3) on fastws's core.

        Args:
            scope, receive, send: the ASGI scope and the server's callables.
            auto_accept (bool): Bocadillo's views accept (``async with``) before calling the view.
            value_type (str | None): sets both ``receive_type`` and ``send_type``.
            receive_type (str | None): ``"text"`` (default), ``"bytes"`` or ``"json"``.
            send_type (str | None): ``"text"`` (default), ``"bytes"`` or ``"json"``.
            caught_close_codes (tuple[int, ...] | all | None): codes of ``WebSocketDisconnect``
                silenced by ``async with``; default ``(1000, 1001)``.

        Source: Bocadillo 0.18 API reference, ``bocadillo.websockets`` page; ``bocadillo/websockets.py`` 0.18.3.
        """

        _fastws_states = _STATES
        _fastws_error = staticmethod(_error)

        def __init__(
            self,
            scope: Any,
            receive: Any,
            send: Any,
            auto_accept: bool = True,
            value_type: str | None = None,
            receive_type: str | None = None,
            send_type: str | None = None,
            caught_close_codes: Any = None,
        ) -> None:
            base_init(self, scope, receive, send)
            if caught_close_codes is None:
                caught_close_codes = (1000, 1001)
            if caught_close_codes is all:
                caught_close_codes = tuple(WEBSOCKET_CLOSE_CODES)
            self.caught_close_codes = caught_close_codes
            self.auto_accept = auto_accept
            self._bocadillo_accepted = False
            if value_type is not None:
                receive_type = send_type = value_type
            self.receive_type = receive_type or "text"
            self.send_type = send_type or "text"

        async def accept(self, subprotocol: str | None = None) -> None:
            """Accept the connection request (receiving ``websocket.connect`` first if needed).

            Raises:
                AssertionError: the first event is not ``websocket.connect``, or already accepted.
                RuntimeError: the connection was already closed.
            """
            if self.client_state is WebSocketState.CONNECTING:
                await base_receive(self)
            await base_send(self, {"type": "websocket.accept", "subprotocol": subprotocol})

        async def reject(self) -> None:
            """Reject the connection request: ``close(403)`` before accept (HTTP 403 handshake
            denial); after accept, ``close(1008)`` (Bocadillo would send the invalid code 403).

            Raises:
                RuntimeError: the connection was already closed.
            """
            code = 1008 if self.application_state is WebSocketState.CONNECTED else 403
            await self.close(code=code)

        def close(self, code: int = 1000) -> Any:
            """Close the connection with ``code`` (no reason is sent).

            Raises:
                RuntimeError: the connection was already closed.
            """
            return base_send(self, {"type": "websocket.close", "code": code})

        async def ensure_closed(self, code: int = 1000) -> None:
            """Close the connection unless it is already closed (a ``RuntimeError`` is ignored)."""
            try:
                await self.close(code=code)
            except RuntimeError:
                pass

        def send_json(self, data: Any) -> Any:
            """Send ``json.dumps(data)`` as text (Starlette 0.12's formatting).

            Raises:
                TypeError: ``data`` is not JSON serialisable (raised when called).
            """
            return base_send_text(self, json.dumps(data))

        def receive_event(self) -> Any:
            """Receive a raw ASGI event (``websocket.connect``/``.receive``/``.disconnect``)."""
            return base_receive(self)

        def send_event(self, event: Any) -> Any:
            """Send a raw ASGI event."""
            return base_send(self, event)

        def receive(self) -> Any:
            """Receive a message: ``receive_<receive_type>()``.

            Returns:
                str | bytes | Any: the message.
            """
            return getattr(self, f"receive_{self.receive_type}")()

        def send(self, message: Any) -> Any:
            """Send a message: ``send_<send_type>(message)``."""
            return getattr(self, f"send_{self.send_type}")(message)

        async def __aenter__(self) -> Any:
            if not self._bocadillo_accepted:
                await self.accept()
                self._bocadillo_accepted = True
            return self

        async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> Any:
            if exc_type == WebSocketDisconnect:
                return exc_val.code in self.caught_close_codes
            await self.ensure_closed(1000 if exc_type is None else 1011)
            return None

        async def __aiter__(self) -> AsyncIterator[Any]:
            while True:
                yield await self.receive()

    WebSocket.__module__ = __name__
    WebSocket.__qualname__ = "WebSocket"
    return WebSocket


WebSocket: Any = build(_websocket.WebSocket)


def install() -> list[str]:
    """Make Bocadillo build fastws's ``WebSocket`` for its WebSocket routes.

    Imports ``bocadillo.routing`` (whose ``WebSocketRoute`` builds the connection) and rebinds every
    ``WebSocket`` global in ``bocadillo.*`` that is ``bocadillo.websockets.WebSocket``. Call it once,
    before the app is imported. Idempotent (a second call returns ``[]``).

    Limits: modules outside ``bocadillo`` that imported the class before the call keep it.

    Returns:
        list[str]: the ``"module.name"`` globals rebound by this call.

    Raises:
        ImportError: Bocadillo is not installed.
    """
    if _ORIGINAL is None:
        raise ImportError("fastws.dialects.bocadillo.install() needs Bocadillo installed")
    import_optional("bocadillo.routing")
    return replace_everywhere(("bocadillo",), _ORIGINAL, WebSocket, ("WebSocket",))
