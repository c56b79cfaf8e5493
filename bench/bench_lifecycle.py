"""accept() and close(): one fresh connection per operation, built (and for close accepted) untimed.

The workloads are fastws.bench.workloads.OPERATIONS (category "lifecycle"), shared with fastws bench.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fastws.bench.workloads import OPERATIONS, Operation

_OPERATIONS = [op for op in OPERATIONS if op.category == "lifecycle"]


@pytest.mark.parametrize("op", _OPERATIONS, ids=[op.key for op in _OPERATIONS])
def test_lifecycle(op: Operation, measure: Callable[[Operation], None]) -> None:
    measure(op)
