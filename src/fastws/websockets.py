"""The public WebSocket API: Starlette 1.10's ``starlette.websockets`` surface, compiled.

``WebSocket`` is the compiled class when the extension loaded (``fastws.IMPLEMENTATION ==
"cython"``) and its pure-Python twin otherwise; both behave identically.
"""

from __future__ import annotations

from typing import Any

from fastws.protocol.close import CloseCode
from fastws.websocket._core import WebSocket
from fastws.websocket._errors import UnexpectedMessageType, WebSocketDisconnect, WebSocketDisconnected
from fastws.websocket._state import WebSocketState

__all__ = [
    "CloseCode",
    "UnexpectedMessageType",
    "WebSocket",
    "WebSocketClose",
    "WebSocketDisconnect",
    "WebSocketDisconnected",
    "WebSocketState",
]


class WebSocketClose:
    """An ASGI app that closes (or, before accept, rejects) a WebSocket connection.

    Args:
        code (int): the close code (RFC 6455 section 7.4); default 1000.
        reason (str | None): the close reason; ``None`` is sent as ``""``.

    Calling it sends one ``websocket.close`` event with ``code`` and ``reason``; it does not
    check the code (see ``CloseCode``).

    Source: ``starlette.websockets.WebSocketClose`` (1.10.0).
    """

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = code
        self.reason = reason or ""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "websocket.close", "code": self.code, "reason": self.reason})
