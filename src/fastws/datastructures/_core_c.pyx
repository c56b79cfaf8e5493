# cython: language_level=3
"""Header multidict, query-string and cookie parsing, URL assembly: the compiled twin of
``_core_py.py``.

Behaviour, errors and messages follow ``starlette.datastructures``/``starlette.requests`` 1.10.0.
The query-string parser works on the raw bytes of the ASGI ``query_string`` and reproduces
``urllib.parse.parse_qsl(qs.decode("latin-1"), keep_blank_values=True)`` exactly: runs of ASCII
are percent-decoded and read as UTF-8 (errors replaced), bytes >= 0x80 stand for themselves.
"""

from collections.abc import Mapping
from http.cookies import _unquote as _cookie_unquote
from operator import itemgetter
from urllib.parse import SplitResult, parse_qsl, urlencode

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.unicode cimport PyUnicode_DecodeLatin1, PyUnicode_DecodeUTF8
from libc.string cimport memcmp

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object text)
    const char* PyUnicode_DATA_1BYTE "(const char*)PyUnicode_1BYTE_DATA"(object text)
    bint Py_UNICODE_ISSPACE(Py_UCS4 ch)
    Py_ssize_t PyUnicode_FindChar(object text, Py_UCS4 ch, Py_ssize_t start, Py_ssize_t end, int direction) except -2

from fastws.datastructures._multidict import MutableHeadersMixin, multidict_items
from fastws.datastructures._host import parse_host_header

__all__ = [
    "Headers",
    "MutableHeaders",
    "QueryParams",
    "parse_cookie",
    "parse_query_string",
    "url_from_scope",
]

cdef dict _DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


cdef inline int _hexval(unsigned char c) noexcept nogil:
    if c >= 48 and c <= 57:
        return c - 48
    if c >= 65 and c <= 70:
        return c - 55
    if c >= 97 and c <= 102:
        return c - 87
    return -1


cdef str _unquote_plus(const unsigned char* s, Py_ssize_t n, unsigned char* buf):
    """Decode one query field ``s[0:n]``: ``+`` to space, ``%XX`` in ASCII runs, UTF-8 with
    replacement per ASCII run, latin-1 for bytes >= 0x80 (``urllib.parse.unquote``'s rules).
    ``buf`` has room for ``n`` bytes."""
    cdef Py_ssize_t i = 0, j, out, start
    cdef unsigned char c
    cdef int hi, lo
    cdef bint plain = True
    for j in range(n):
        c = s[j]
        if c == 37 or c == 43 or c >= 128:  # '%', '+', non-ASCII
            plain = False
            break
    if plain:
        return PyUnicode_DecodeLatin1(<const char*>s, n, NULL)
    parts = []
    while i < n:
        start = i
        if s[i] >= 128:
            while i < n and s[i] >= 128:
                i += 1
            parts.append(PyUnicode_DecodeLatin1(<const char*>(s + start), i - start, NULL))
            continue
        out = 0
        while i < n and s[i] < 128:
            c = s[i]
            if c == 43:
                buf[out] = 32
                i += 1
            elif c == 37 and i + 2 < n:
                # Hex digits are ASCII, so a valid escape never reaches past this ASCII run.
                hi = _hexval(s[i + 1])
                lo = _hexval(s[i + 2])
                if hi >= 0 and lo >= 0:
                    buf[out] = <unsigned char>(hi * 16 + lo)
                    i += 3
                else:
                    buf[out] = c
                    i += 1
            else:
                buf[out] = c
                i += 1
            out += 1
        parts.append(PyUnicode_DecodeUTF8(<const char*>buf, out, "replace"))
    if len(parts) == 1:
        return parts[0]
    return "".join(parts)


cdef list _parse_qs_bytes(bytes data):
    cdef const unsigned char* s = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t pos = 0, end, eq, k
    cdef list result = []
    cdef unsigned char* buf
    if n == 0:
        return result
    buf = <unsigned char*>PyMem_Malloc(n)
    if buf == NULL:
        raise MemoryError()
    try:
        while pos <= n:
            end = pos
            while end < n and s[end] != 38:  # '&'
                end += 1
            if end > pos:
                eq = -1
                for k in range(pos, end):
                    if s[k] == 61:  # '='
                        eq = k
                        break
                if eq < 0:
                    result.append((_unquote_plus(s + pos, end - pos, buf), ""))
                else:
                    result.append((
                        _unquote_plus(s + pos, eq - pos, buf),
                        _unquote_plus(s + eq + 1, end - eq - 1, buf),
                    ))
            pos = end + 1
    finally:
        PyMem_Free(buf)
    return result


