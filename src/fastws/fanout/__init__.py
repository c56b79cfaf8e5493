"""Fan-out: send one message to many WebSocket connections, each through a bounded send queue.

``broadcast(websockets, message)`` encodes the message once (text as is, bytes as is, anything else
as compact JSON text through the codec ``WebSocket.send_json`` uses) and hands it to every
connection's ``Outbox``: a per-connection FIFO bounded both in messages (``max_messages``) and in
bytes (``max_bytes``, payload bytes: UTF-8 for text). A connection whose outbox is full is a *slow
consumer*, and the ``policy`` decides what happens to it:

* ``Policy.DROP_OLDEST`` (default): evict the oldest queued messages until the new one fits; the
  connection stays open and misses those messages (counted as ``dropped``).
* ``Policy.CLOSE``: close the connection with code 1013 ("try again later", RFC 6455 section 7.4.1,
  IANA registry), discarding its queue (counted as ``closed``). The close frame waits behind the
  data already handed to the server; if the server cannot take it within ``timeout`` (the peer
  reads nothing at all), the connection simply gets no more messages, and the server's own
  keepalive (uvicorn's ``ws_ping_timeout``) or the client ends it. ASGI offers an app no way to
  abort a transport.
* ``Policy.WAIT``: wait up to ``timeout`` seconds for room; if none is made in time the new
  message is not queued for that connection (counted as ``dropped``). Only the full connections
  are waited on, concurrently; ``broadcast`` returns when the last of them has room or timed out.

Lifetime of the queue and its sender task
-----------------------------------------
The outbox lives in the connection's ASGI scope (``scope["fastws.outbox"]``), so it is created on
the first broadcast to that connection and is garbage with the scope. Its sender exists only
while messages are queued: it starts when the queue goes from empty to non-empty and returns as
soon as the queue is empty again, so an idle connection costs no task. When nothing is queued or
in flight, ``broadcast`` starts the send inline: a send the server completes at once needs no task
at all (the per-connection step is compiled, ``fastws.fanout._step``, and drives each send with
``PyIter_Send``: no ``StopIteration`` per connection); only a send that suspends (the transport
applies backpressure) continues in a sender task, which then sends whatever was queued meanwhile.
The task also ends, and the queue is discarded, when the slow-consumer policy closes the
connection, when the outbox is closed with ``Outbox.aclose()``, and when a send fails.

Frame-level fan-out on fastws.server
------------------------------------
Server frames are unmasked (RFC 6455 section 5.1), so a message is the same bytes on every
connection. For a connection served by ``fastws.server`` (its ``WebSocket``'s ASGI ``send`` is
the protocol's own, not wrapped, and ``send_text``/``send_bytes`` are fastws's, not overridden),
``broadcast`` encodes the frame once and hands those bytes to the protocol's ``send_prepared``,
which adds them to the connection's write of this event-loop iteration, in order with the app's
own sends. The protocol says no, and the ordinary send takes the message, when permessage-deflate
was negotiated, when its transport is over the high-water mark (so the outbox bounds and the
policy apply as before), and once a close frame was sent or the client is gone.

When a send fails
-----------------
Whichever exception ends a send (inline in ``broadcast`` or in the sender task), the outbox is
left in a defined state: closed, its queue discarded, the connection counted ``closed`` by
``broadcast`` from then on; never a queue without a sender. What the exception means decides the
rest:

* The connection is gone or closed: ``OSError`` from the server (the client left; the WebSocket
  reports it as ``WebSocketDisconnect`` 1006), ``WebSocketDisconnected`` (the app closed it), or
  any other exception after which the connection's state is no longer open (Starlette's
  ``RuntimeError`` for a send after close, a dialect's own disconnect class). Nothing else to do.
* The connection was never accepted (``application_state`` CONNECTING): that send is counted
  ``closed`` and the outbox stays usable for after the accept.
* Anything else (a ``RuntimeError`` on an open connection, a ``TypeError`` from a broken
  middleware's ``send``): a bug, not a departure. It is reported through the event loop's
  exception handler (asyncio logs it with its traceback), kept in ``Outbox.error``, and the
  connection is closed with 1011 "Internal Error" (RFC 6455 section 7.4.1) by a task that
  ``aclose`` cancels, so the client can reconnect instead of staying connected and fed nothing.
* Cancellation (``aclose``, the policy, or whoever owns the task), ``KeyboardInterrupt`` and
  ``SystemExit`` close the outbox and propagate.

So that no task outlives its connection even when a send is stuck on a peer that stopped reading,
the endpoint that owns the connection closes the outbox on the way out::

    async def endpoint(websocket):
        await websocket.accept()
        async with fastws.fanout.attached(websocket):   # aclose() on exit cancels the sender
            ...  # receive loop; other tasks call broadcast(room, message)

``attached`` (or ``await outbox_of(websocket).aclose()`` in a ``finally``) cancels the sender
task and awaits it before the endpoint returns, i.e. before the ASGI server tears the connection
down. A closed outbox refuses further messages (``broadcast`` counts them as ``closed``).

Source: RFC 6455 section 7.4 (close codes; 1013 from the IANA "WebSocket Close Code Number"
registry); the ASGI 3.0 WebSocket ``send`` event; ``starlette.websockets.WebSocket.send_json``
(1.10.0) for the JSON encoding.
"""

from __future__ import annotations

from fastws.fanout._broadcast import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_MESSAGES,
    DEFAULT_TIMEOUT,
    INTERNAL_ERROR,
    TRY_AGAIN_LATER,
    BroadcastResult,
    Encoded,
    Outbox,
    Policy,
    attached,
    broadcast,
    encode,
    outbox_of,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_MESSAGES",
    "DEFAULT_TIMEOUT",
    "INTERNAL_ERROR",
    "TRY_AGAIN_LATER",
    "BroadcastResult",
    "Encoded",
    "Outbox",
    "Policy",
    "attached",
    "broadcast",
    "encode",
    "outbox_of",
]
