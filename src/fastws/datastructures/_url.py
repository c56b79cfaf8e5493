"""URL, Address and State: connection info that is built once per connection.

Shared by both implementations: only the URL assembly from a scope (``url_from_scope``) is a hot
kernel with twins; these classes wrap its result. Behaviour follows
``starlette.datastructures`` and ``starlette._utils`` 1.10.0.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple
from urllib.parse import SplitResult, urlencode, urlsplit

from fastws.datastructures._core import parse_query_string, url_from_scope

__all__ = ["URL", "Address", "State", "base_url_scope"]


def base_url_scope(scope: Any) -> dict[str, Any]:
    """The scope of the application's root URL: ``path`` is the (app) root path with a trailing
    slash, no query string.

    Args:
        scope (Mapping): an ASGI ``websocket`` or ``http`` scope.

    Returns:
        dict: a shallow copy of ``scope`` with ``path``, ``query_string`` and ``root_path`` replaced.

    Source: ``starlette.requests.HTTPConnection.base_url`` (1.10.0).
    """
    base: dict[str, Any] = dict(scope)
    app_root_path: str = base.get("app_root_path", base.get("root_path", ""))
    path = app_root_path if app_root_path.endswith("/") else app_root_path + "/"
    base["path"] = path
    base["query_string"] = b""
    base["root_path"] = app_root_path
    return base


class Address(NamedTuple):
    """The client's or server's network address from the ASGI scope (``client``/``server``).

    Attributes:
        host (str): IP address or Unix socket path.
        port (int): TCP port.

    Source: ``starlette.datastructures.Address`` (1.10.0).
    """

    host: str
    port: int


class URL:
    """A URL: a string with its parsed components (``urllib.parse.urlsplit``).

    Args:
        url (str): the URL text.
        scope (Mapping | None): build the URL of an ASGI connection instead: scheme, ``Host`` header
            (or ``server``), path and query string (``fastws.datastructures.url_from_scope``).
        **components: build from ``scheme``, ``netloc``, ``path``, ``query``, ``fragment``.

    Raises:
        AssertionError: more than one of ``url``, ``scope`` and ``components`` given (as Starlette).
        KeyError: ``scope`` has no ``path`` or no ``headers``, or an unknown ``scheme`` with no usable
            ``Host`` header.
        UnicodeDecodeError: ``scope["query_string"]`` is not UTF-8.

    Source: ``starlette.datastructures.URL`` (1.10.0).
    """

    def __init__(self, url: str = "", scope: Any = None, **components: Any) -> None:
        if scope is not None:
            assert not url, 'Cannot set both "url" and "scope".'
            assert not components, 'Cannot set both "scope" and "**components".'
            url = url_from_scope(scope)
        elif components:
            assert not url, 'Cannot set both "url" and "**components".'
            url = URL("").replace(**components).components.geturl()
        self._url = url

    @property
    def components(self) -> SplitResult:
        """SplitResult: the parsed URL (computed once)."""
        try:
            return self._components
        except AttributeError:
            self._components: SplitResult = urlsplit(self._url)
            return self._components

    @property
    def scheme(self) -> str:
        """str: ``ws``, ``wss``, ``http`` or ``https``."""
        return self.components.scheme

    @property
    def netloc(self) -> str:
        """str: ``host[:port]`` with any user info."""
        return self.components.netloc

    @property
    def path(self) -> str:
        """str: the path, percent-escapes kept."""
        return self.components.path

    @property
    def query(self) -> str:
        """str: the query string without ``?``."""
        return self.components.query

    @property
    def fragment(self) -> str:
        """str: the fragment without ``#``."""
        return self.components.fragment

    @property
    def username(self) -> str | None:
        """str | None: user name from the netloc."""
        return self.components.username

    @property
    def password(self) -> str | None:
        """str | None: password from the netloc."""
        return self.components.password

    @property
    def hostname(self) -> str | None:
        """str | None: host, lower-cased, without brackets or port."""
        return self.components.hostname

    @property
    def port(self) -> int | None:
        """int | None: the explicit port, ``None`` when the URL has none.

        Raises:
            ValueError: the port is not a number in 0-65535.
        """
        return self.components.port

    @property
    def is_secure(self) -> bool:
        """bool: scheme is ``https`` or ``wss``."""
        return self.scheme in ("https", "wss")

    def replace(self, **kwargs: Any) -> URL:
        """A copy with some components replaced.

        Args:
            **kwargs: ``scheme``, ``netloc``, ``path``, ``query``, ``fragment``, or ``username``,
                ``password``, ``hostname``, ``port`` (which rebuild the netloc).

        Returns:
            URL: the new URL.

        Raises:
            ValueError: an unknown component name.
        """
        if "username" in kwargs or "password" in kwargs or "hostname" in kwargs or "port" in kwargs:
            hostname = kwargs.pop("hostname", None)
            port = kwargs.pop("port", self.port)
            username = kwargs.pop("username", self.username)
            password = kwargs.pop("password", self.password)
            if hostname is None:
                netloc = self.netloc
                _, _, hostname = netloc.rpartition("@")
                if hostname and hostname[-1] != "]":
                    hostname = hostname.rsplit(":", 1)[0]
            elif ":" in hostname and not hostname.startswith("["):
                try:
                    ipaddress.IPv6Address(hostname)
                except ValueError:
                    pass
                else:
                    hostname = f"[{hostname}]"
            netloc = hostname
            if port is not None:
                netloc += f":{port}"
            if username is not None:
                userpass = username
                if password is not None:
                    userpass += f":{password}"
                netloc = f"{userpass}@{netloc}"
            kwargs["netloc"] = netloc
        components = self.components._replace(**kwargs)
        return self.__class__(components.geturl())

    def include_query_params(self, **kwargs: Any) -> URL:
        """A copy with these query parameters set (others kept).

        Returns:
            URL: the new URL.
        """
        items = [(k, v) for k, v in parse_query_string(self.query) if k not in kwargs]
        items += [(str(key), str(value)) for key, value in kwargs.items()]
        return self.replace(query=urlencode(items))

    def replace_query_params(self, **kwargs: Any) -> URL:
        """A copy whose query is exactly these parameters.

        Returns:
            URL: the new URL.
        """
        query = urlencode([(str(key), str(value)) for key, value in kwargs.items()])
        return self.replace(query=query)

    def remove_query_params(self, keys: str | Sequence[str]) -> URL:
        """A copy without the named query parameters.

        Args:
            keys (str | Sequence[str]): one name or several.

        Returns:
            URL: the new URL.
        """
        if isinstance(keys, str):
            keys = [keys]
        items = [(k, v) for k, v in parse_query_string(self.query) if k not in keys]
        return self.replace(query=urlencode(items))

    def __eq__(self, other: Any) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._url)

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        url = str(self)
        if self.password:
            url = str(self.replace(password="********"))
        return f"{self.__class__.__name__}({url!r})"


class State:
    """Arbitrary per-connection state, backed by the scope's ``state`` dict.

    Attribute and item access both read and write the dict.

    Args:
        state (dict | None): the backing dict; a new one when ``None``.

    Raises:
        AttributeError: reading an attribute that was never set.
        KeyError: reading or deleting a missing item.

    Source: ``starlette.datastructures.State`` (1.10.0).
    """

    _state: dict[str, Any]

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        if state is None:
            state = {}
        super().__setattr__("_state", state)

    def __setattr__(self, key: Any, value: Any) -> None:
        self._state[key] = value

    def __getattr__(self, key: Any) -> Any:
        try:
            return self._state[key]
        except KeyError:
            message = "'{}' object has no attribute '{}'"
            raise AttributeError(message.format(self.__class__.__name__, key))

    def __delattr__(self, key: Any) -> None:
        del self._state[key]

    def __getitem__(self, key: str) -> Any:
        return self._state[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._state[key] = value

    def __delitem__(self, key: str) -> None:
        del self._state[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __len__(self) -> int:
        return len(self._state)
