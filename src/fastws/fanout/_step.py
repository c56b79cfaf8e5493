"""Selects the compiled ``_step_c`` broadcast step, or its pure-Python twin ``_step_py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastws._compat import NO_EXTENSIONS

__all__ = ["OutboxCore", "Pass", "start_each"]

if TYPE_CHECKING or NO_EXTENSIONS:
    from fastws.fanout._step_py import OutboxCore, Pass, start_each
else:
    try:
        from fastws.fanout._step_c import OutboxCore, Pass, start_each
    except ImportError:  # no compiled extension was built: the twin serves
        from fastws.fanout._step_py import OutboxCore, Pass, start_each
