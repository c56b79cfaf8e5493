"""The Starlette dialect: ``starlette.websockets.WebSocket`` (1.10.0) on fastws's compiled core.

``WebSocket`` behaves as Starlette's class (fastws's core already follows Starlette 1.10, see
``fastws.websockets``); what this module adds is identity: when Starlette is importable, states are
``starlette.websockets.WebSocketState`` members and errors are Starlette's own
``WebSocketDisconnect``/``WebSocketDisconnected`` classes, so ``except
starlette.websockets.WebSocketDisconnect`` in an app, a middleware or Starlette's ``TestClient``
catches them. Without Starlette, fastws's look-alikes (same names and attributes) are used.

``install()`` makes Starlette and FastAPI build this class everywhere they build a WebSocket.

Source: Starlette 1.10 documentation, "WebSockets" page (https://www.starlette.io/websockets/), and
``starlette/websockets.py`` 1.10.0.
"""

from __future__ import annotations

from typing import Any

from fastws.dialects._support import cached_build, import_optional, replace_everywhere
from fastws.websocket import _core as _websocket
from fastws.websocket import _errors, _state

__all__ = ["WebSocket", "WebSocketDisconnect", "WebSocketDisconnected", "WebSocketState", "build", "install"]

_starlette_websockets = import_optional("starlette.websockets")

if _starlette_websockets is not None:
    WebSocketState: Any = _starlette_websockets.WebSocketState
    WebSocketDisconnect: Any = _starlette_websockets.WebSocketDisconnect
    WebSocketDisconnected: Any = getattr(_starlette_websockets, "WebSocketDisconnected", _errors.WebSocketDisconnected)
    _ORIGINAL: Any = _starlette_websockets.WebSocket
else:  # Starlette is not installed: fastws's look-alikes
    WebSocketState = _state.WebSocketState
    WebSocketDisconnect = _errors.WebSocketDisconnect
    WebSocketDisconnected = _errors.WebSocketDisconnected
    _ORIGINAL = None

_STATES = tuple(WebSocketState[name] for name in ("CONNECTING", "CONNECTED", "DISCONNECTED", "RESPONSE"))


def _error(kind: str, detail: Any = None, reason: Any = None) -> BaseException:
    # Starlette's messages (the core's default), with Starlette's own exception classes.
    exc = _errors.starlette_error(kind, detail, reason)
    if kind == "disconnect" or kind == "send_failed":
        return WebSocketDisconnect(detail, reason)
    if isinstance(exc, _errors.WebSocketDisconnected):
        return WebSocketDisconnected(*exc.args)
    return exc


@cached_build
def build(base: Any) -> Any:
    """The Starlette dialect class over one core class.

    Args:
        base (type): ``fastws.websocket._core_c.WebSocket`` or ``fastws.websocket._core_py.WebSocket``.

    Returns:
        type: a subclass of ``base`` named ``WebSocket`` (one per base).
    """

    class WebSocket(base):
        """``starlette.websockets.WebSocket`` (1.10.0) on fastws's core: same signature
        ``WebSocket(scope, receive, send)``, methods, states and messages.

        ``client_state``/``application_state`` are ``starlette.websockets.WebSocketState`` members;
        the errors are ``starlette.websockets.WebSocketDisconnect`` (client gone, ``.code``,
        ``.reason``), ``starlette.websockets.WebSocketDisconnected`` (use after close or before
        accept, a ``RuntimeError``) and ``RuntimeError`` (protocol misuse), with Starlette's
        messages. A message of the wrong kind raises ``fastws.UnexpectedMessageType``, a ``KeyError``
        like Starlette's ``KeyError('text')``, with a message that says what arrived.

        Without Starlette installed, fastws's look-alike classes of the same names are used.

        Source: Starlette 1.10 documentation, "WebSockets" page; ``starlette/websockets.py`` 1.10.0.
        """

        _fastws_states = _STATES
        _fastws_error = staticmethod(_error)
        # close(code, reason) and accept(subprotocol) hand what they are given to the server, as
        # Starlette does (docs/dialects.md, "Close codes and subprotocols").
        _fastws_checks = False

    WebSocket.__module__ = __name__
    WebSocket.__qualname__ = "WebSocket"
    return WebSocket


WebSocket: Any = build(_websocket.WebSocket)

# Modules of Starlette and FastAPI that build or check WebSocket objects: install() imports them
# first so their `WebSocket` global exists to be rebound.
_MODULES = (
    "starlette.websockets",
    "starlette.routing",
    "starlette.endpoints",
    "starlette.middleware.exceptions",
    "starlette._exception_handler",
    "starlette.authentication",
    "fastapi",
    "fastapi.websockets",
    "fastapi.routing",
    "fastapi.dependencies.utils",
    "fastapi.exception_handlers",
    "fastapi.telemetry._api",
)
_TEST_CLIENTS = ("starlette.testclient", "fastapi.testclient")


def install() -> list[str]:
    """Make Starlette (and FastAPI, when installed) build fastws's ``WebSocket`` everywhere.

    Imports Starlette's and FastAPI's modules that build or check WebSocket objects (routing,
    endpoints, the exception middleware and handlers, authentication, the test client; FastAPI's
    routing, dependency injection and re-exports), then rebinds every ``WebSocket`` global in
    ``starlette.*``/``fastapi.*`` that is ``starlette.websockets.WebSocket`` to this dialect's class,
    ``starlette.websockets.WebSocket`` included. Call it once, before the app is imported.

    Idempotent: a second call changes nothing and returns ``[]``.

    Limits: a module outside ``starlette``/``fastapi`` that imported ``starlette.websockets.WebSocket``
    before the call keeps the original (use it for annotations only, or import after the call); a
    subclass of Starlette's class defined before the call is not accelerated; FastAPI parameters
    annotated with the original class are still recognised because FastAPI's check is rebound too.

    Returns:
        list[str]: the ``"module.name"`` globals rebound by this call.

    Raises:
        ImportError: Starlette is not installed.

    Source: ``starlette/routing.py``, ``starlette/endpoints.py``, ``starlette/middleware/exceptions.py``
    (1.10.0); ``fastapi/routing.py``, ``fastapi/dependencies/utils.py``.
    """
    if _ORIGINAL is None:
        raise ImportError("fastws.dialects.starlette.install() needs Starlette installed")
    for name in _MODULES:
        import_optional(name)
    # The test clients are optional: production installs lack their HTTP client, and
    # starlette.testclient (1.10.0) then raises RuntimeError, not ImportError.
    for name in _TEST_CLIENTS:
        import_optional(name, (ImportError, RuntimeError))
    return replace_everywhere(("starlette", "fastapi"), _ORIGINAL, WebSocket, ("WebSocket",))
