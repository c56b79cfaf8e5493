"""pytest-benchmark suite: ``python -m pytest bench --benchmark-only`` (outside the default test run).

Every operation of ``fastws.bench.workloads`` (the same workloads ``fastws bench`` measures) runs
in four variants, one benchmark group per operation: ``fastws-c``, ``fastws-py``, ``starlette``
and ``floor`` (raw ASGI). One round is a batch of ``BATCH`` = 1000 operations driven without an
event loop (the in-memory receive/send never suspend), with set-up outside the timing and the
garbage collector off, so the times pytest-benchmark shows in microseconds read as nanoseconds per
operation. Compare within a group: the variants ran back to back in the same session.

Files are named ``bench_*.py``; this conftest collects them, so the repository's ``python_files``
setting need not know about them.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fastws.bench.workloads import VARIANTS, Operation, VariantUnavailable, drive, load_variant

#: Operations per timed round: a round's time in µs is the time per operation in ns.
BATCH = 1000
ROUNDS = 20


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.fixture(params=VARIANTS, scope="session")
def variant(request: pytest.FixtureRequest) -> tuple[str, Any]:
    """(variant name, its WebSocket class or None for the floor); skips a variant that cannot load."""
    try:
        return request.param, load_variant(request.param)
    except VariantUnavailable as exc:
        pytest.skip(str(exc))


def _run_batch(batch: Any) -> None:
    enabled = gc.isenabled()
    gc.disable()
    try:
        drive(batch)
    finally:
        if enabled:
            gc.enable()


@pytest.fixture
def measure(benchmark: Any, variant: tuple[str, Any]) -> Callable[[Operation], None]:
    """Call with an operation: benchmarks it in this test's variant, in the operation's group."""
    name, cls = variant

    def run(op: Operation) -> None:
        benchmark.group = op.title
        benchmark.extra_info.update(operation=op.key, variant=name, operations_per_round=BATCH)
        chunk = min(BATCH, op.chunk or BATCH)
        rounds = ROUNDS * (BATCH // chunk)

        def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
            return (op.prepare(name, chunk, cls),), {}

        benchmark.pedantic(_run_batch, setup=setup, rounds=rounds, warmup_rounds=2)

    return run
