"""Constants and the error type shared by both twins of the RFC 6455 frame codec (the close codes
and their rule are ``fastws.protocol.close``'s, re-exported here).

Both ``_frame_c`` and ``_frame_py`` raise :class:`WebSocketProtocolError` (the same class), so a
test or the server catches one type whichever twin is loaded.
"""

from __future__ import annotations

from typing import Any

from fastws.protocol.close import (
    CLOSE_GOING_AWAY,
    CLOSE_INVALID_DATA,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_NO_STATUS,
    CLOSE_NORMAL,
    CLOSE_PROTOCOL_ERROR,
    is_valid_close_code,
)

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_INVALID_DATA",
    "CLOSE_MESSAGE_TOO_BIG",
    "CLOSE_NORMAL",
    "CLOSE_NO_STATUS",
    "CLOSE_PROTOCOL_ERROR",
    "DEFLATE_TAIL",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONT",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "WebSocketProtocolError",
    "is_valid_close_code",
]

#: Opcodes (RFC 6455 section 5.2).
OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

#: RFC 7692 section 7.2.2: the sender strips this tail of a sync flush; the receiver appends it.
DEFLATE_TAIL = b"\x00\x00\xff\xff"


class WebSocketProtocolError(Exception):
    """The peer broke RFC 6455, or a message exceeded the size limit: fail the connection with a
    close frame carrying ``code`` and ``reason``.

    ``code`` (int) is 1002 (protocol error), 1007 (invalid UTF-8 in a text message or close
    reason) or 1009 (message too big). ``reason`` (str, at most 123 UTF-8 bytes) says what
    arrived and what was expected. ``events`` (list) holds the events the same ``feed`` call
    completed before the error, in wire order, so no complete message is lost.
    """

    def __init__(self, code: int, reason: str, events: list[Any] | None = None) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
        self.events: list[Any] = events if events is not None else []

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"
