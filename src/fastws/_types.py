"""Types shared by the compiled and the pure-Python implementation.

They live in one plain module so that ``except fastws.WebSocketDisconnect`` catches what either
implementation raises, and ``ws.client_state is WebSocketState.CONNECTED`` holds for both.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from typing import Any

__all__ = [
    "CloseCode",
    "DEFAULT_MAX_JSON_SIZE",
    "STATES",
    "check_accept",
    "check_close",
    "check_json_limit",
    "too_deep",
    "bad_type",
    "event_type",
    "payload_error",
    "json_too_big",
    "as_state",
    "mismatch_error",
    "starlette_error",
    "UnexpectedMessageType",
    "WebSocketDisconnect",
    "WebSocketDisconnected",
    "WebSocketState",
]


class WebSocketState(enum.Enum):
    """State of one side of a WebSocket connection, as Starlette 1.10 names it.

    ``client_state`` follows the events received from the server (``websocket.connect``,
    ``websocket.disconnect``); ``application_state`` follows the events the app sends
    (``websocket.accept``, ``websocket.close``, ``websocket.http.response.*``).

    Source: ``starlette.websockets.WebSocketState`` (1.10.0); the ``RESPONSE`` state is the ASGI
    "WebSocket Denial Response" extension (ASGI spec 2.4).
    """

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3


def as_state(value: object) -> WebSocketState:
    """The ``WebSocketState`` to store when app code assigns ``client_state``/``application_state``.

    Args:
        value: a ``WebSocketState``, or a member of another enum with one of its names (such as
            ``starlette.websockets.WebSocketState.CONNECTED``, so Starlette code keeps working).

    Returns:
        WebSocketState: the member of the same name.

    Raises:
        TypeError: ``value`` is not such an enum member.
    """
    if isinstance(value, WebSocketState):
        return value
    if isinstance(value, enum.Enum) and value.name in WebSocketState.__members__:
        return WebSocketState[value.name]
    raise TypeError(f"Expected a WebSocketState, got {value!r}")


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


class WebSocketDisconnect(Exception):
    """The client closed the connection: a ``websocket.disconnect`` event arrived (or the server's
    ``send`` failed with ``OSError``, reported as code 1006).

    Args:
        code (int): the close code (RFC 6455 section 7.4); default 1000.
        reason (str | None): the close reason; ``None`` is stored as ``""``.

    Attributes:
        code (int), reason (str).

    Source: ``starlette.websockets.WebSocketDisconnect`` (1.10.0).
    """

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""


class WebSocketDisconnected(RuntimeError):
    """Raised when attempting to use a disconnected WebSocket: receiving after a
    ``websocket.disconnect`` event, sending after a ``websocket.close``, or calling a
    ``receive_*`` method before ``accept``.

    Source: ``starlette.websockets.WebSocketDisconnected`` (1.10.0), messages included.
    """


class UnexpectedMessageType(KeyError):
    """A ``receive_*`` call got a message of another kind than it asked for, e.g.
    ``receive_text()`` when a binary message arrived.

    It is a ``KeyError`` because Starlette raises ``KeyError('text')`` (or ``'bytes'``) in that
    case, so code that catches ``KeyError`` keeps working; unlike Starlette's, its message says what
    arrived and what was expected.

    Args:
        expected (str): the ASGI key that was expected, ``"text"`` or ``"bytes"``.
        message (Mapping): the ASGI event that arrived.

    Attributes:
        expected (str), message (Mapping).
    """

    def __init__(self, expected: str, message: object) -> None:
        self.expected = expected
        self.message = message
        super().__init__(expected)

    def __str__(self) -> str:
        message = self.message
        kind = message.get("type") if isinstance(message, dict) else type(message).__name__
        if kind == "websocket.receive":
            if isinstance(message, dict) and message.get("bytes") is not None:
                got = "a binary (bytes) message"
            elif isinstance(message, dict) and message.get("text") is not None:
                got = "a text message"
            else:
                got = "a websocket.receive event with neither 'text' nor 'bytes'"
        else:
            got = f"an ASGI event of type {kind!r}"
        want = "a text message" if self.expected == "text" else "a binary (bytes) message"
        return f"Expected {want} (ASGI key {self.expected!r}) but received {got}."


#: The ``client_state``/``application_state`` values by their number: what a WebSocket class whose
#: ``_fastws_states`` is not overridden reports. A dialect's class sets ``_fastws_states`` to its own
#: framework's enum members in the same order (CONNECTING, CONNECTED, DISCONNECTED, RESPONSE).
STATES = (
    WebSocketState.CONNECTING,
    WebSocketState.CONNECTED,
    WebSocketState.DISCONNECTED,
    WebSocketState.RESPONSE,
)

_NOT_ACCEPTED = 'WebSocket is not connected. Need to call "accept" first.'
_RECEIVE_AFTER_DISCONNECT = 'Cannot call "receive" once a disconnect message has been received.'
_SEND_AFTER_CLOSE = 'Cannot call "send" once a close message has been sent.'
_BAD_MODE = 'The "mode" argument should be "text" or "binary".'


def starlette_error(kind: str, a: object = None, b: object = None) -> BaseException:
    """The exception a WebSocket raises for one kind of failure, as Starlette 1.10 raises it.

    Both twins of the WebSocket class build every exception they raise through
    ``type(self)._fastws_error(kind, a, b)`` (only when raising, never on the per-message path), so
    a dialect class (``fastws.dialects.*``) sets ``_fastws_error`` to a function of the same shape
    that returns its framework's own classes and messages.

    Args:
        kind (str): one of ``"not_accepted"`` (typed receive before accept),
            ``"receive_after_disconnect"``, ``"send_after_close"``, ``"bad_mode"`` (a JSON ``mode``
            other than ``"text"``/``"binary"``), ``"expected_connect"``, ``"expected_receive"``,
            ``"expected_send"``, ``"expected_accept"``, ``"expected_body"`` (the server delivered,
            or the app sent, an event of type ``a`` that the state does not allow), and
            ``"disconnect"`` (the client sent ``websocket.disconnect``: ``a`` is the close code, ``b``
            the reason; also raised with code 1009 when ``receive_json`` closed the connection
            because a message exceeded ``max_json_size``), ``"bad_event"`` (the server delivered a
            malformed event: ``a`` says what arrived and what was expected), ``"send_failed"`` (the
            server's ``send`` raised ``OSError`` on an open connection, which is being handled when
            the factory is called; ``a`` is 1006).
        a, b: the event type, or the close code and reason.

    Returns:
        BaseException: the exception to raise (``WebSocketDisconnected``, ``RuntimeError`` or
        ``WebSocketDisconnect``).

    Raises:
        ValueError: ``kind`` is none of the above.

    Source: ``starlette/websockets.py`` (1.10.0), messages included.
    """
    if kind == "disconnect" or kind == "send_failed":
        return WebSocketDisconnect(a, b)  # type: ignore[arg-type]
    if kind == "not_accepted":
        return WebSocketDisconnected(_NOT_ACCEPTED)
    if kind == "receive_after_disconnect":
        return WebSocketDisconnected(_RECEIVE_AFTER_DISCONNECT)
    if kind == "send_after_close":
        return WebSocketDisconnected(_SEND_AFTER_CLOSE)
    if kind == "bad_mode":
        return RuntimeError(_BAD_MODE)
    if kind == "expected_connect":
        return RuntimeError(f'Expected ASGI message "websocket.connect", but got {a!r}')
    if kind == "expected_receive":
        return RuntimeError(f'Expected ASGI message "websocket.receive" or "websocket.disconnect", but got {a!r}')
    if kind == "expected_send":
        return RuntimeError(f'Expected ASGI message "websocket.send" or "websocket.close", but got {a!r}')
    if kind == "expected_accept":
        return RuntimeError(
            'Expected ASGI message "websocket.accept", "websocket.close" or '
            f'"websocket.http.response.start", but got {a!r}'
        )
    if kind == "expected_body":
        return RuntimeError(f'Expected ASGI message "websocket.http.response.body", but got {a!r}')
    if kind == "bad_event":
        return RuntimeError(f"Malformed ASGI event from the server: {a}")
    raise ValueError(f"Unknown WebSocket failure kind {kind!r}")


def mismatch_error(expected: str, message: object) -> object:
    """What ``receive_text``/``receive_bytes``/``receive_json``/``iter_*`` give when a message of the
    other kind arrives: by default, raise ``UnexpectedMessageType``.

    Both twins call ``type(self)._fastws_mismatch(expected, message)`` in that case only (never on
    the per-message path); a dialect whose framework converts instead (MicroPie decodes bytes as
    text and encodes text as bytes) returns the converted payload.

    Args:
        expected (str): ``"text"`` or ``"bytes"``, the ASGI key that was wanted.
        message (Mapping): the ``websocket.receive`` event that arrived.

    Returns:
        object: the payload to use in place of the missing one (never, here).

    Raises:
        UnexpectedMessageType: always (a ``KeyError``, as Starlette's ``KeyError('text')``).
    """
    raise UnexpectedMessageType(expected, message)


# -- bad input (docs/errors.md) -------------------------------------------------------------------

#: The default ``max_json_size``: the largest message, in bytes (UTF-8 bytes for a text message),
#: that ``receive_json``/``iter_json`` parse. 16 MiB, uvicorn's default ``ws_max_size``.
DEFAULT_MAX_JSON_SIZE = 16 * 1024 * 1024

#: The close reason sent (code 1009, RFC 6455 section 7.4.1 "Message Too Big") when a JSON message
#: exceeds ``max_json_size``.
TOO_BIG_REASON = "JSON message over max_json_size"


def event_type(message: object) -> object:
    """The ``type`` of an ASGI event the server delivered, or ``None`` when it has none.

    Args:
        message: what the server's ``receive`` returned (ASGI spec 2.4: a dict with a ``type`` str).

    Returns:
        str | None: ``message["type"]`` when it is a ``str``; ``None`` when ``message`` is not a
        mapping or has no ``type`` string (the caller raises ``"bad_event"`` with ``bad_type``).
    """
    try:
        kind = message["type"]  # type: ignore[index]
    except (KeyError, TypeError, IndexError, AttributeError):
        return None
    return kind if type(kind) is str else None


def bad_type(message: object) -> str:
    """The ``"bad_event"`` description of an event without a ``type`` string.

    Args:
        message: what the server's ``receive`` returned.

    Returns:
        str: what was expected and what arrived.
    """
    if isinstance(message, dict):
        if "type" in message:
            got = f"'type' = {message['type']!r}"
        else:
            got = f"an event without 'type' (keys {sorted(map(str, message))!r})"
    else:
        got = f"a {type(message).__name__}, not a dict"
    return f"expected a dict with a 'type' string, got {got}"


def payload_error(expected: str, message: object) -> str | None:
    """What is wrong with a ``websocket.receive`` event for a typed receive, or ``None``.

    Args:
        expected (str): ``"text"`` or ``"bytes"``, the key the method reads.
        message (Mapping): the ``websocket.receive`` event.

    Returns:
        str | None: a description for ``"bad_event"`` when the wanted key holds the wrong type, or
        both ``text`` and ``bytes`` are set (ASGI spec 2.4: exactly one of them is non-None);
        ``None`` when the wanted payload is usable or absent (absent is ``UnexpectedMessageType``).
    """
    get = message.get  # type: ignore[attr-defined]
    text = get("text")
    data = get("bytes")
    if text is not None and data is not None:
        return "expected a websocket.receive event with one of 'text' or 'bytes', got both set"
    if expected == "text" and text is not None and type(text) is not str:
        return f"expected 'text' to be a str, got {type(text).__name__}"
    if expected == "bytes" and data is not None and type(data) is not bytes:
        return f"expected 'bytes' to be bytes, got {type(data).__name__}"
    return None


def too_deep(payload: object) -> json.JSONDecodeError:
    """The error ``receive_json``/``iter_json`` raise for JSON nested past the recursion limit.

    The parser raised ``RecursionError`` (about 1,000 levels; ``[[[[...`` a million deep is
    rejected in milliseconds); it is reported as invalid JSON, so the ``except json.JSONDecodeError``
    (or ``ValueError``) that handles other bad client input handles it too.

    Args:
        payload (str | bytes): the message.

    Returns:
        json.JSONDecodeError: ``"JSON nested deeper than the recursion limit: line 1 column 1 (char 0)"``.
    """
    doc = payload if type(payload) is str else ""
    return json.JSONDecodeError("JSON nested deeper than the recursion limit", doc, 0)


def check_json_limit(value: object) -> object:
    """Validate a ``max_json_size``.

    Args:
        value (int | None): a limit in bytes, or ``None`` for none.

    Returns:
        int | None: ``value``.

    Raises:
        TypeError: ``value`` is not an int (a ``bool`` included) or ``None``.
        ValueError: ``value`` is negative.
    """
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"max_json_size must be an int or None, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"max_json_size must be >= 0, got {value}")
    return int(value)


def json_too_big(payload: object, limit: object) -> bool:
    """Whether a JSON message is over ``max_json_size``.

    Args:
        payload (str | bytes): the message (its text, or its bytes).
        limit (int | None): ``max_json_size`` in bytes; ``None`` for no limit.

    Returns:
        bool: ``True`` when the payload is longer than ``limit`` bytes (a text message is measured
        in UTF-8 bytes; encoded only when its length cannot decide).
    """
    if limit is None:
        return False
    n = len(payload)  # type: ignore[arg-type]
    if type(payload) is not str:
        return n > limit  # type: ignore[operator]
    if n * 4 <= limit:  # type: ignore[operator]
        return False
    if n > limit:  # type: ignore[operator]
        return True
    return len(payload.encode("utf-8", "surrogatepass")) > limit  # type: ignore[operator]


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
    if not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        raise ValueError(
            f"invalid close code {code}: an app may send 1000-1003, 1007-1014 or 3000-4999 "
            "(RFC 6455 section 7.4; 1004-1006 and 1015 are reserved)"
        )
    if reason is not None:
        if not isinstance(reason, str):
            raise TypeError(f"close reason must be a str or None, got {type(reason).__name__}")
        if len(reason) > 30:
            size = len(reason.encode("utf-8", "surrogatepass"))
            if size > 123:
                raise ValueError(
                    f"close reason is {size} bytes of UTF-8; at most 123 fit in a close frame (RFC 6455 section 5.5)"
                )


#: RFC 9110 section 5.6.2: the characters of a token (a header name, a subprotocol).
TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def check_header_pairs(headers: Iterable[Any], event: str) -> None:
    """Check the ``headers`` an app hands to an ASGI ``event`` (``websocket.accept`` or
    ``websocket.http.response.start``) before any of it is written: the one home of this rule, used
    by the WebSocket class and by ``fastws.server``.

    Args:
        headers (Iterable[tuple[bytes, bytes]]): read once; names must be RFC 9110 tokens (sections
            5.1, 5.6.2), values free of CR, LF and NUL (section 5.5), so an app cannot inject a
            header line or split the response.
        event (str): the ASGI event type, named in the error messages.

    Raises:
        TypeError: an item is not a ``(name, value)`` pair of ``bytes``/``bytearray``.
        ValueError: a name is not a token, or a value holds CR, LF or NUL.
    """
    for item in headers:
        try:
            name, value = item
        except (TypeError, ValueError):
            raise TypeError(f"'{event}' headers must be (name, value) pairs of bytes, got {item!r}") from None
        if not isinstance(name, (bytes, bytearray)) or not isinstance(value, (bytes, bytearray)):
            raise TypeError(f"'{event}' header name and value must be bytes, got {item!r}")
        if not name or not TOKEN.issuperset(name):
            raise ValueError(f"invalid header name {bytes(name)!r} in '{event}': not an RFC 9110 token")
        if b"\r" in value or b"\n" in value or b"\0" in value:
            raise ValueError(
                f"invalid value for header {bytes(name)!r} in '{event}': CR, LF or NUL (RFC 9110 section 5.5)"
            )


def check_accept(scope: Any, subprotocol: object, headers: Any) -> Any:
    """Reject an ``accept`` the client could not have asked for (before anything is received or sent).

    Args:
        scope (Mapping): the connection's scope (its ``subprotocols``).
        subprotocol (str | None): must be one of ``scope["subprotocols"]`` (RFC 6455 section 4.2.2).
        headers (Iterable[tuple[bytes, bytes]] | None): names must be RFC 9110 tokens, values free
            of CR, LF and NUL (RFC 9110 section 5.5).

    Returns:
        The headers to send: ``headers`` itself when it is a list or tuple (or ``None``), else a list
        of its items (an iterator is read once).

    Raises:
        TypeError: ``subprotocol`` is not a ``str``/``None``, or a header is not a pair of ``bytes``.
        ValueError: the subprotocol was not offered, or a header name/value is invalid.
    """
    if subprotocol is not None:
        if not isinstance(subprotocol, str):
            raise TypeError(f"subprotocol must be a str or None, got {type(subprotocol).__name__}")
        offered = scope.get("subprotocols") or ()
        if subprotocol not in offered:
            raise ValueError(
                f"subprotocol {subprotocol!r} was not offered by the client (offered: {list(offered)!r}); "
                "RFC 6455 section 4.2.2"
            )
    if not headers:
        return headers
    if not isinstance(headers, (list, tuple)):
        headers = list(headers)
    check_header_pairs(headers, "websocket.accept")
    return headers