def parse_query_string(query_string):
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
        return _parse_qs_bytes(<bytes>query_string)
    if isinstance(query_string, str):
        # Not on the per-connection path (ASGI gives bytes): the standard library's parser.
        return parse_qsl(query_string, keep_blank_values=True)
    raise TypeError(f"Expected a str or bytes query string, got {type(query_string).__name__}")


cpdef dict parse_cookie(object cookie_string):
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
    if isinstance(cookie_string, str):
        return _parse_cookie(<str>cookie_string)
    # Not a str (a UserString, or a wrong type): Starlette's algorithm as it is, so what works
    # and what raises is the same.
    cookie_dict = {}
    for chunk in cookie_string.split(";"):
        if "=" in chunk:
            key, val = chunk.split("=", 1)
        else:
            key, val = "", chunk
        key, val = key.strip(), val.strip()
        if key or val:
            cookie_dict[key] = _cookie_unquote(val)
    return cookie_dict


cdef dict _parse_cookie(str cookie_string):
    cdef dict cookie_dict = {}
    cdef Py_ssize_t n = len(cookie_string), start = 0, end, eq, key_start, key_end, value_start, value_end
    cdef str value
    while start <= n:
        end = PyUnicode_FindChar(cookie_string, u";", start, n, 1)
        if end < 0:
            end = n
        eq = PyUnicode_FindChar(cookie_string, u"=", start, end, 1)
        if eq >= 0:
            key_start, key_end, value_start, value_end = start, eq, eq + 1, end
        else:
            # Assume an empty name per https://bugzilla.mozilla.org/show_bug.cgi?id=169091
            key_start = key_end = start
            value_start, value_end = start, end
        # str.strip(): the same whitespace test (Py_UNICODE_ISSPACE).
        while key_start < key_end and Py_UNICODE_ISSPACE(cookie_string[key_start]):
            key_start += 1
        while key_end > key_start and Py_UNICODE_ISSPACE(cookie_string[key_end - 1]):
            key_end -= 1
        while value_start < value_end and Py_UNICODE_ISSPACE(cookie_string[value_start]):
            value_start += 1
        while value_end > value_start and Py_UNICODE_ISSPACE(cookie_string[value_end - 1]):
            value_end -= 1
        if key_end > key_start or value_end > value_start:
            value = cookie_string[value_start:value_end]
            if (value_end - value_start >= 2 and cookie_string[value_start] == u'"'
                    and cookie_string[value_end - 1] == u'"'):
                # http.cookies._unquote strips the quotes and rewrites backslash escapes only.
                if PyUnicode_FindChar(cookie_string, u"\\", value_start + 1, value_end - 1, 1) < 0:
                    value = cookie_string[value_start + 1:value_end - 1]
                else:
                    value = _cookie_unquote(value)
            cookie_dict[cookie_string[key_start:key_end]] = value
        start = end + 1
    return cookie_dict


cpdef str url_from_scope(object scope):
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
    path = scope["path"]
    if "?" in path or "#" in path or "\\" in path:
        path = path.replace("?", "%3F").replace("#", "%23").replace("\\", "%5C")
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
        if netloc and type(scheme) is str and scheme and type(path) is str:
            # urlunsplit's result when both scheme and netloc are non-empty.
            if path and path[0] != u"/":
                path = "/" + path
            url = f"{scheme}://{netloc}{path}"
            return f"{url}?{query}" if query else url
        return SplitResult(scheme=scheme, netloc=netloc, path=path, query=query, fragment="").geturl()
    if path.startswith("//"):
        # Without a host, a leading `//` would be parsed as the authority.
        path = "/%2F" + path[2:]
    return f"{path}?{query}" if query else path


cdef bytes _header_key(object key):
    # key.lower().encode("latin-1"), done in C for the usual ASCII str; other keys take the
    # Python path so that errors are Starlette's (AttributeError for a non-str key,
    # UnicodeEncodeError beyond latin-1).
    cdef Py_ssize_t i, n
    cdef const char* src
    cdef char* dst
    cdef char c
    cdef bytes out
    if type(key) is str and PyUnicode_IS_ASCII(key):
        n = len(<str>key)
        src = PyUnicode_DATA_1BYTE(key)
        out = PyBytes_FromStringAndSize(NULL, n)
        dst = PyBytes_AS_STRING(out)
        for i in range(n):
            c = src[i]
            dst[i] = c + 32 if c >= 65 and c <= 90 else c
        return out
    return key.lower().encode("latin-1")


cdef inline bint _same_key(object header_key, bytes wanted) except -1:
    # header_key == wanted, with a length check and memcmp for the usual bytes names.
    cdef Py_ssize_t n
    if type(header_key) is bytes:
        n = PyBytes_GET_SIZE(wanted)
        return PyBytes_GET_SIZE(header_key) == n and memcmp(
            PyBytes_AS_STRING(header_key), PyBytes_AS_STRING(wanted), n) == 0
    return header_key == wanted


