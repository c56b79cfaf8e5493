"""Handshake info: construct from a browser's scope, read headers/query_params/cookies, look up two of each.

The workloads are fastws.bench.workloads.OPERATIONS (category "handshake"), shared with fastws bench.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fastws.bench.workloads import OPERATIONS, Operation

_OPERATIONS = [op for op in OPERATIONS if op.category == "handshake"]


@pytest.mark.parametrize("op", _OPERATIONS, ids=[op.key for op in _OPERATIONS])
def test_handshake(op: Operation, measure: Callable[[Operation], None]) -> None:
    measure(op)
