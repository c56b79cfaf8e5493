# cython: language_level=3
"""Compiled per-connection step of ``fastws.broadcast`` (twin: ``fastws.fanout._step_py``).

``start_each(run, key, outbox_type, outbox_of)`` starts the send of one message on every idle
connection of a broadcast (or, for a connection served by ``fastws.server``, hands its protocol the
message's frame bytes, encoded once: ``Pass.frame``), in turn, and returns when all are visited
(``None``) or when a send suspends (the transport applies backpressure): then it returns ``(send,
awaited)``, the suspended send and what it waits on, for ``run.outbox``'s sender task to carry on;
the next call continues with the next connection. Each send is driven with ``PyIter_Send``, so a
send the server completes at once costs no task, no trip through the event loop and no
``StopIteration``; the outbox fields are read in C.

Source: CPython C API ``PyIter_Send`` (3.10+); PEP 492 (coroutine protocol).
"""

cimport cython
from cpython.ref cimport PyObject, Py_DECREF

__all__ = ["OutboxCore", "Pass", "start_each"]

cdef extern from "Python.h":
    ctypedef enum PySendResult:
        PYGEN_RETURN
        PYGEN_ERROR
        PYGEN_NEXT
    PySendResult PyIter_Send(PyObject* iterator, PyObject* arg, PyObject** presult)
    PyObject* PyDict_GetItemWithError(object mp, object key) except? NULL

cdef extern from *:
    """
    /* Tells Cython that the exception the C API just set is raised here. */
    static CYTHON_INLINE int __fastws_fanout_propagate(void) { return -1; }
    """
    int _propagate "__fastws_fanout_propagate"() except -1


cdef class OutboxCore:
    """The fields of one connection's outbox (``fastws.fanout.Outbox`` documents them).

    All are Python objects, so the Python methods of ``Outbox`` read and write them as fast as
    ``__slots__`` (a C integer field would convert on every access).
    """

    cdef public object websocket
    cdef public object _queue
    cdef public object _task
    cdef public object _room
    cdef public object error
    cdef public object frames
    cdef public object queued_bytes
    cdef public object sent
    cdef public object dropped
    cdef public object closed


@cython.final
cdef class Pass:
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

    cdef public object targets
    cdef public object text
    cdef public object data
    cdef public object frame
    cdef public Py_ssize_t delivered
    cdef public Py_ssize_t closed
    cdef public list busy
    cdef public object outbox
    cdef public Py_ssize_t generation

    def __init__(self, targets, text, data, frame=None):
        self.targets = targets
        self.text = text
        self.data = data
        self.frame = frame
        self.busy = []


def start_each(Pass run, str key, type outbox_type, object outbox_of):
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
    cdef OutboxCore outbox
    cdef PyObject* res
    cdef PyObject* found
    cdef PySendResult status
    cdef object text = run.text
    cdef object data = run.data
    cdef object frame = run.frame
    cdef bint is_text = text is not None
    cdef object last_type = None
    for target in run.targets:
        if type(target) is outbox_type or (type(target) is not last_type and isinstance(target, outbox_type)):
            outbox = <OutboxCore?>target
        else:
            last_type = type(target)  # a connection type: no isinstance check for the next ones
            scope = target.scope
            if type(scope) is dict:
                found = PyDict_GetItemWithError(scope, key)
                candidate = <object>found if found is not NULL else None
            else:
                candidate = scope.get(key)
            if candidate is None:
                candidate = outbox_of(target)
            outbox = <OutboxCore?>candidate
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
                outbox.sent = outbox.sent + 1
                run.delivered += 1
                continue
        ws = outbox.websocket
        send = ws.send_text(text) if is_text else ws.send_bytes(data)
        res = NULL
        status = PyIter_Send(<PyObject*>send, <PyObject*>None, &res)
        if status == PYGEN_RETURN:
            Py_DECREF(<object>res)
            outbox.sent = outbox.sent + 1
            run.delivered += 1
        elif status == PYGEN_NEXT:
            awaited = <object>res
            Py_DECREF(awaited)
            run.outbox = outbox
            run.generation += 1
            run.delivered += 1
            return send, awaited
        else:
            try:
                _propagate()
            except BaseException as exc:
                outbox._failed(exc)  # closes the outbox; re-raises what is not an Exception
                run.closed += 1
    return None
