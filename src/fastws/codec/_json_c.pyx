# cython: language_level=3
"""JSON encode and decode for WebSocket messages: the compiled twin of ``_json_py.py``.

Contract (both twins): the text is exactly what Starlette 1.10 sends,
``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``, and decoding returns exactly
what ``json.loads`` returns and raises what it raises. orjson does the work whenever it is known to
give that same result; every other value takes the standard library's path, so NaN, infinities,
integers beyond 64 bits, non-``str`` keys, subclasses of the JSON types and unserialisable objects
behave exactly as in Starlette (``NaN`` is sent as the token ``NaN``; an unserialisable object
raises ``TypeError``; a circular structure raises ``ValueError``). orjson is optional:
``fastws.codec._backend`` decides once, at import, whether it is there and which floats it formats
as ``repr`` does; without it (PyPy, ``FASTWS_NO_ORJSON=1``) both twins use ``json`` alone, with the
same results.

What this twin adds: before encoding, a C walk of the value checks that orjson renders it exactly
as ``json.dumps`` would (exact ``dict``/``list``/``tuple``/``str``/``int``/``float``/``bool``/
``None``, ``str`` keys, 64-bit integers, finite floats in the range where the installed orjson
formats them as ``repr`` does); before decoding, a C scan looks for integer literals too long for
orjson.
"""

import json

from fastws.codec._backend import (
    FLOAT_MAX,
    FLOAT_MIN,
    ORJSON_DECODE_ERROR,
    ORJSON_DUMPS,
    ORJSON_ENCODE_ERROR,
    ORJSON_LOADS,
)

from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_AsUnsignedLongLong
from libc.math cimport fabs, isfinite

cdef extern from "Python.h":
    int PyUnicode_KIND(object text)
    void* PyUnicode_DATA(object text)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t index) nogil

__all__ = ["decode_json_bytes", "decode_json_text", "encode_json_bytes", "encode_json_text"]

cdef object _encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
cdef object _json_loads = json.loads
# None when orjson is absent (or FASTWS_NO_ORJSON is set): the json module does all the work.
cdef object _orjson_loads = ORJSON_LOADS
cdef object _orjson_dumps = ORJSON_DUMPS
cdef bint _HAVE_ORJSON = ORJSON_DUMPS is not None
cdef object _OrjsonDecodeError = ORJSON_DECODE_ERROR
cdef object _OrjsonEncodeError = ORJSON_ENCODE_ERROR

# orjson refuses to nest deeper than 254 levels; deeper values take json.dumps (which raises
# RecursionError or succeeds exactly as in Starlette). Bounding the walk keeps the C stack safe.
cdef int _MAX_DEPTH = 200
# Below 1e-4 Python's float repr switches to exponent form ("1e-05") where orjson writes
# "0.00001"; from 1e16 both write exponents, but orjson before 3.11.7 without the "+" ("1e16").
# fastws.codec._backend probes the installed orjson and sets the range where it matches repr.
cdef double _FLOAT_MIN = FLOAT_MIN
cdef double _FLOAT_MAX = FLOAT_MAX
# Integer literals of this many digits or more may not fit 64 bits: json.loads keeps them exact,
# orjson would return a float.
cdef Py_ssize_t _LONG_DIGITS = 19


cdef bint _int_fits(object obj) except -1:
    cdef int overflow = 0
    PyLong_AsLongLongAndOverflow(obj, &overflow)
    if overflow == 0:
        return True
    if overflow < 0:
        return False
    try:
        PyLong_AsUnsignedLongLong(obj)
    except OverflowError:
        return False
    return True


cdef bint _orjson_exact(object obj, int depth) except -1:
    """True when ``orjson.dumps(obj)`` is byte-identical to Starlette's ``json.dumps``."""
    cdef type t = type(obj)
    cdef double x
    if t is str or t is bool or obj is None:
        return True
    if t is int:
        return _int_fits(obj)
    if t is float:
        x = PyFloat_AS_DOUBLE(obj)
        return x == 0.0 or (isfinite(x) and fabs(x) >= _FLOAT_MIN and fabs(x) < _FLOAT_MAX)
    if depth >= _MAX_DEPTH:
        return False
    if t is dict:
        for key, value in (<dict>obj).items():
            if type(key) is not str or not _orjson_exact(value, depth + 1):
                return False
        return True
    if t is list:
        for value in <list>obj:
            if not _orjson_exact(value, depth + 1):
                return False
        return True
    if t is tuple:
        for value in <tuple>obj:
            if not _orjson_exact(value, depth + 1):
                return False
        return True
    return False


# A run of _LONG_DIGITS digits covers exactly one index i with i % _LONG_DIGITS == _LONG_DIGITS - 1,
# so probing those indices and measuring the run around a probed digit finds every long run
# while reading about one character in nineteen.

cdef inline bint _is_digit(Py_UCS4 ch) noexcept:
    return ch >= 48 and ch <= 57


