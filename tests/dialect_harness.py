"""Differential harness for the dialect tests: one scripted ASGI conversation is run against a
framework's own WebSocket class and against fastws's dialect class, and everything observable is
compared: the messages sent, each step's return value or exception (type, message, attributes),
and the final states (by name)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Step = Callable[[Any], Awaitable[Any]]


class Server:
    """The server side of one connection: pops the given client events (a ``websocket.disconnect``
    with code 1006 once they run out, so no script hangs), records what the app sends."""

    def __init__(self, events: Sequence[dict[str, Any]]) -> None:
        self.events = copy.deepcopy(list(events))
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if not self.events:
            return {"type": "websocket.disconnect", "code": 1006}
        return self.events.pop(0)

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(copy.deepcopy(dict(message)))


def outcome_of_exception(exc: BaseException) -> tuple[Any, ...]:
    """What is compared of an exception: its class, ``str``, ``args`` and attributes."""
    attrs = {k: v for k, v in vars(exc).items() if not k.startswith("_")} if hasattr(exc, "__dict__") else {}
    if isinstance(exc, KeyError):
        # fastws's UnexpectedMessageType is a KeyError with the same args but a longer message.
        return ("KeyError", exc.args)
    return (type(exc), str(exc), exc.args, attrs)


async def _converse(make: Callable[[Server], Any], events: Sequence[dict[str, Any]], steps: Sequence[Step]) -> Any:
    server = Server(events)
    ws = make(server)
    results: list[Any] = []
    for step in steps:
        try:
            results.append(("ok", await step(ws)))
        except Exception as exc:  # noqa: BLE001 - every exception is an outcome to compare
            results.append(("raised", outcome_of_exception(exc)))
    return results, server.sent


def converse(make: Callable[[Server], Any], events: Sequence[dict[str, Any]], steps: Sequence[Step]) -> Any:
    """Runs ``steps`` on ``make(server)`` over ``events``; returns ``(results, sent)``."""
    return asyncio.run(_converse(make, events, steps))


def assert_same(
    reference: Callable[[Server], Any],
    dialect: Callable[[Server], Any],
    events: Sequence[dict[str, Any]],
    steps: Sequence[Step],
) -> Any:
    """Asserts that the framework's class and the dialect give the same results and sent messages."""
    expected = converse(reference, events, steps)
    got = converse(dialect, events, steps)
    assert got[0] == expected[0], f"results differ:\n  framework: {expected[0]}\n  fastws:    {got[0]}"
    assert got[1] == expected[1], f"sent messages differ:\n  framework: {expected[1]}\n  fastws:    {got[1]}"
    return got


async def collect(iterator: Any) -> list[Any]:
    """All items of an async iterator."""
    return [item async for item in iterator]


CONNECT = {"type": "websocket.connect"}


def text(data: str) -> dict[str, Any]:
    return {"type": "websocket.receive", "text": data}


def binary(data: bytes) -> dict[str, Any]:
    return {"type": "websocket.receive", "bytes": data}


def disconnect(code: int = 1000, reason: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"type": "websocket.disconnect", "code": code}
    if reason is not None:
        message["reason"] = reason
    return message


def run_snippet(code: str, implementation: str, timeout: float = 60, warnings: Sequence[str] = ()) -> str:
    """Runs ``code`` in a fresh interpreter (``install()`` rebinds module globals for a whole
    process, so it is tested out of the test process) with the given fastws implementation
    (``"cython"`` or ``"python"``), warnings as errors except the ``warnings`` filters given (``-W``
    syntax); asserts it exits 0 and returns its stdout."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ)
    env.pop("FASTWS_NO_EXTENSIONS", None)
    if implementation == "python":
        env["FASTWS_NO_EXTENSIONS"] = "1"
    result = subprocess.run(
        [sys.executable, "-W", "error", *(arg for spec in warnings for arg in ("-W", spec)), "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=Path(__file__).parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout
