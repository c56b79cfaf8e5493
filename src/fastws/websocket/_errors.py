"""The public exceptions of the WebSocket class and the one factory both twins raise them through.

They live in one plain module so that ``except fastws.WebSocketDisconnect`` catches what either
implementation raises. Source: ``starlette/websockets.py`` (1.10.0), messages included.
"""

from __future__ import annotations

__all__ = ["mismatch_error", "starlette_error", "UnexpectedMessageType", "WebSocketDisconnect", "WebSocketDisconnected"]


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


_NOT_ACCEPTED = 'WebSocket is not connected. Need to call "accept" first.'

_RECEIVE_AFTER_DISCONNECT = 'Cannot call "receive" once a disconnect message has been received.'

_SEND_AFTER_CLOSE = 'Cannot call "send" once a close message has been sent.'

_BAD_MODE = 'The "mode" argument should be "text" or "binary".'


def starlette_error(kind: str, detail: object = None, reason: object = None) -> BaseException:
    """The exception a WebSocket raises for one kind of failure, as Starlette 1.10 raises it.

    Both twins of the WebSocket class build every exception they raise through
    ``type(self)._fastws_error(kind, detail, reason)`` (only when raising, never on the per-message
    path), so a dialect class (``fastws.dialects.*``) sets ``_fastws_error`` to a function of the same shape
    that returns its framework's own classes and messages.

    Args:
        kind (str): one of ``"not_accepted"`` (typed receive before accept),
            ``"receive_after_disconnect"``, ``"send_after_close"``, ``"bad_mode"`` (a JSON ``mode``
            other than ``"text"``/``"binary"``), ``"expected_connect"``, ``"expected_receive"``,
            ``"expected_send"``, ``"expected_accept"``, ``"expected_body"`` (the server delivered,
            or the app sent, an event of type ``detail`` that the state does not allow), and
            ``"disconnect"`` (the client sent ``websocket.disconnect``: ``detail`` is the close code,
            ``reason`` the reason; also raised with code 1009 when ``receive_json`` closed the connection
            because a message exceeded ``max_json_size``), ``"bad_event"`` (the server delivered a
            malformed event: ``detail`` says what arrived and what was expected), ``"send_failed"`` (the
            server's ``send`` raised ``OSError`` on an open connection, which is being handled when
            the factory is called; ``detail`` is 1006).
        detail: the event type (``expected_*``), the close code (``disconnect``, ``send_failed``) or
            the description (``bad_event``). reason: the close reason (``disconnect``).

    Returns:
        BaseException: the exception to raise (``WebSocketDisconnected``, ``RuntimeError`` or
        ``WebSocketDisconnect``).

    Raises:
        ValueError: ``kind`` is none of the above.

    Source: ``starlette/websockets.py`` (1.10.0), messages included.
    """
    if kind == "disconnect" or kind == "send_failed":
        return WebSocketDisconnect(detail, reason)  # type: ignore[arg-type]
    if kind == "not_accepted":
        return WebSocketDisconnected(_NOT_ACCEPTED)
    if kind == "receive_after_disconnect":
        return WebSocketDisconnected(_RECEIVE_AFTER_DISCONNECT)
    if kind == "send_after_close":
        return WebSocketDisconnected(_SEND_AFTER_CLOSE)
    if kind == "bad_mode":
        return RuntimeError(_BAD_MODE)
    if kind == "expected_connect":
        return RuntimeError(f'Expected ASGI message "websocket.connect", but got {detail!r}')
    if kind == "expected_receive":
        return RuntimeError(f'Expected ASGI message "websocket.receive" or "websocket.disconnect", but got {detail!r}')
    if kind == "expected_send":
        return RuntimeError(f'Expected ASGI message "websocket.send" or "websocket.close", but got {detail!r}')
    if kind == "expected_accept":
        return RuntimeError(
            'Expected ASGI message "websocket.accept", "websocket.close" or '
            f'"websocket.http.response.start", but got {detail!r}'
        )
    if kind == "expected_body":
        return RuntimeError(f'Expected ASGI message "websocket.http.response.body", but got {detail!r}')
    if kind == "bad_event":
        return RuntimeError(f"Malformed ASGI event from the server: {detail}")
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
