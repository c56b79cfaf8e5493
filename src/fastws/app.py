"""``fastws.App``: framework-free WebSocket routing, Yaat 0.1.10's routing API.

An ``App`` is an ASGI 3 application that routes WebSocket connections by path to handlers
``async def handler(websocket)``, each given a ``fastws.dialects.yaat.WebSocket`` (the Yaat API
this routing comes from; or the ``websocket_class`` asked for, e.g. ``fastws.WebSocket``). Path
parameters such as ``/ws/{room}`` or ``/items/{id:int}`` land in ``websocket.path_params``. A
WebSocket to an unknown path is denied before accept (a ``websocket.close``, which servers answer
with HTTP 403); an HTTP request gets a plain ``404 Not Found``; the lifespan protocol is answered.

Source: Yaat 0.1.10 documentation, "WebSockets" page ("WebSocket Route", ``add_websocket_route``, "Mounting WebSocket
Routes"); path parameter syntax and convertors as Starlette's routing (``str``, ``int``, ``path``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["App"]


def _yaat_websocket_class() -> type:
    # Imported on first use: with Yaat installed the dialect imports Yaat, which imports the old
    # `multipart` module name (python-multipart warns about it; nothing an App user can act on).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        from fastws.dialects import yaat
    cls: type = yaat.WebSocket
    return cls


def _yaat_router(router: Any) -> Any:
    # A Yaat router (yaat.routing.Router, or a Yaat app's .router): what get_route() is called on.
    if hasattr(router, "get_route") and hasattr(router, "routes"):
        return router
    inner = getattr(router, "router", None)
    if inner is not None and hasattr(inner, "get_route") and hasattr(inner, "routes"):
        return inner
    return None

Handler = Callable[[Any], Awaitable[None]]

# Convertor name -> (regex, conversion), as Starlette's routing names them.
_CONVERTORS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "str": ("[^/]+", str),
    "int": ("[0-9]+", int),
    "path": (".*", str),
}
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_][a-zA-Z0-9_]*))?}")


def _compile(path: str) -> tuple[re.Pattern[str], dict[str, Callable[[str], Any]]]:
    # "/ws/{room}" -> a full-match regex with one named group per parameter, and the conversions.
    if not path.startswith("/"):
        raise ValueError(f"A route path must start with '/', got {path!r}")
    pattern, convert, end = "", {}, 0
    for match in _PARAM.finditer(path):
        name, kind = match.group(1), match.group(2) or "str"
        if kind not in _CONVERTORS:
            raise ValueError(f"Unknown path convertor {kind!r} in {path!r} (known: str, int, path)")
        if name in convert:
            raise ValueError(f"Duplicate path parameter {name!r} in {path!r}")
        regex, convert[name] = _CONVERTORS[kind]
        pattern += re.escape(path[end : match.start()]) + f"(?P<{name}>{regex})"
        end = match.end()
    pattern += re.escape(path[end:])
    return re.compile(pattern), convert


def _normalise_prefix(prefix: str) -> str:
    prefix = "/" + prefix.strip("/")
    return "" if prefix == "/" else prefix


class App:
    """A WebSocket router and ASGI application.

    Args:
        websocket_class (type | None): what each connection is wrapped in, called as
            ``websocket_class(scope, receive, send)``; default ``fastws.dialects.yaat.WebSocket``
            (Yaat's WebSocket API on fastws's core; Yaat's own classes when Yaat is installed).
            ``fastws.WebSocket`` gives Starlette's API.

    Routes are tried in the order they were added, then the mounted routers in theirs.

    Example::

        app = fastws.App()

        @app.websocket_route("/ws/{room}")
        async def chat(websocket):
            await websocket.accept()
            async for text in websocket.iter_text():
                await websocket.send_text(f"{websocket.path_params['room']}: {text}")

    Source: Yaat 0.1.10 documentation, "WebSockets" page: routing (``websocket_route``,
    ``add_websocket_route``, ``mount``).
    """

    def __init__(self, websocket_class: type | None = None) -> None:
        self.websocket_class: type = _yaat_websocket_class() if websocket_class is None else websocket_class
        self.routes: list[tuple[str, re.Pattern[str], dict[str, Callable[[str], Any]], Handler]] = []
        self.mounts: list[tuple[str, Any, bool]] = []

    def add_websocket_route(self, path: str, handler: Handler) -> None:
        """Route WebSocket connections to ``path`` to ``handler``.

        Args:
            path (str): starts with ``/``; ``{name}``, ``{name:int}`` or ``{name:path}`` segments are
                path parameters (``str`` matches one segment, ``int`` digits, ``path`` the rest).
            handler (async callable): ``await handler(websocket)``.

        Raises:
            ValueError: the path does not start with ``/``, names an unknown convertor or repeats a
                parameter.
        """
        pattern, convert = _compile(path)
        self.routes.append((path, pattern, convert, handler))

    def websocket_route(self, path: str) -> Callable[[Handler], Handler]:
        """Decorator form of ``add_websocket_route``: ``@app.websocket_route("/ws/{room}")``.

        Returns:
            Callable: registers the decorated handler and returns it unchanged.
        """

        def register(handler: Handler) -> Handler:
            self.add_websocket_route(path, handler)
            return handler

        return register

    def mount(self, prefix: str, router: Any, websocket: bool = True) -> None:
        """Serve ``router`` under ``prefix``.

        Args:
            prefix (str): the path prefix (``"ws"`` and ``"/ws/"`` both mean ``/ws``).
            router: with ``websocket=True``, another ``App`` or a Yaat router
                (``yaat.routing.Router``, or a ``yaat.Yaat`` app's router) whose WebSocket routes
                are matched against the rest of the path (``/ws`` + ``/chat/{room}``; a Yaat route's
                parameters land in ``path_params`` as strings); with ``websocket=False``, any ASGI
                application, given the HTTP requests under the prefix (``root_path`` extended,
                ``path`` kept, as Starlette's ``Mount`` does).
            websocket (bool): which of the two (Yaat docs, "Mounting WebSocket Routes":
                ``app.mount(prefix="ws", router=WebSocketRouter, websocket=True)``).

        Raises:
            TypeError: ``websocket=True`` and ``router`` is neither an ``App`` nor a Yaat router.
        """
        if websocket and not isinstance(router, App):
            yaat_router = _yaat_router(router)
            if yaat_router is None:
                raise TypeError(
                    f"mount(..., websocket=True) needs a fastws.App or a Yaat router, got {type(router).__name__}"
                )
            router = yaat_router
        self.mounts.append((_normalise_prefix(prefix), router, websocket))

    def match(self, path: str) -> tuple[Handler, dict[str, Any]] | None:
        """The handler and path parameters for a WebSocket ``path``, or ``None``.

        Args:
            path (str): the request path (``scope["path"]``).

        Returns:
            tuple[handler, dict[str, Any]] | None: the parameters converted (``int`` ones as ``int``).
        """
        for _path, pattern, convert, handler in self.routes:
            found = pattern.fullmatch(path)
            if found is not None:
                return handler, {name: convert[name](value) for name, value in found.groupdict().items()}
        for prefix, router, websocket in self.mounts:
            if websocket and (path == prefix or path.startswith(prefix + "/")):
                rest = path[len(prefix) :] or "/"
                if isinstance(router, App):
                    matched = router.match(rest)
                    if matched is not None:
                        return matched
                    continue
                route, params = router.get_route(request_path=rest)  # a Yaat router
                if route is not None and route.handler is not None and getattr(route.type, "name", "") == "WEBSOCKET":
                    return route.handler, dict(params or {})
        return None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "websocket":
            matched = self.match(scope["path"])
            if matched is None:
                # Denial before accept: servers answer the handshake with HTTP 403.
                await send({"type": "websocket.close", "code": 1000, "reason": ""})
                return
            handler, params = matched
            scope["path_params"] = {**scope.get("path_params", {}), **params}
            await handler(self.websocket_class(scope, receive, send))
        elif kind == "http":
            path = scope["path"]
            for prefix, router, websocket in self.mounts:
                if not websocket and prefix and (path == prefix or path.startswith(prefix + "/")):
                    child = dict(scope, root_path=scope.get("root_path", "") + prefix)
                    await router(child, receive, send)
                    return
            await send(
                {
                    "type": "http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"9")],
                }
            )
            await send({"type": "http.response.body", "body": b"Not Found"})
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
