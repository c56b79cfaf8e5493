"""Selects the compiled WebSocket class, or its pure-Python twin (``FASTWS_NO_EXTENSIONS=1``,
no compiler at install time, or an interpreter other than CPython)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastws._compat import NO_EXTENSIONS

__all__ = ["WebSocket"]

if TYPE_CHECKING or NO_EXTENSIONS:
    from fastws.websocket._core_py import WebSocket
else:
    try:
        from fastws.websocket._core_c import WebSocket
    except ImportError:  # no compiled extension was built: the twin serves
        from fastws.websocket._core_py import WebSocket
