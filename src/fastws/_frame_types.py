"""Constants and the error type shared by both twins of the RFC 6455 frame codec.

Both ``_frame_c`` and ``_frame_py`` raise :class:`WebSocketProtocolError` (the same class), so a
test or the server catches one type whichever twin is loaded.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_INVALID_DATA",
    "CLOSE_MESSAGE_TOO_BIG",
    "CLOSE_NORMAL",
    "CLOSE_NO_STATUS",
    "CLOSE_PROTOCOL_ERROR",
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

#: Close codes (RFC 6455 section 7.4.1) this codec produces.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
#: Reported to the app when a close frame carried no payload; never sent on the wire.
CLOSE_NO_STATUS = 1005
CLOSE_INVALID_DATA = 1007
CLOSE_MESSAGE_TOO_BIG = 1009


def is_valid_close_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame on the wire (RFC 6455 section 7.4, IANA
    registry): 1000-1003, 1007-1014 and the 3000-4999 range for libraries and applications.
    1004, 1005, 1006 and 1015 are reserved and must never be sent."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999


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
