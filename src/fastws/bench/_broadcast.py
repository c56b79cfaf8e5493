"""The broadcast suite of ``fastws bench --broadcast``: one message to many in-memory connections.

Workloads: a 64-byte text (``TEXT_64``) and a small JSON chat message (``JSON_SMALL``, ~200 B),
each sent to ``connections`` (default 1,000) accepted connections whose server ``send`` returns
at once (so only the fan-out and the WebSocket layer are measured, not sockets). Variants:

- ``fastws-c``: ``fastws.broadcast`` (``fastws.fanout.broadcast``) over the compiled ``WebSocket`` and
  the compiled per-connection step ``fastws.fanout._step_c`` (encode once, per-connection bounded
  queues, a sender task only for a send that suspends);
- ``fastws-py``: the same over the pure-Python twins (``fastws.websocket._core_py``, ``fastws.fanout._step_py``);
- ``starlette-loop``: the plain loop an app writes with Starlette:
  ``for ws in sockets: await ws.send_text(text)`` (``send_json(value)`` for JSON, which encodes
  per connection).

One round times ``messages`` broadcasts, each followed by the event loop running the senders until
every connection has sent it (a sender task per connection and message for ``fastws``), and
checks that each connection got every message. Rounds interleave the variants in a rotating
order; the figure is the median over rounds of messages delivered per second (connections x
messages / seconds). Memory is ``tracemalloc``'s count of the bytes allocated by building and
accepting the connections and (fastws) the send queue that their first broadcast gives each of
them, divided by the number of connections; what a queued message adds is one queue slot per
connection, the payload being shared. Garbage collection is off while a round is timed.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from fastws.bench.workloads import CONNECT, JSON_SMALL, SCOPE_PLAIN, TEXT_64, VariantUnavailable

__all__ = ["BROADCAST_VARIANTS", "format_broadcast", "run_broadcast"]

#: Variants in table order: (name, WebSocket module, fan-out style: "loop", or "broadcast:" and
#: the module of the broadcast step).
BROADCAST_VARIANTS: tuple[tuple[str, str, str], ...] = (
    ("fastws-c", "fastws.websocket._core_c", "broadcast:fastws.fanout._step_c"),
    ("fastws-py", "fastws.websocket._core_py", "broadcast:fastws.fanout._step_py"),
    ("starlette-loop", "starlette.websockets", "loop"),
)
_PAYLOADS: tuple[tuple[str, str, Any], ...] = (
    ("text-64", "64 B text", TEXT_64),
    ("json-small", "small JSON", JSON_SMALL),
)

Progress = Callable[[str], None]


class _Counter:
    # The in-memory server side shared by all connections of a variant: counts websocket.send.
    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, message: Any) -> None:
        if message["type"] == "websocket.send":
            self.sent += 1


async def _receive_connect() -> Any:
    return CONNECT


async def _connections(cls: Any, n: int, counter: _Counter) -> list[Any]:
    sockets = []
    for _ in range(n):
        ws = cls(dict(SCOPE_PLAIN, state={}), _receive_connect, counter.send)
        await ws.accept()
        sockets.append(ws)
    return sockets


def _fan_out(style: str, payload: Any) -> Callable[[list[Any]], Any]:
    if style.startswith("broadcast"):
        from fastws.fanout import _broadcast as fanout

        # The step of this variant's implementation (the variants share one process, and
        # fastws.fanout uses the compiled step whenever it is built).
        step = importlib.import_module(style.partition(":")[2] or "fastws.fanout._step")
        outbox = fanout._twin_outbox(step.OutboxCore)
        step_pass, start_each = step.Pass, step.start_each
        broadcast = fanout.broadcast

        async def fastws_broadcast(sockets: list[Any]) -> None:
            fanout.Outbox, fanout.Pass, fanout.start_each = outbox, step_pass, start_each  # type: ignore[misc]
            await broadcast(sockets, payload)

        return fastws_broadcast
    if isinstance(payload, str):

        async def loop_text(sockets: list[Any]) -> None:
            for ws in sockets:
                await ws.send_text(payload)

        return loop_text

    async def loop_json(sockets: list[Any]) -> None:
        for ws in sockets:
            await ws.send_json(payload)

    return loop_json


async def _drained(counter: _Counter, expected: int) -> None:
    # Let the sender tasks run until every connection has sent (bounded: fails rather than hangs).
    for _ in range(1000):
        if counter.sent >= expected:
            return
        await asyncio.sleep(0)
    raise RuntimeError(f"broadcast benchmark: {counter.sent} of {expected} messages were sent")


async def _round(fan_out: Any, sockets: list[Any], counter: _Counter, messages: int) -> float:
    # Seconds for `messages` fan-outs to every socket, all of them sent.
    start_count = counter.sent
    n = len(sockets)
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for i in range(1, messages + 1):
            await fan_out(sockets)
            await _drained(counter, start_count + i * n)
        elapsed = time.perf_counter() - start
    finally:
        if gc_was_enabled:
            gc.enable()
    return elapsed


async def _memory_per_connection(cls: Any, style: str, payload: Any, n: int) -> float:
    # Bytes allocated per connection: the connection, accepted, plus (fastws) the send queue its
    # first broadcast creates. Measured with tracemalloc, whose bookkeeping slows everything down, so
    # never in the same pass as the timing.
    counter = _Counter()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        sockets = await _connections(cls, n, counter)
        if style.startswith("broadcast"):
            from fastws.fanout import outbox_of

            await _fan_out(style, payload)(sockets)  # creates every connection's outbox
            held = tracemalloc.get_traced_memory()[0] - before
            for ws in sockets:
                await outbox_of(ws).aclose()
        else:
            held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del sockets
    return held / n


async def _run(
    connections: int, messages: int, rounds: int, progress: Progress, variants: tuple[tuple[str, str, str], ...]
) -> dict[str, Any]:
    classes: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name, module_name, _ in variants:
        try:
            classes[name] = importlib.import_module(module_name).WebSocket
        except ImportError as exc:
            skipped[name] = str(VariantUnavailable(f"{name}: cannot import {module_name} ({exc})"))
    results: dict[str, Any] = {}
    for key, title, payload in _PAYLOADS:
        progress(f"broadcast {title} to {connections} connections")
        setups = {}
        for name, _, style in variants:
            if name not in classes:
                continue
            counter = _Counter()
            sockets = await _connections(classes[name], connections, counter)
            fan_out = _fan_out(style, payload)
            await _round(fan_out, sockets, counter, max(1, messages // 4))  # warm-up
            setups[name] = (fan_out, sockets, counter)
        timings: dict[str, list[float]] = {name: [] for name in setups}
        names = list(setups)
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                fan_out, sockets, counter = setups[name]
                seconds = await _round(fan_out, sockets, counter, messages)
                timings[name].append(connections * messages / seconds)
        row: dict[str, Any] = {}
        for name, _, style in variants:
            if name not in setups:
                continue
            memory = await _memory_per_connection(classes[name], style, payload, connections)
            row[name] = {"messages_per_s": statistics.median(timings[name]), "bytes_per_connection": memory}
        for name in setups:
            for ws in setups[name][1]:
                outbox = ws.scope.get("fastws.outbox")
                if outbox is not None:
                    await outbox.aclose()
        results[key] = {"title": title, "variants": row}
    return {
        "connections": connections,
        "messages_per_round": messages,
        "rounds": rounds,
        "workloads": results,
        "skipped": skipped,
    }


def run_broadcast(
    *,
    connections: int = 1000,
    messages: int = 20,
    rounds: int = 15,
    progress: Progress = lambda line: None,
    variants: tuple[tuple[str, str, str], ...] = BROADCAST_VARIANTS,
) -> dict[str, Any]:
    """Run the broadcast suite (module docstring) on a fresh event loop (uvloop when installed).

    Args:
        connections (int): connections per variant.
        messages (int): broadcasts per timed round.
        rounds (int): interleaved rounds; the figure is the median.
        progress (Callable[[str], None]): receives one line per workload.
        variants: ``BROADCAST_VARIANTS`` or a subset of it.

    Returns:
        dict: ``{"connections", "messages_per_round", "rounds", "skipped": {variant: why},
        "workloads": {key: {"title", "variants": {variant: {"messages_per_s",
        "bytes_per_connection"}}}}}`` (messages delivered per second; bytes).

    Raises:
        RuntimeError: a variant did not deliver every message.
    """
    from fastws.fanout import _broadcast as fanout

    saved = fanout.Outbox, fanout.Pass, fanout.start_each  # the variants switch them; put them back after
    try:
        try:
            import uvloop
        except ImportError:
            return asyncio.run(_run(connections, messages, rounds, progress, variants))
        return uvloop.run(_run(connections, messages, rounds, progress, variants))
    finally:
        fanout.Outbox, fanout.Pass, fanout.start_each = saved  # type: ignore[misc]


def format_broadcast(result: dict[str, Any]) -> str:
    """The broadcast table: messages delivered per second, the ratio to the Starlette loop, and
    bytes per connection, per workload and variant."""
    lines = [
        f"Broadcast to {result['connections']} in-memory connections "
        f"({result['messages_per_round']} messages per round, median of {result['rounds']} rounds)",
        f"{'workload':<12} {'variant':<16} {'msgs/s':>12} {'vs loop':>8} {'bytes/conn':>11}",
    ]
    for workload in result["workloads"].values():
        row = workload["variants"]
        reference = row.get("starlette-loop", {}).get("messages_per_s")
        for name, figures in row.items():
            ratio = f"{figures['messages_per_s'] / reference:.2f}x" if reference else "-"
            lines.append(
                f"{workload['title']:<12} {name:<16} {figures['messages_per_s']:>12,.0f} {ratio:>8} "
                f"{figures['bytes_per_connection']:>11,.0f}"
            )
    for name, why in result.get("skipped", {}).items():
        lines.append(f"skipped {name}: {why}")
    return "\n".join(lines)
