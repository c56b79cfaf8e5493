"""send/receive of text and bytes (64 B, 64 KiB), iter_text per message, and one echo step.

The workloads are fastws.bench.workloads.OPERATIONS (category "messages"), shared with fastws bench.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fastws.bench.workloads import OPERATIONS, Operation

_OPERATIONS = [op for op in OPERATIONS if op.category == "messages"]


@pytest.mark.parametrize("op", _OPERATIONS, ids=[op.key for op in _OPERATIONS])
def test_messages(op: Operation, measure: Callable[[Operation], None]) -> None:
    measure(op)
