"""The server side of the opening handshake's rules (RFC 6455 section 4.2): the
``Sec-WebSocket-Accept`` key and the checks of what an app hands ``websocket.accept`` and
``websocket.http.response.start`` before the server writes it. ``fastws.server`` uses them.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from fastws.protocol.http import TOKEN, check_header_pairs

__all__ = ["GUID", "accept_key", "check_response_headers", "check_subprotocol"]

#: RFC 6455 section 1.3: appended to the client's key before hashing.
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def check_response_headers(headers: Any, event: str) -> list[tuple[bytes, bytes]]:
    """The ``headers`` of an ASGI ``event`` (``websocket.accept`` or
    ``websocket.http.response.start``) as a list of ``(name, value)`` bytes pairs, checked by
    ``fastws.protocol.http.check_header_pairs`` before any of it is written.

    Raises:
        TypeError: ``headers`` is not an iterable of pairs of ``bytes``.
        ValueError: a name is not a token, or a value holds CR, LF or NUL.
    """
    if not headers:
        return []
    headers = list(headers)
    check_header_pairs(headers, event)
    return [(bytes(name), bytes(value)) for name, value in headers]


def check_subprotocol(subprotocol: Any) -> bytes | None:
    """The ``subprotocol`` of ``websocket.accept`` as the bytes of the response header, or
    ``None``. RFC 6455 section 4.3: ``Sec-WebSocket-Protocol`` carries a token (RFC 9110 5.6.2).

    Raises:
        TypeError: not a ``str`` or ``None``.
        ValueError: not a token (empty, a space, a comma, CR/LF, non-ASCII...).
    """
    if subprotocol is None or subprotocol == "":
        return None
    if not isinstance(subprotocol, str):
        raise TypeError(f"'websocket.accept' subprotocol must be a str or None, got {type(subprotocol).__name__}")
    raw = subprotocol.encode("utf-8", "surrogateescape")
    if not TOKEN.issuperset(raw):
        raise ValueError(f"invalid subprotocol {subprotocol!r} in 'websocket.accept': not an RFC 9110 token")
    return raw


def accept_key(key: bytes) -> bytes:
    """``Sec-WebSocket-Accept`` for the client's ``Sec-WebSocket-Key`` (RFC 6455 section 4.2.2
    item 5.4): base64 of the SHA-1 of the key and the GUID. ``key`` and the result are ASCII
    bytes."""
    return base64.b64encode(hashlib.sha1(key + GUID).digest())
