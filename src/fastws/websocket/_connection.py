"""Per-connection helpers that are not on the per-message path, shared by both twins of the
WebSocket class (each twin's method is a one-line call into here)."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastws.datastructures._url import URL

__all__ = ["send_denial_response", "session", "url_for"]


async def send_denial_response(websocket: Any, response: Any, base: Any) -> None:
    """Reject the handshake with an HTTP response (ASGI "WebSocket Denial Response" extension).

    When the server lists ``websocket.http.response`` in ``scope["extensions"]``, ``response`` (any
    ASGI app, e.g. a ``starlette.responses.Response``) is called with the WebSocket's own state
    checked raw ``receive``/``send``, so it sends ``websocket.http.response.start`` and ``...body``.
    Otherwise the connection is closed before accept, which servers answer with HTTP 403, as the
    Starlette docs say.

    Args:
        websocket: the connection.
        response: the ASGI app that sends the response.
        base (type): the core class (either twin) whose raw ``receive``/``send``/``close`` are used,
            since a dialect subclass may give those names another meaning (Bocadillo's typed
            ``receive``/``send``, MicroPie's server callables).

    Raises:
        RuntimeError: the connection was already accepted (a denial must come before accept).
        WebSocketDisconnected: the connection was already closed.

    Source: Starlette docs "Rejecting the connection"; ASGI spec 2.4 WebSocket Denial Response.
    """
    extensions = websocket.scope.get("extensions") or {}
    if "websocket.http.response" in extensions:
        await response(websocket.scope, partial(base.receive, websocket), partial(base.send, websocket))
        return
    state = websocket.application_state
    if state.name == "CONNECTING" or state.name == "DISCONNECTED":  # any dialect's enum
        await base.close(websocket)  # raises WebSocketDisconnected when already closed
        return
    raise RuntimeError(f"A denial response can only be sent before accept(); the application state is {state.name}.")


def session(scope: Any) -> Any:
    """``scope["session"]``, marked as accessed (Starlette's ``SessionMiddleware``).

    Raises:
        AssertionError: no session middleware put a session in the scope.
    """
    assert "session" in scope, "SessionMiddleware must be installed to access request.session"
    value = scope["session"]
    if hasattr(value, "mark_accessed"):
        value.mark_accessed()
    return value


def url_for(websocket: Any, name: str, /, **path_params: Any) -> URL:
    """The absolute URL of the route ``name`` (Starlette routing).

    Raises:
        RuntimeError: the scope has no ``router`` or ``app`` that can build URLs.
        starlette.routing.NoMatchFound: no route of that name and parameters.
    """
    provider = websocket.scope.get("router") or websocket.scope.get("app")
    if provider is None:
        raise RuntimeError("The `url_for` method can only be used inside a Starlette application or with a router.")
    url_path = provider.url_path_for(name, **path_params)
    # The router builds a starlette URL; fastws returns its own URL class with the same text.
    return URL(str(url_path.make_absolute_url(base_url=websocket.base_url)))
