"""Checks of the ASGI events a server delivers and of what an app passes to ``accept``, shared by both
twins of the WebSocket class (they run off the per-message fast path, on the failure or accept paths).

Source: the ASGI spec 2.4, WebSocket section; RFC 6455 section 4.2.2; RFC 9110 section 5.
"""

from __future__ import annotations

from typing import Any

from fastws.protocol.http import check_header_pairs

__all__ = ["bad_type", "check_accept", "event_type", "payload_error"]


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
