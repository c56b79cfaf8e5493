"""JSON encode and decode for WebSocket messages: the pure-Python twin of ``_json_c.pyx``.

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

This twin encodes with ``json`` always (checking in Python that orjson's output would match costs
more than it saves) and decodes with orjson where it is available.
"""

from __future__ import annotations

import json
from typing import Any

from fastws.codec._backend import ORJSON_DECODE_ERROR, ORJSON_LOADS

__all__ = ["decode_json_bytes", "decode_json_text", "encode_json_bytes", "encode_json_text"]

# Exactly the encoder json.dumps(obj, separators=(",", ":"), ensure_ascii=False) builds per call.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_json_loads = json.loads
# None when orjson is absent (or FASTWS_NO_ORJSON is set): decoding is json.loads alone.
_orjson_loads = ORJSON_LOADS
_OrjsonDecodeError = ORJSON_DECODE_ERROR
# orjson turns integer literals beyond 64 bits into floats; json.loads keeps them int. A run of
# 19 or more ASCII digits (inside a string too: that only costs the slow path) sends the text to
# json. Mapping every digit to "0" and searching for nineteen of them is several times faster than
# a regex; UTF-8 never puts a byte 0x30-0x39 inside a multi-byte character.
_DIGITS_TO_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
_NINETEEN_ZEROS = b"0" * 19


def _has_long_digits_text(text: str) -> bool:
    return _NINETEEN_ZEROS in text.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_ZERO)


def _has_long_digits_bytes(data: bytes) -> bool:
    return _NINETEEN_ZEROS in data.translate(_DIGITS_TO_ZERO)


def encode_json_text(obj: Any) -> str:
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
    return _encode(obj)


def encode_json_bytes(obj: Any) -> bytes:
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
    return _encode(obj).encode("utf-8")


def decode_json_text(text: Any) -> Any:
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
    if _orjson_loads is not None and type(text) is str and not _has_long_digits_text(text):
        try:
            return _orjson_loads(text)
        except _OrjsonDecodeError:
            pass
    return _json_loads(text)


def decode_json_bytes(data: Any) -> Any:
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
    if _orjson_loads is not None and type(data) is bytes and not _has_long_digits_bytes(data):
        try:
            return _orjson_loads(data)
        except _OrjsonDecodeError:
            pass
    return _json_loads(data.decode("utf-8"))