cdef bint _has_long_digits_text(str text):
    cdef Py_ssize_t n = len(text), i, lo, hi
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    i = _LONG_DIGITS - 1
    while i < n:
        if _is_digit(PyUnicode_READ(kind, data, i)):
            lo = i
            while lo > 0 and _is_digit(PyUnicode_READ(kind, data, lo - 1)):
                lo -= 1
            hi = i + 1
            while hi < n and _is_digit(PyUnicode_READ(kind, data, hi)):
                hi += 1
            if hi - lo >= _LONG_DIGITS:
                return True
            i = hi + _LONG_DIGITS - 1  # the next run starts after hi
        else:
            i += _LONG_DIGITS
    return False


cdef bint _has_long_digits_bytes(bytes data):
    cdef const unsigned char* p = data
    cdef Py_ssize_t n = len(data), i, lo, hi
    i = _LONG_DIGITS - 1
    while i < n:
        if _is_digit(p[i]):
            lo = i
            while lo > 0 and _is_digit(p[lo - 1]):
                lo -= 1
            hi = i + 1
            while hi < n and _is_digit(p[hi]):
                hi += 1
            if hi - lo >= _LONG_DIGITS:
                return True
            i = hi + _LONG_DIGITS - 1
        else:
            i += _LONG_DIGITS
    return False


cpdef object encode_json_text(object obj):
    """Serialise ``obj`` to compact JSON text, as Starlette's ``send_json`` does.

    Args:
        obj: any value ``json.dumps`` accepts.

    Returns:
        str: ``json.dumps(obj, separators=(",", ":"), ensure_ascii=False)``, byte for byte.

    Raises:
        TypeError: ``obj`` holds a value JSON cannot represent ("Object of type X is not JSON
            serializable").
        ValueError: ``obj`` contains itself ("Circular reference detected").
        RecursionError: ``obj`` is nested deeper than the interpreter's recursion limit.

    Source: ``starlette.websockets.WebSocket.send_json`` (1.10.0).
    """
    if _HAVE_ORJSON and _orjson_exact(obj, 0):
        try:
            return (<bytes>_orjson_dumps(obj)).decode("utf-8")
        except _OrjsonEncodeError:  # a lone surrogate: json.dumps keeps it
            pass
    return _encode(obj)


cpdef object encode_json_bytes(object obj):
    """Serialise ``obj`` to compact JSON as UTF-8 bytes (``send_json(..., mode="binary")``).

    Args:
        obj: any value ``json.dumps`` accepts.

    Returns:
        bytes: ``encode_json_text(obj).encode("utf-8")``.

    Raises:
        TypeError, ValueError, RecursionError: as ``encode_json_text``.
        UnicodeEncodeError: a string in ``obj`` holds a lone surrogate.

    Source: ``starlette.websockets.WebSocket.send_json`` (1.10.0).
    """
    if _HAVE_ORJSON and _orjson_exact(obj, 0):
        try:
            return _orjson_dumps(obj)
        except _OrjsonEncodeError:
            pass
    return (<str>_encode(obj)).encode("utf-8")


cpdef object decode_json_text(object text):
    """Parse the JSON text of a text message (``receive_json(mode="text")``).

    Args:
        text (str): the ``text`` of a ``websocket.receive`` event.

    Returns:
        The value ``json.loads(text)`` returns (dict, list, str, int, float, bool or None).

    Raises:
        json.JSONDecodeError: ``text`` is not valid JSON (orjson's subclass of it where orjson saw
            the error first is never raised: the message is always the standard library's).
        TypeError: ``text`` is not a ``str``, ``bytes`` or ``bytearray``.
        RecursionError: the document is nested deeper than the interpreter allows.

    Source: ``starlette.websockets.WebSocket.receive_json`` (1.10.0).
    """
    if _HAVE_ORJSON and type(text) is str and not _has_long_digits_text(<str>text):
        try:
            return _orjson_loads(text)
        except _OrjsonDecodeError:
            pass
    return _json_loads(text)


cpdef object decode_json_bytes(object data):
    """Parse the UTF-8 JSON of a binary message (``receive_json(mode="binary")``).

    Args:
        data (bytes): the ``bytes`` of a ``websocket.receive`` event.

    Returns:
        The value ``json.loads(data.decode("utf-8"))`` returns.

    Raises:
        UnicodeDecodeError: ``data`` is not valid UTF-8.
        json.JSONDecodeError: ``data`` is not valid JSON (a UTF-8 BOM included).
        AttributeError: ``data`` is not ``bytes`` (for example ``None``: the message was text).
        RecursionError: the document is nested deeper than the interpreter allows.

    Source: ``starlette.websockets.WebSocket.receive_json`` (1.10.0).
    """
    if _HAVE_ORJSON and type(data) is bytes and not _has_long_digits_bytes(<bytes>data):
        try:
            return _orjson_loads(data)
        except _OrjsonDecodeError:
            pass
    return _json_loads(data.decode("utf-8"))
