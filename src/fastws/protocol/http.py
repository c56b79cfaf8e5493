"""HTTP pieces shared by the WebSocket class, the server, the origin check, the app router and
the demo: the header rule for what an app hands to an ASGI event, the one plain-text ASGI response,
and the bytes of an HTTP/1.1 response the server writes itself (denials and errors before accept).

Source: RFC 9110 sections 5.1, 5.5, 5.6.2; ASGI spec 2.4 (HTTP, and the WebSocket Denial Response
extension).
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

__all__ = ["TOKEN", "PlainTextResponse", "check_header_pairs", "http_response", "response_head", "status_line"]


#: RFC 9110 section 5.6.2: the characters of a token (a header name, a subprotocol).
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


class PlainTextResponse:
    """A minimal ASGI response: ``status`` with a ``body`` (UTF-8 plain text unless told).

    It answers an ``http`` scope with ``http.response.start``/``http.response.body`` (an empty body
    for ``HEAD``), and a ``websocket`` scope with the ``websocket.http.response.*`` events of the
    ASGI "WebSocket Denial Response" extension, as ``starlette.responses.Response`` does, so it can
    be passed to ``WebSocket.send_denial_response``.

    Args:
        body (str | bytes): the body; a ``str`` is encoded as UTF-8.
        status (int): the HTTP status (default 200).
        content_type (str): the ``content-type`` header (default ``text/plain; charset=utf-8``).
        headers (list[tuple[bytes, bytes]] | None): more headers, sent after ``content-type`` and
            ``content-length``.

    Source: ASGI spec 2.4 (HTTP; WebSocket Denial Response); ``starlette.responses.Response`` (1.10.0).
    """

    def __init__(
        self,
        body: str | bytes,
        status: int = 200,
        content_type: str = "text/plain; charset=utf-8",
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.status = status
        self.headers = [
            (b"content-type", content_type.encode("latin-1")),
            (b"content-length", str(len(self.body)).encode("latin-1")),
            *(headers or []),
        ]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        prefix = "websocket." if scope["type"] == "websocket" else ""
        await send({"type": prefix + "http.response.start", "status": self.status, "headers": self.headers})
        body = b"" if scope.get("method") == "HEAD" else self.body
        await send({"type": prefix + "http.response.body", "body": body})


def status_line(status: int) -> bytes:
    """The status line of an HTTP/1.1 response (RFC 9112 section 4), with the standard reason phrase.

    Args:
        status (int): the status code; an unregistered code gets an empty phrase.

    Returns:
        bytes: ``b"HTTP/1.1 403 Forbidden\\r\\n"`` and the like.
    """
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")


def response_head(status: int, headers: list[tuple[bytes, bytes]], content_length: int | None) -> bytes:
    """The head of an HTTP/1.1 response the server writes before (or instead of) a WebSocket.

    Adds the defaults uvicorn's websockets-sansio protocol adds to a denial response (uvicorn 0.54)
    when the app did not send them: ``date``, ``connection: close``, ``content-length`` (when
    known) and ``content-type: text/plain; charset=utf-8``.

    Args:
        status (int): the status code. headers (list[tuple[bytes, bytes]]): the app's headers,
            already checked with ``check_header_pairs``. content_length (int | None): the body's
            length in bytes, ``None`` when the body streams (no ``content-length`` added).

    Returns:
        bytes: status line, headers and the blank line.
    """
    names = {name.lower() for name, _ in headers}
    extra: list[tuple[bytes, bytes]] = []
    if b"date" not in names:
        extra.append((b"date", email.utils.formatdate(usegmt=True).encode("ascii")))
    if b"connection" not in names:
        extra.append((b"connection", b"close"))
    if b"content-length" not in names and content_length is not None:
        extra.append((b"content-length", str(content_length).encode("ascii")))
    if b"content-type" not in names:
        extra.append((b"content-type", b"text/plain; charset=utf-8"))
    lines = [status_line(status)]
    for name, value in [*headers, *extra]:
        lines += [name, b": ", value, b"\r\n"]
    lines.append(b"\r\n")
    return b"".join(lines)


def http_response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
    """A whole HTTP/1.1 response: ``response_head`` with the body's length, then the body (bytes)."""
    return response_head(status, headers, len(body)) + body
