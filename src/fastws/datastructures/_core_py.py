"""Header multidict, query-string and cookie parsing, URL assembly: the pure-Python twin of
``_core_c.pyx``.

Behaviour, errors and messages follow ``starlette.datastructures``/``starlette.requests`` 1.10.0.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from http.cookies import _unquote as _cookie_unquote
from operator import itemgetter
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlencode

from fastws.datastructures._host import parse_host_header
from fastws.datastructures._multidict import MutableHeadersMixin, multidict_items

__all__ = [
    "Headers",
    "MutableHeaders",
    "QueryParams",
    "parse_cookie",
    "parse_query_string",
    "url_from_scope",
]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def parse_query_string(query_string: str | bytes) -> list[tuple[str, str]]:
    """Split a URL query string into decoded ``(name, value)`` pairs.

    ``&`` separates fields, the first ``=`` separates name from value (a field without one has the
    value ``""``), empty fields are skipped, ``+`` is a space, ``%XX`` escapes are decoded as UTF-8
    with invalid sequences replaced by U+FFFD, and a ``%`` not followed by two hex digits is kept.
    Bytes are read as latin-1, as ASGI servers pass the raw query.

    Args:
        query_string (str | bytes): the query, without the leading ``?``.

    Returns:
        list[tuple[str, str]]: the pairs in order, blank values and duplicates kept.

    Raises:
        TypeError: ``query_string`` is neither ``str`` nor ``bytes``.

    Source: ``urllib.parse.parse_qsl(..., keep_blank_values=True)`` as
    ``starlette.datastructures.QueryParams`` (1.10.0) calls it.
    """
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    elif not isinstance(query_string, str):
        raise TypeError(f"Expected a str or bytes query string, got {type(query_string).__name__}")
    return parse_qsl(query_string, keep_blank_values=True)


def parse_cookie(cookie_string: str) -> dict[str, str]:
    """Parse a ``Cookie`` header into a dict, as browsers do rather than as RFC 6265 says.

    ``;`` separates pairs, the first ``=`` splits name from value (a chunk without one has the
    name ``""``), both are stripped of whitespace, empty pairs are skipped, a later pair wins, and a
    double-quoted value is unquoted with Python's cookie rules (``\\"`` and octal escapes).

    Args:
        cookie_string (str): the header value.

    Returns:
        dict[str, str]: cookie name to value.

    Raises:
        AttributeError: ``cookie_string`` is not a ``str``.

    Source: ``starlette.requests.cookie_parser`` (1.10.0).
    """
    cookie_dict: dict[str, str] = {}
    for chunk in cookie_string.split(";"):
        if "=" in chunk:
            key, val = chunk.split("=", 1)
        else:
            # Assume an empty name per https://bugzilla.mozilla.org/show_bug.cgi?id=169091
            key, val = "", chunk
        key, val = key.strip(), val.strip()
        if key or val:
            cookie_dict[key] = _cookie_unquote(val)
    return cookie_dict


def url_from_scope(scope: Mapping[str, Any]) -> str:
    """The full URL of an ASGI connection.

    The authority is the ``Host`` header when it is valid (``starlette._utils.parse_host_header``),
    else ``server`` (default ports omitted, IPv6 bracketed), else none (a relative URL). ``?``,
    ``#`` and ``\\`` in the path are percent-escaped.

    Args:
        scope (Mapping): an ASGI scope with ``path`` and ``headers``; ``scheme`` defaults to
            ``"http"`` and ``query_string`` to ``b""``, as in Starlette.

    Returns:
        str: e.g. ``"ws://example.com:8000/chat?room=1"``.

    Raises:
        KeyError: ``scope`` has no ``path`` or ``headers``; or the URL is built from ``server`` and
            the scheme is not one of http, https, ws, wss.
        UnicodeDecodeError: ``query_string`` is not UTF-8.

    Source: ``starlette.datastructures.URL.__init__(scope=...)`` (1.10.0).
    """
    scheme = scope.get("scheme", "http")
    server = scope.get("server", None)
    path = scope["path"].replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
    query_string = scope.get("query_string", b"")

    host_header = None
    for key, value in scope["headers"]:
        if key == b"host":
            host_header = value.decode("latin-1")
            break

    parsed_host = parse_host_header(host_header)
    if parsed_host is not None and parsed_host.is_valid_port:
        netloc = parsed_host.authority
    elif server is not None:
        host, port = server
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        default_port = _DEFAULT_PORTS[scheme]
        netloc = host if port == default_port else f"{host}:{port}"
    else:
        netloc = None

    query = query_string.decode()
    if netloc is not None:
        return SplitResult(scheme=scheme, netloc=netloc, path=path, query=query, fragment="").geturl()
    if path.startswith("//"):
        # Without a host, a leading `//` would be parsed as the authority.
        path = "/%2F" + path[2:]
    return f"{path}?{query}" if query else path


class Headers:
    """An immutable, case-insensitive multidict of HTTP headers.

    Args:
        headers (Mapping[str, str] | None): build from a mapping (keys lower-cased, latin-1).
        raw (list[tuple[bytes, bytes]] | None): use these raw pairs (lower-case names), not copied.
        scope (MutableMapping | None): use ``scope["headers"]``; it is turned into a list in place.

    Lookups lower-case the key and compare it with the raw names; values are decoded as latin-1.
    ``h[key]`` returns the first value, ``getlist`` all of them.

    Raises:
        AssertionError: more than one of ``headers``, ``raw`` and ``scope`` given.
        KeyError: ``h[key]`` for a missing header.
        AttributeError: a lookup with a key that is not a ``str``.

    Source: ``starlette.datastructures.Headers`` (1.10.0).
    """

    __slots__ = ("_list",)

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        raw: list[tuple[bytes, bytes]] | None = None,
        scope: Any = None,
    ) -> None:
        self._list: list[tuple[bytes, bytes]] = []
        if headers is not None:
            assert raw is None, 'Cannot set both "headers" and "raw".'
            assert scope is None, 'Cannot set both "headers" and "scope".'
            self._list = [(key.lower().encode("latin-1"), value.encode("latin-1")) for key, value in headers.items()]
        elif raw is not None:
            assert scope is None, 'Cannot set both "raw" and "scope".'
            self._list = raw
        elif scope is not None:
            # scope["headers"] isn't necessarily a list; it might be a tuple or other iterable.
            self._list = scope["headers"] = list(scope["headers"])

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """list[tuple[bytes, bytes]]: a copy of the raw ``(name, value)`` pairs."""
        return list(self._list)

    def keys(self) -> list[str]:
        """list[str]: every header name, duplicates kept, in order."""
        return [key.decode("latin-1") for key, _ in self._list]

    def values(self) -> list[str]:
        """list[str]: every header value, in order."""
        return [value.decode("latin-1") for _, value in self._list]

    def items(self) -> list[tuple[str, str]]:
        """list[tuple[str, str]]: every ``(name, value)`` pair, decoded, in order."""
        return [(key.decode("latin-1"), value.decode("latin-1")) for key, value in self._list]

    def multi_items(self) -> list[tuple[str, str]]:
        """list[tuple[str, str]]: the same as ``items()`` (every pair, duplicates kept)."""
        return self.items()

    def getlist(self, key: str) -> list[str]:
        """All values of header ``key`` (case-insensitive), in order; ``[]`` when absent."""
        get_header_key = key.lower().encode("latin-1")
        return [value.decode("latin-1") for item_key, value in self._list if item_key == get_header_key]

    def get(self, key: str, default: Any = None) -> Any:
        """The first value of header ``key``, or ``default``."""
        get_header_key = key.lower().encode("latin-1")
        for header_key, header_value in self._list:
            if header_key == get_header_key:
                return header_value.decode("latin-1")
        return default

    def mutablecopy(self) -> MutableHeaders:
        """MutableHeaders: a mutable copy."""
        return MutableHeaders(raw=self._list[:])

    def __getitem__(self, key: str) -> str:
        get_header_key = key.lower().encode("latin-1")
        for header_key, header_value in self._list:
            if header_key == get_header_key:
                return header_value.decode("latin-1")
        raise KeyError(key)

    def __contains__(self, key: Any) -> bool:
        get_header_key = key.lower().encode("latin-1")
        for header_key, _ in self._list:
            if header_key == get_header_key:
                return True
        return False

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._list)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Headers):
            return False
        return sorted(self._list) == sorted(other._list)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        class_name = self.__class__.__name__
        as_dict = dict(self.items())
        if len(as_dict) == len(self):
            return f"{class_name}({as_dict!r})"
        return f"{class_name}(raw={self.raw!r})"


Mapping.register(Headers)


class MutableHeaders(MutableHeadersMixin, Headers):
    """Headers that can be changed in place (``h[key] = value``, ``del``, ``append``, ``update``).

    Source: ``starlette.datastructures.MutableHeaders`` (1.10.0).
    """

    __slots__ = ()


class QueryParams:
    """An immutable multidict of query parameters.

    Args:
        *args: at most one of: a query string (``str``, or ``bytes`` read as latin-1, parsed by
            ``parse_query_string``), a multidict, a mapping, or an iterable of pairs.
        **kwargs: more pairs, after those of ``args[0]``.

    Keys and values are converted with ``str()``. ``qp[key]`` and ``get`` give the last value of a
    repeated key, ``getlist`` all of them.

    Raises:
        AssertionError: more than one positional argument.
        KeyError: ``qp[key]`` for a missing key.

    Source: ``starlette.datastructures.QueryParams`` (1.10.0).
    """

    __slots__ = ("_dict", "_list")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        assert len(args) < 2, "Too many arguments."
        value = args[0] if args else []
        if isinstance(value, (str, bytes)):
            value = parse_query_string(value)
            if not kwargs:
                self._list: list[tuple[str, str]] = value
                self._dict: dict[str, str] = dict(value)
                return
        items = multidict_items(value, kwargs)
        self._list = [(str(k), str(v)) for k, v in items]
        self._dict = {str(k): str(v) for k, v in {k: v for k, v in items}.items()}

    def getlist(self, key: Any) -> list[str]:
        """All values of ``key``, in order; ``[]`` when absent."""
        return [item_value for item_key, item_value in self._list if item_key == key]

    def keys(self) -> KeysView[str]:
        """KeysView[str]: the distinct keys."""
        return self._dict.keys()

    def values(self) -> ValuesView[str]:
        """ValuesView[str]: the last value of each key."""
        return self._dict.values()

    def items(self) -> ItemsView[str, str]:
        """ItemsView[str, str]: ``(key, last value)`` pairs."""
        return self._dict.items()

    def multi_items(self) -> list[tuple[str, str]]:
        """list[tuple[str, str]]: every pair, duplicates kept, in order."""
        return list(self._list)

    def get(self, key: Any, default: Any = None) -> Any:
        """The last value of ``key``, or ``default``."""
        return self._dict.get(key, default)

    def __getitem__(self, key: Any) -> str:
        return self._dict[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, self.__class__):
            return False
        return sorted(self._list, key=itemgetter(0)) == sorted(other._list, key=itemgetter(0))

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return urlencode(self._list)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({str(self)!r})"


Mapping.register(QueryParams)
