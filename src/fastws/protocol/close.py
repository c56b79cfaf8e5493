"""Close codes and the rules for sending them: the one home of both (RFC 6455 sections 5.5, 7.4).

``CloseCode`` is the vocabulary; the ``CLOSE_*`` integers the frame codec uses and
``fastws.fanout.TRY_AGAIN_LATER`` are aliases of its members. ``SENDABLE_CLOSE_CODES`` is the one
rule for which codes may appear on the wire (``is_valid_close_code`` tests it), used by the frame
codec (both twins, so the server too) and by ``check_close`` (what an app may pass to ``close``).
"""

from __future__ import annotations

import enum

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_INVALID_DATA",
    "CLOSE_MESSAGE_TOO_BIG",
    "CLOSE_NORMAL",
    "CLOSE_NO_STATUS",
    "CLOSE_PROTOCOL_ERROR",
    "MAX_CLOSE_REASON_BYTES",
    "SENDABLE_CLOSE_CODES",
    "CloseCode",
    "check_close",
    "is_valid_close_code",
]


class CloseCode(enum.IntEnum):
    """WebSocket close codes (RFC 6455 section 7.4.1 and the IANA "WebSocket Close Code Number"
    registry), named as the Yaat 0.1.10 documentation, "WebSockets" page
    (``yaat.constants.WebSocketCloseEvent``), and MDN's ``CloseEvent`` name them. The RFC's
    abbreviations ``NO_STATUS_RCVD`` (1005) and ``MANDATORY_EXT`` (1010) are aliases of the same
    members.

    Codes 1005, 1006 and 1015 are reserved: an endpoint reports them but never sends them in a
    close frame.
    """

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RECEIVED = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_FRAME_PAYLOAD_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MISSING_EXTENSION = 1010
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    BAD_GATEWAY = 1014
    TLS_HANDSHAKE = 1015
    # RFC 6455 spellings, aliases of the members above.
    NO_STATUS_RCVD = 1005
    MANDATORY_EXT = 1010


#: Plain ``int`` aliases of the codes the frame codec produces (events carry ints, not enum members).
CLOSE_NORMAL = int(CloseCode.NORMAL_CLOSURE)
CLOSE_GOING_AWAY = int(CloseCode.GOING_AWAY)
CLOSE_PROTOCOL_ERROR = int(CloseCode.PROTOCOL_ERROR)
#: Reported to the app when a close frame carried no payload; never sent on the wire.
CLOSE_NO_STATUS = int(CloseCode.NO_STATUS_RECEIVED)
CLOSE_INVALID_DATA = int(CloseCode.INVALID_FRAME_PAYLOAD_DATA)
CLOSE_MESSAGE_TOO_BIG = int(CloseCode.MESSAGE_TOO_BIG)

#: A close frame's payload is at most 125 bytes, two of them the code (RFC 6455 section 5.5).
MAX_CLOSE_REASON_BYTES = 123


#: The one rule for which codes may appear in a close frame on the wire (RFC 6455 section 7.4,
#: IANA registry): 1000-1003, 1007-1014 and 3000-4999 for libraries and applications; 1004, 1005,
#: 1006 and 1015 are reserved and never sent. A set, so a check is one membership test (close()
#: checks its code on every call).
SENDABLE_CLOSE_CODES = frozenset((*range(1000, 1004), *range(1007, 1015), *range(3000, 5000)))


def is_valid_close_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame on the wire: ``code in SENDABLE_CLOSE_CODES``
    (RFC 6455 section 7.4, IANA registry: 1000-1003, 1007-1014 and the 3000-4999 range for libraries
    and applications; 1004, 1005, 1006 and 1015 are reserved and must never be sent)."""
    return code in SENDABLE_CLOSE_CODES


def check_close(code: object, reason: object) -> None:
    """Reject a close code or reason the app must not send (before anything is sent).

    Args:
        code (int): 1000-1003, 1007-1014 (RFC 6455 section 7.4.1 and the IANA registry) or
            3000-4999 (libraries, frameworks and apps, section 7.4.2).
        reason (str | None): at most 123 bytes of UTF-8 (a close frame's payload is at most 125
            bytes, two of them the code: RFC 6455 section 5.5).

    Raises:
        TypeError: ``code`` is not an ``int`` (a ``bool`` included) or ``reason`` not a ``str``/``None``.
        ValueError: ``code`` is reserved (1004-1006, 1015: never sent in a close frame), below
            1000, unregistered (1016-2999) or 5000 and up; or the reason is over 123 bytes.
    """
    if not isinstance(code, int) or isinstance(code, bool):
        raise TypeError(f"close code must be an int, got {type(code).__name__}")
    if code not in SENDABLE_CLOSE_CODES:
        raise ValueError(
            f"invalid close code {code}: an app may send 1000-1003, 1007-1014 or 3000-4999 "
            "(RFC 6455 section 7.4; 1004-1006 and 1015 are reserved)"
        )
    if reason is not None:
        if not isinstance(reason, str):
            raise TypeError(f"close reason must be a str or None, got {type(reason).__name__}")
        if len(reason) > 30:
            size = len(reason.encode("utf-8", "surrogatepass"))
            if size > MAX_CLOSE_REASON_BYTES:
                raise ValueError(
                    f"close reason is {size} bytes of UTF-8; at most 123 fit in a close frame (RFC 6455 section 5.5)"
                )