cdef class Headers:
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

    def __init__(self, headers=None, raw=None, scope=None):
        self._list = []
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
    def raw(self):
        """list[tuple[bytes, bytes]]: a copy of the raw ``(name, value)`` pairs."""
        return list(self._list)

    def keys(self):
        """list[str]: every header name, duplicates kept, in order."""
        return [key.decode("latin-1") for key, _ in self._list]

    def values(self):
        """list[str]: every header value, in order."""
        return [value.decode("latin-1") for _, value in self._list]

    def items(self):
        """list[tuple[str, str]]: every ``(name, value)`` pair, decoded, in order."""
        return [(key.decode("latin-1"), value.decode("latin-1")) for key, value in self._list]

    def multi_items(self):
        """list[tuple[str, str]]: the same as ``items()`` (every pair, duplicates kept)."""
        return self.items()

    def getlist(self, key):
        """All values of header ``key`` (case-insensitive), in order; ``[]`` when absent."""
        cdef bytes wanted = _header_key(key)
        cdef list values = []
        for item in self._list:
            header_key, header_value = item
            if _same_key(header_key, wanted):
                values.append(header_value.decode("latin-1"))
        return values

    cdef object _find(self, key):
        # The first raw value for `key`, or None.
        cdef bytes wanted = _header_key(key)
        for item in self._list:
            header_key, header_value = item
            if _same_key(header_key, wanted):
                return header_value
        return None

    def get(self, key, default=None):
        """The first value of header ``key``, or ``default``."""
        value = self._find(key)
        if value is None:
            return default
        return value.decode("latin-1")

    def mutablecopy(self):
        """MutableHeaders: a mutable copy."""
        return MutableHeaders(raw=self._list[:])

    def __getitem__(self, key):
        value = self._find(key)
        if value is None:
            raise KeyError(key)
        return value.decode("latin-1")

    def __contains__(self, key):
        return self._find(key) is not None

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self._list)

    def __eq__(self, other):
        if not isinstance(other, Headers):
            return False
        return sorted(self._list) == sorted((<Headers>other)._list)

    __hash__ = None

    def __repr__(self):
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


cdef class QueryParams:
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

    def __init__(self, *args, **kwargs):
        assert len(args) < 2, "Too many arguments."
        value = args[0] if args else []
        if isinstance(value, (str, bytes)):
            value = parse_query_string(value)
            if not kwargs:
                self._list = value
                self._dict = dict(value)
                return
        items = multidict_items(value, kwargs)
        self._list = [(str(k), str(v)) for k, v in items]
        self._dict = {str(k): str(v) for k, v in {k: v for k, v in items}.items()}

    def getlist(self, key):
        """All values of ``key``, in order; ``[]`` when absent."""
        return [item_value for item_key, item_value in self._list if item_key == key]

    def keys(self):
        """KeysView[str]: the distinct keys."""
        return self._dict.keys()

    def values(self):
        """ValuesView[str]: the last value of each key."""
        return self._dict.values()

    def items(self):
        """ItemsView[str, str]: ``(key, last value)`` pairs."""
        return self._dict.items()

    def multi_items(self):
        """list[tuple[str, str]]: every pair, duplicates kept, in order."""
        return list(self._list)

    def get(self, key, default=None):
        """The last value of ``key``, or ``default``."""
        return self._dict.get(key, default)

    def __getitem__(self, key):
        return self._dict[key]

    def __contains__(self, key):
        return key in self._dict

    def __iter__(self):
        return iter(self._dict)

    def __len__(self):
        return len(self._dict)

    def __eq__(self, other):
        if not isinstance(other, self.__class__):
            return False
        return sorted(self._list, key=itemgetter(0)) == sorted(other._list, key=itemgetter(0))

    __hash__ = None

    def __str__(self):
        return urlencode(self._list)

    def __repr__(self):
        return f"{self.__class__.__name__}({str(self)!r})"


Mapping.register(QueryParams)


cdef Headers headers_from_scope(object scope):
    # Headers(scope=scope) without the Python-level constructor call.
    cdef Headers headers = Headers.__new__(Headers)
    headers._list = scope["headers"] = list(scope["headers"])
    return headers


cdef QueryParams query_params_from_bytes(object query_string):
    # QueryParams(query_string) for the ASGI scope's bytes, without the constructor call.
    if type(query_string) is not bytes:
        return QueryParams(query_string)
    cdef QueryParams params = QueryParams.__new__(QueryParams)
    params._list = _parse_qs_bytes(<bytes>query_string)
    params._dict = dict(params._list)
    return params
