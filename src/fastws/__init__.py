"""fastws: a Cython-accelerated WebSocket layer for ASGI applications.

``fastws.WebSocket(scope, receive, send)`` is a drop-in replacement for
``starlette.websockets.WebSocket`` whose per-message paths (ASGI event dispatch, the connection
state machine, text/bytes/JSON encode and decode, header, query-string and cookie parsing) are
compiled. ``IMPLEMENTATION`` says which implementation loaded: ``"cython"``, or ``"python"`` for
the pure-Python twins (``FASTWS_NO_EXTENSIONS=1``, or no compiled extension for this platform).
``JSON_BACKEND`` says which JSON library ``send_json``/``receive_json`` use: ``"orjson"``, or
``"json"`` (the standard library alone: orjson not installed, as on PyPy, or ``FASTWS_NO_ORJSON=1``);
the text sent and the values and errors received are the same either way.
"""

from __future__ import annotations

from fastws.app import App
from fastws.codec import _json
from fastws.codec._backend import JSON_BACKEND
from fastws.codec._limits import DEFAULT_MAX_JSON_SIZE
from fastws.datastructures import URL, Address, Headers, MutableHeaders, QueryParams, State
from fastws.datastructures import _core as _datastructures_core
from fastws.fanout import BroadcastResult, broadcast
from fastws.fanout import _step as _fanout_step
from fastws.origin import OriginMiddleware, check_origin
from fastws.protocol import _frame
from fastws.websocket import _core as _websocket
from fastws.websockets import (
    CloseCode,
    UnexpectedMessageType,
    WebSocket,
    WebSocketClose,
    WebSocketDisconnect,
    WebSocketDisconnected,
    WebSocketState,
)

__all__ = [
    "IMPLEMENTATION",
    "JSON_BACKEND",
    "URL",
    "Address",
    "BroadcastResult",
    "App",
    "CloseCode",
    "DEFAULT_MAX_JSON_SIZE",
    "Headers",
    "MutableHeaders",
    "OriginMiddleware",
    "QueryParams",
    "State",
    "UnexpectedMessageType",
    "WebSocket",
    "WebSocketClose",
    "WebSocketDisconnect",
    "WebSocketDisconnected",
    "WebSocketState",
    "__version__",
    "broadcast",
    "check_origin",
]

__version__ = "0.1.0"

#: ``"cython"`` when every compiled module loaded, else ``"python"`` (the pure-Python twins).
IMPLEMENTATION: str = (
    "cython"
    if all(
        module.endswith("_c")
        for module in (
            _websocket.WebSocket.__module__,
            _datastructures_core.Headers.__module__,
            _json.encode_json_text.__module__,
            _frame.FrameParser.__module__,
            _fanout_step.start_each.__module__,
        )
    )
    else "python"
)
