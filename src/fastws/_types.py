"""Temporary alias while issue 16 moves the modules: the names of the former ``fastws._types``, now
in ``fastws.websocket._state``/``_errors``/``_checks``, ``fastws.codec._limits``,
``fastws.protocol.close`` and ``fastws.protocol.http`` (removed once every importer moved)."""

from __future__ import annotations

from fastws.codec._limits import DEFAULT_MAX_JSON_SIZE, TOO_BIG_REASON, check_json_limit, json_too_big, too_deep
from fastws.protocol.close import CloseCode, check_close
from fastws.protocol.http import TOKEN, check_header_pairs
from fastws.websocket._checks import bad_type, check_accept, event_type, payload_error
from fastws.websocket._errors import (
    UnexpectedMessageType,
    WebSocketDisconnect,
    WebSocketDisconnected,
    mismatch_error,
    starlette_error,
)
from fastws.websocket._state import STATES, WebSocketState, as_state

__all__ = [
    "CloseCode",
    "DEFAULT_MAX_JSON_SIZE",
    "STATES",
    "TOKEN",
    "TOO_BIG_REASON",
    "check_accept",
    "check_close",
    "check_header_pairs",
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
