"""Benchmarks of fastws against ``starlette.websockets.WebSocket``: ``fastws bench``.

``main(argv)`` runs the command line (``fastws bench ...`` and ``python -m fastws.bench`` call it);
``fastws.bench.workloads`` defines the micro-suite operations that both the command and the
pytest-benchmark suite in the repository's ``bench/`` measure, so the two cannot differ.
Starlette, uvicorn, a load client (picows, aiohttp or websockets) and matplotlib are needed only by
the parts that use them.
"""

from __future__ import annotations

from fastws.bench._cli import main

__all__ = ["main"]
