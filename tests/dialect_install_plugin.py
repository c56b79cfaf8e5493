"""A pytest plugin that applies a dialect's ``install()`` before any test module is imported.

Used to run a framework's own test suite through fastws (``.ci/fastapi-suite``): put ``tests/`` on
``PYTHONPATH`` and pass ``-p dialect_install_plugin``; ``FASTWS_DIALECT`` names the dialect
(default ``starlette``, which covers FastAPI). The plugin then checks, at the end of collection,
that the framework builds fastws's class, so a suite that silently ran on the framework's own
class fails instead of passing.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import fastws

_NAME = os.environ.get("FASTWS_DIALECT", "starlette")
_dialect = importlib.import_module(f"fastws.dialects.{_NAME}")
_rebound = _dialect.install()


def pytest_report_header(config: Any) -> str:
    return f"fastws {fastws.IMPLEMENTATION}, dialect {_NAME}: install() rebound {len(_rebound)} globals"


def pytest_collection_finish(session: Any) -> None:
    if _NAME == "starlette":
        import starlette.websockets

        if starlette.websockets.WebSocket is not _dialect.WebSocket:
            raise RuntimeError("fastws.dialects.starlette.install() did not take effect")
        fastapi = importlib.import_module("fastapi")
        if fastapi.WebSocket is not _dialect.WebSocket:
            raise RuntimeError("FastAPI still builds its own WebSocket class after install()")
