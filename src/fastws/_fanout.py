"""Selects the compiled ``_fanout_c`` broadcast step, or its pure-Python twin ``_fanout_py``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastws._compat import NO_EXTENSIONS

__all__ = ["OutboxCore", "Pass", "start_each"]

if TYPE_CHECKING or NO_EXTENSIONS:
    from fastws._fanout_py import OutboxCore, Pass, start_each
else:
    try:
        from fastws._fanout_c import OutboxCore, Pass, start_each
    except ImportError:  # no compiled extension was built: the twin serves
        from fastws._fanout_py import OutboxCore, Pass, start_each
