"""Rejecting cross-site WebSocket hijacking: the handshake's ``Origin`` against an allow-list.

Browsers send cookies and HTTP auth with a WebSocket handshake to any site, and the same-origin
policy does not apply to WebSockets, so a page on ``https://evil.example`` can open a socket to
your app as the logged-in user ("cross-site WebSocket hijacking"). The defence is to check the
``Origin`` header the browser adds to every handshake (RFC 6455 sections 4.1 and 10.2, RFC 6454)
and reject the ones you do not serve, before ``accept``.

By default fastws, like Starlette, accepts any ``Origin``. Two ways to restrict it, usable with
every dialect and framework:

- ``OriginMiddleware(app, allowed=[...])``: an ASGI middleware that denies a disallowed handshake
  with HTTP 403 before the app runs (the framework-agnostic way);
- ``check_origin(websocket, allowed=[...])`` inside an endpoint, then ``close()`` (HTTP 403 before
  accept) or ``send_denial_response``.

See docs/errors.md, "Cross-site WebSocket hijacking".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastws.protocol.http import PlainTextResponse

__all__ = ["OriginMiddleware", "check_origin", "deny", "origin_allowed"]

_DENIAL_BODY = b"Forbidden: WebSocket Origin not allowed"


def _normalise(origin: str) -> str:
    # Origins compare as ASCII case-insensitive serialisations (RFC 6454 section 6.2), without a
    # trailing slash some clients add.
    return origin.strip().rstrip("/").lower()


def _allow_set(allowed: Iterable[str] | str) -> frozenset[str]:
    if isinstance(allowed, str):
        allowed = [allowed]
    result = set()
    for origin in allowed:
        if not isinstance(origin, str):
            raise TypeError(f"allowed origins must be str, got {type(origin).__name__}")
        result.add(_normalise(origin))
    return frozenset(result)


def _origins(scope: Mapping[str, Any]) -> list[bytes]:
    return [value for name, value in scope.get("headers") or () if bytes(name).lower() == b"origin"]


def origin_allowed(scope: Mapping[str, Any], allowed: Iterable[str] | str, allow_missing: bool = True) -> bool:
    """Whether a handshake's ``Origin`` header is on the allow-list.

    Args:
        scope (Mapping): an ASGI ``websocket`` scope (its ``headers``).
        allowed (Iterable[str] | str): origins such as ``"https://example.com"`` or
            ``"http://localhost:8000"`` (scheme, host and the port when not the default; compared
            case-insensitively, a trailing ``/`` ignored); ``"*"`` allows any. ``"null"`` (sandboxed
            pages, ``file:`` URLs) is allowed only when listed.
        allow_missing (bool): allow a handshake without ``Origin`` (default ``True``: browsers always
            send one, so its absence means a non-browser client, which CSWSH does not concern).

    Returns:
        bool: ``True`` when the handshake may proceed. Several ``Origin`` headers, or one that is
        not ASCII, are never allowed.

    Raises:
        TypeError: an allowed origin is not a ``str``.

    Source: RFC 6455 sections 4.1 (the client sends ``Origin``) and 10.2 (the server checks it);
    RFC 6454 (the Web Origin concept).
    """
    allow = _allow_set(allowed)
    values = _origins(scope)
    if not values:
        return allow_missing
    if len(values) > 1:
        return False
    try:
        origin = bytes(values[0]).decode("ascii")
    except UnicodeDecodeError:
        return False
    return "*" in allow or _normalise(origin) in allow


def check_origin(websocket: Any, allowed: Iterable[str] | str, allow_missing: bool = True) -> bool:
    """Whether a connection's ``Origin`` is allowed: ``origin_allowed`` on ``websocket.scope``.

    Call it before ``accept``; when it returns ``False``, reject the handshake with
    ``await websocket.close()`` (servers answer HTTP 403) or ``send_denial_response``.

    Args:
        websocket: a fastws (any dialect) or Starlette WebSocket, or an ASGI scope itself.
        allowed (Iterable[str] | str), allow_missing (bool): as ``origin_allowed``.

    Returns:
        bool: ``True`` when the handshake may proceed.

    Raises:
        TypeError: an allowed origin is not a ``str``.
    """
    scope = websocket if isinstance(websocket, Mapping) and "type" in websocket else websocket.scope
    return origin_allowed(scope, allowed, allow_missing)


class OriginMiddleware:
    """ASGI middleware that denies WebSocket handshakes from origins not on an allow-list.

    ``app = OriginMiddleware(app, allowed=["https://example.com"])`` wraps any ASGI app (Starlette,
    FastAPI, Lilya, fastws's ``App``, ...). A ``websocket`` connection whose ``Origin`` is not
    allowed never reaches the app: the middleware answers with HTTP 403 and the body
    ``Forbidden: WebSocket Origin not allowed`` through the ``websocket.http.response`` extension
    when the server offers it (uvicorn, hypercorn), else with ``websocket.close`` before accept
    (which servers answer with HTTP 403). HTTP and lifespan traffic pass through untouched.

    Args:
        app: the ASGI application.
        allowed (Iterable[str] | str): allowed origins, as ``origin_allowed``.
        allow_missing (bool): let handshakes without ``Origin`` (non-browser clients) through
            (default ``True``).

    Raises:
        TypeError: an allowed origin is not a ``str`` (at construction).

    Source: RFC 6455 section 10.2; ASGI spec 2.4 (WebSocket Denial Response extension).
    """

    def __init__(self, app: Any, allowed: Iterable[str] | str, allow_missing: bool = True) -> None:
        self.app = app
        self.allowed = _allow_set(allowed)
        self.allow_missing = allow_missing

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket" or origin_allowed(scope, self.allowed, self.allow_missing):
            await self.app(scope, receive, send)
            return
        await deny(scope, send)


async def deny(scope: Mapping[str, Any], send: Any, status: int = 403) -> None:
    """Reject a WebSocket handshake before accept with an HTTP ``status`` (default 403).

    Args:
        scope (Mapping): the ASGI ``websocket`` scope (its ``extensions``).
        send (async callable): the server's ``send``.
        status (int): the HTTP status of the denial response, when the server supports one.

    Sends ``websocket.http.response.start``/``.body`` when ``scope["extensions"]`` lists
    ``websocket.http.response``; otherwise ``websocket.close`` (code 1008, policy violation), which
    a server answers with HTTP 403 before accept.
    """
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await PlainTextResponse(_DENIAL_BODY, status=status)(scope, None, send)
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": ""})
