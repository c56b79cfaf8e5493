"""send_json/receive_json of a ~200 B dict (10 keys) and of a ~10 KiB document.

The workloads are fastws.bench.workloads.OPERATIONS (category "json"), shared with fastws bench.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fastws.bench.workloads import OPERATIONS, Operation

_OPERATIONS = [op for op in OPERATIONS if op.category == "json"]


@pytest.mark.parametrize("op", _OPERATIONS, ids=[op.key for op in _OPERATIONS])
def test_json(op: Operation, measure: Callable[[Operation], None]) -> None:
    measure(op)
