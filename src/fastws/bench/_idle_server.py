"""The server of ``fastws bench --connections``: one uvicorn worker with the fastws echo app.

Run as ``python -m fastws.bench._idle_server --ws WS --ping-interval S --max-seconds T``. WS is
uvicorn's ``--ws`` (``auto``, ``websockets-sansio``, ...) or ``fastws`` for
``fastws.server:WebSocketProtocol``. The app is the echo app of ``fastws bench --e2e``
(``fastws.WebSocket``, ``_e2e_server.make_app("fastws")``); uvicorn runs on uvloop with httptools
when installed, keepalive pings every S seconds (timeout 20 s), 127.0.0.1 on a port the OS picks,
the descriptor limit raised to its hard limit. Once it listens it prints ``READY <port>
<implementation> <fd limit>``.

Standard input takes commands, one a line, each answered with one JSON line on standard output:
``trace-start`` starts :mod:`tracemalloc` (1 frame); ``trace-stop N`` answers
``{"heap": bytes, "sites": [[where, bytes], ...]}``: the Python heap allocated since
``trace-start`` and still alive, in total and by the 25 largest allocation sites, then stops
tracing (its own tables freed). End of file on standard input, or ``T`` seconds, stops the server.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sys
import tracemalloc
from typing import Any

__all__ = ["main"]

#: ``--ws fastws`` means fastws's own protocol.
WS_ALIASES = {"fastws": "fastws.server:WebSocketProtocol"}


def _commands(stop: Any) -> None:
    # os.read, not sys.stdin: a daemon thread blocked in a buffered read breaks interpreter shutdown.
    pending = b""
    try:
        while chunk := os.read(0, 4096):
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                words = line.decode().split()
                if not words:
                    continue
                if words[0] == "trace-start":
                    tracemalloc.start(1)
                    answer: dict[str, Any] = {"tracing": True}
                elif words[0] == "trace-stop":
                    snapshot = tracemalloc.take_snapshot()
                    heap = tracemalloc.get_traced_memory()[0]
                    tracemalloc.stop()
                    sites = [
                        [f"{stat.traceback[0].filename}:{stat.traceback[0].lineno}", stat.size, stat.count]
                        for stat in snapshot.statistics("lineno")[:25]
                    ]
                    del snapshot
                    answer = {"heap": heap, "sites": sites}
                else:
                    answer = {"error": f"unknown command {words[0]!r}"}
                sys.stdout.write(json.dumps(answer) + "\n")
                sys.stdout.flush()
    except OSError:
        pass
    stop()


def main(argv: list[str] | None = None) -> int:
    """Serve until stdin closes or the time runs out; 0 on a clean stop."""

    from fastws.bench._e2e_server import make_app
    from fastws.bench._process import serve_uvicorn

    parser = argparse.ArgumentParser(prog="python -m fastws.bench._idle_server")
    parser.add_argument("--ws", default="auto")
    parser.add_argument("--ping-interval", type=float, default=2.0)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    args = parser.parse_args(argv)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    app, implementation = make_app("fastws")

    http = "httptools" if importlib.util.find_spec("httptools") is not None else "h11"
    return serve_uvicorn(
        app,
        f"{implementation} {hard}",
        args.max_seconds,
        watch=_commands,
        http=http,
        ws=WS_ALIASES.get(args.ws, args.ws),
        backlog=4096,
        ws_ping_interval=args.ping_interval,
        ws_ping_timeout=20.0,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    raise SystemExit(main())
