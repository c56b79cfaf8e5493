"""Pure-Python twin of ``fastws.fanout._step_c``: the per-connection step of ``fastws.broadcast``.

``start_each(run, key, outbox_type, outbox_of)`` starts the send of one message on every idle
connection of a broadcast (or, for a connection served by ``fastws.server``, hands its protocol the
message's frame bytes, encoded once: ``Pass.frame``), in turn, and returns when all are visited
(``None``) or when a send suspends (the transport applies backpressure): then it returns ``(send,
awaited)``, the suspended send and what it waits on, for ``run.outbox``'s sender task to carry on,
and the next call continues with the next connection. A send the server completes at once costs no
task and no ``StopIteration``: here the connections are visited by one coroutine that ``await``s
each send (as the plain ``for ws in room: await ws.send_text(m)`` loop does), and a suspended send
detaches that coroutine (``run.generation`` moves on), which becomes the suspended connection's
send: it returns as soon as that send is done. The compiled twin drives each send with
``PyIter_Send`` instead.

``OutboxCore`` holds the fields of ``fastws.fanout.Outbox`` (its subclass), ``Pass`` the state of one
broadcast. Source: PEP 492 (coroutine ``send``), CPython C API ``PyIter_Send`` (3.10+).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["OutboxCore", "Pass", "start_each"]


class OutboxCore:
    """The fields of one connection's outbox (``fastws.fanout.Outbox`` documents them)."""

    __slots__ = (
        "_queue",
        "_room",
        "_task",
        "closed",
        "dropped",
        "error",
        "frames",
        "queued_bytes",
        "sent",
        "websocket",
    )

    websocket: Any
    frames: Any
    _queue: Any
    _task: Any
    _room: Any
    error: BaseException | None
    queued_bytes: int
    sent: int
    dropped: int
    closed: bool


class Pass:
    """One broadcast over its connections: what ``start_each`` visits and counts.

    Args:
        targets (Iterator): the connections (``WebSocket`` objects with a ``scope``, or outboxes) still
            to visit; shared by the successive ``start_each`` calls.
        text (str | None), data (bytes | None): the message (one of them is ``None``).
        frame (bytes | None): the message as one encoded WebSocket frame, for the connections
            whose outbox has a frame sink (``OutboxCore.frames``: ``fastws.server``'s
            ``send_prepared``); ``None`` turns the frame-level path off.

    Attributes:
        delivered (int): sends completed or in progress. closed (int): sends that failed.
        busy (list[OutboxCore]): outboxes with a sender running, or closed, left to the caller.
        outbox (OutboxCore | None): the connection whose send suspended (after ``start_each``
            returned a pair). generation (int): moves on each time a send suspends.
    """

    __slots__ = ("busy", "closed", "data", "delivered", "frame", "generation", "outbox", "targets", "text")

    def __init__(
        self, targets: Iterator[Any], text: str | None, data: bytes | None, frame: bytes | None = None
    ) -> None:
        self.targets = targets
        self.text = text
        self.data = data
        self.frame = frame
        self.delivered = 0
        self.closed = 0
        self.busy: list[Any] = []
        self.outbox: Any = None
        self.generation = 0


def start_each(run: Pass, key: str, outbox_type: type, outbox_of: Callable[[Any], Any]) -> tuple[Any, Any] | None:
    """Start the send on each idle connection of ``run`` (module docstring).

    Args:
        run (Pass): the broadcast.
        key (str): the scope key of a connection's outbox.
        outbox_type (type): the outbox class (a subclass of ``OutboxCore``): a target of that
            type is an outbox, any other a connection whose scope holds its outbox under ``key``.
        outbox_of (Callable): creates the outbox of a connection that has none yet.

    Returns:
        tuple | None: ``None`` once every connection was visited; else ``(send, awaited)``: the
        send of ``run.outbox`` suspended, waiting on ``awaited``.

    Raises:
        Whatever ``outbox._failed`` re-raises for a send that raised something other than an
        ``Exception`` (cancellation, ``KeyboardInterrupt``).
    """
    chain = _each(run, key, outbox_type, outbox_of)
    try:
        awaited = chain.send(None)
    except StopIteration:
        return None
    run.generation += 1  # detach `chain`: it returns once run.outbox's send is done
    run.delivered += 1
    return chain, awaited


async def _each(run: Pass, key: str, outbox_type: type, outbox_of: Callable[[Any], Any]) -> None:
    generation = run.generation
    text = run.text
    data = run.data
    frame = run.frame
    for target in run.targets:
        try:
            outbox = target.scope.get(key)
        except AttributeError:  # no scope: an outbox given as is (checked only then: it costs)
            if not isinstance(target, outbox_type):
                raise
            outbox = target
        else:
            if outbox is None:
                outbox = outbox_of(target)
        if outbox._task is not None or outbox.closed is not False:
            run.busy.append(outbox)  # a sender is running, or closed: the caller's business
            continue
        if frame is not None and outbox.frames is not None:
            # Frame-level: the connection's protocol writes the shared frame bytes, or says no
            # (closed, deflate, backpressure) and the ordinary send below deals with it.
            try:
                written = outbox.frames(frame)
            except BaseException as exc:
                outbox._failed(exc)
                run.closed += 1
                continue
            if written is True:
                outbox.sent += 1
                run.delivered += 1
                continue
        run.outbox = outbox
        ws = outbox.websocket
        try:
            if text is not None:
                await ws.send_text(text)
            else:
                await ws.send_bytes(data)
        except BaseException as exc:
            if run.generation != generation:
                raise  # detached: the sender task deals with it
            outbox._failed(exc)  # closes the outbox; re-raises what is not an Exception
            run.closed += 1
            continue
        if run.generation != generation:
            return  # detached: the sender task counts this send and goes on with the queue
        outbox.sent += 1
        run.delivered += 1
