"""The payload format of ``fastws.pubsub`` on Redis (and any other byte-oriented broker).

A payload is delivered byte for byte, as ``str`` when it is valid UTF-8 and as ``bytes`` otherwise,
whoever published it (another service, ``redis-cli``, a Go or Celery worker). fastws keeps ``str``
and ``bytes`` apart between its own hubs with a marker no ordinary payload starts with,
``MARKER`` (the 8 bytes ``\\x00fastws\\x00``, NUL-led, so no text a person or a JSON encoder
writes starts with it), followed by one type byte: ``b`` (the rest is the binary message) or ``t``
(the rest is UTF-8 text). A hub publishes ``bytes`` always marked (``MARKER + b"b" + data``) and
``str`` as its plain UTF-8, marked with ``t`` only in the one case where that UTF-8 itself starts
with ``MARKER``. Other services publish binary on purpose the same way.

Source: docs/fanout.md, "Wire format on Redis"; RFC 3629 (UTF-8); Redis "Pub/Sub" documentation
(payloads are binary-safe strings).
"""

from __future__ import annotations

from typing import Union

__all__ = ["MARKER", "pack", "unpack"]

Message = Union[str, bytes]

#: The marker that starts a payload a fastws hub typed explicitly (see the module docstring).
MARKER = b"\x00fastws\x00"
_BINARY = MARKER + b"b"
_TEXT = MARKER + b"t"
_MARKED = len(_BINARY)


def pack(message: Message) -> bytes:
    """The Redis payload for a message (module docstring, "Wire format").

    Args:
        message (str | bytes): text or binary.

    Returns:
        bytes: the UTF-8 of a ``str`` (prefixed with ``MARKER + b"t"`` only when it starts with
        ``MARKER``), or ``MARKER + b"b" + message`` for ``bytes``.

    Raises:
        UnicodeEncodeError: a ``str`` holding a lone surrogate (it has no UTF-8 form, and no
            WebSocket text message could carry it either).
    """
    if isinstance(message, str):
        data = message.encode("utf-8")
        return _TEXT + data if data.startswith(MARKER) else data
    return _BINARY + message


def unpack(payload: bytes) -> Message:
    """The message a Redis payload carries (module docstring, "Wire format").

    Args:
        payload (bytes): as Redis delivered it.

    Returns:
        str | bytes: for a marked payload (``MARKER`` then ``b`` or ``t``), what follows the type
        byte as ``bytes`` or ``str``; for any other payload the whole of it, as ``str`` when it is
        valid UTF-8, else as ``bytes``. A ``t``-marked payload that is not valid UTF-8 and a
        marker with an unknown type byte are read as unmarked. Never raises.
    """
    if payload.startswith(MARKER):
        kind = payload[_MARKED - 1 : _MARKED]
        if kind == b"b":
            return payload[_MARKED:]
        if kind == b"t":
            try:
                return payload[_MARKED:].decode("utf-8")
            except UnicodeDecodeError:
                pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload
