"""The connection state enum of the WebSocket class, shared by both twins.

One plain module, so that ``ws.client_state is WebSocketState.CONNECTED`` holds whichever twin
loaded. Source: ``starlette.websockets.WebSocketState`` (1.10.0).
"""

from __future__ import annotations

import enum

__all__ = ["as_state", "STATES", "WebSocketState"]


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


#: The ``client_state``/``application_state`` values by their number: what a WebSocket class whose
#: ``_fastws_states`` is not overridden reports. A dialect's class sets ``_fastws_states`` to its own
#: framework's enum members in the same order (CONNECTING, CONNECTED, DISCONNECTED, RESPONSE).
STATES = (
    WebSocketState.CONNECTING,
    WebSocketState.CONNECTED,
    WebSocketState.DISCONNECTED,
    WebSocketState.RESPONSE,
)
