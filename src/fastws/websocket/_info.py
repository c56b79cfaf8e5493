"""The connection-info properties of the WebSocket class, shared by both twins: the handshake's
app, URL, path parameters, client address, state, session, auth and user, and ``url_for``.

None of them is on a per-message path, so they are plain Python in one place: the pure twin inherits
``ConnectionInfo``, the compiled class copies its descriptors. The three that a handshake reads
most (``headers``, ``query_params``, ``cookies``) stay in each twin: moved here they cost the
handshake-info benchmark 28% on the compiled twin (issue 16). Values are cached in the instance's
``__dict__`` (``_url``, ``_state``).

Source: ``starlette.requests.HTTPConnection`` (1.10.0).
"""

from __future__ import annotations

from typing import Any

from fastws.datastructures._url import URL, Address, State, base_url_scope
from fastws.websocket import _connection

__all__ = ["ConnectionInfo"]


class ConnectionInfo:
    """Mixin: the connection-info properties (see the module docstring). A class using it has a
    ``scope`` attribute, an instance ``__dict__`` and ``_fastws_url_from_scope``, its twin's
    ``url_from_scope`` kernel (a ``staticmethod``)."""

    __slots__ = ()
    scope: Any
    _fastws_url_from_scope: Any

    @property
    def app(self) -> Any:
        """The ASGI application that handles the connection (``scope["app"]``).

        Raises:
            KeyError: the server or framework put no ``app`` in the scope.
        """
        return self.scope["app"]

    @property
    def url(self) -> URL:
        """URL: the connection's URL (``ws://host:port/path?query``), built once from the scope: the
        ``Host`` header when valid, else ``server``.

        Raises:
            KeyError: the scope has no ``path`` or ``headers``.
            UnicodeDecodeError: the query string is not UTF-8.
        """
        url = self.__dict__.get("_url")
        if url is None:
            url = self.__dict__["_url"] = URL(self._fastws_url_from_scope(self.scope))
        return url

    @property
    def base_url(self) -> URL:
        """URL: the application's root URL (``root_path`` with a trailing slash, no query).
        """
        return URL(self._fastws_url_from_scope(base_url_scope(self.scope)))

    @property
    def path_params(self) -> dict[str, Any]:
        """dict[str, Any]: the router's path parameters (``scope["path_params"]``, ``{}`` when absent).
        """
        return self.scope.get("path_params", {})

    @property
    def client(self) -> Address | None:
        """Address | None: the client's ``(host, port)`` from ``scope["client"]``, ``None`` when unknown.
        """
        host_port = self.scope.get("client")
        if host_port is not None:
            return Address(*host_port)
        return None

    @property
    def state(self) -> State:
        """State: per-connection state backed by ``scope["state"]`` (created empty when absent).
        """
        state = self.__dict__.get("_state")
        if state is None:
            self.scope.setdefault("state", {})
            state = self.__dict__["_state"] = State(self.scope["state"])
        return state

    @property
    def session(self) -> Any:
        """The session dict put in the scope by Starlette's ``SessionMiddleware``.

        Raises:
            AssertionError: no session middleware is installed.
        """
        return _connection.session(self.scope)

    @property
    def auth(self) -> Any:
        """The credentials put in the scope by ``AuthenticationMiddleware``.

        Raises:
            AssertionError: no authentication middleware is installed.
        """
        assert "auth" in self.scope, "AuthenticationMiddleware must be installed to access request.auth"
        return self.scope["auth"]

    @property
    def user(self) -> Any:
        """The user put in the scope by ``AuthenticationMiddleware``.

        Raises:
            AssertionError: no authentication middleware is installed.
        """
        assert "user" in self.scope, "AuthenticationMiddleware must be installed to access request.user"
        return self.scope["user"]

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        """The absolute URL of a named route of the app or router in the scope.

        Args:
            name (str): the route name.
            **path_params: its path parameters.

        Returns:
            URL: the absolute URL.

        Raises:
            RuntimeError: the scope has no ``router`` or ``app`` that builds URLs.
            starlette.routing.NoMatchFound: no route of that name and parameters.
        """
        return _connection.url_for(self, name, **path_params)
