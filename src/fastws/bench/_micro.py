"""The micro suite's timing harness: every variant of an operation interleaved round-robin.

Per operation: each variant is warmed up and calibrated to a batch of ``n`` operations lasting
about ``batch_ms``; then, over ``rounds`` rounds, every variant runs one batch per round, in an
order that rotates each round (so none always runs first, right after another's garbage). The
result per variant is the median over rounds of ns per operation; a ratio is the median over
rounds of the ratio within each round (the batches of a round run milliseconds apart, so load that
comes and goes on a shared machine cancels out). Everything runs inside one event loop
(``asyncio.run`` once), so starting a loop is never measured; the garbage collector is off while
a batch is timed, as in ``timeit``.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from fastws.bench.workloads import OPERATIONS, VARIANTS, Operation, VariantUnavailable, load_variant

__all__ = ["run_micro"]

Progress = Callable[[str], None]


async def _timed(op: Operation, variant: str, cls: Any, n: int) -> int:
    # Nanoseconds for n operations, in chunks of at most op.chunk; set-up is not timed.
    total = 0
    left = n
    chunk = op.chunk or n
    perf_counter_ns = time.perf_counter_ns
    while left > 0:
        k = min(left, chunk)
        batch = op.prepare(variant, k, cls)
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            start = perf_counter_ns()
            await batch
            total += perf_counter_ns() - start
        finally:
            if gc_was_enabled:
                gc.enable()
        left -= k
    return total


async def _calibrate(op: Operation, variant: str, cls: Any, batch_ns: float) -> int:
    # The batch size lasting about batch_ns; the first runs double as warm-up. The fastest of
    # three runs sets the size: load from elsewhere only ever slows a run down.
    n = 16
    while True:
        elapsed = await _timed(op, variant, cls, n)
        if elapsed >= batch_ns / 4 or n >= 1 << 24:
            break
        n *= 4 if elapsed < batch_ns / 40 else 2
    for _ in range(2):
        elapsed = min(elapsed, await _timed(op, variant, cls, n))
    return max(1, round(n * batch_ns / max(elapsed, 1)))


def _summary(samples: list[float], n: int) -> dict[str, Any]:
    quartiles = statistics.quantiles(samples, n=4) if len(samples) >= 2 else [samples[0]] * 3
    return {
        "ns_per_op": statistics.median(samples),
        "min": min(samples),
        "p25": quartiles[0],
        "p75": quartiles[2],
        "n": n,
        "samples": [round(s, 2) for s in samples],
    }


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


# ratio name -> (numerator variant, denominator variant), both times.
_RATIOS = {
    "c_speedup_vs_starlette": ("starlette", "fastws-c"),
    "py_speedup_vs_starlette": ("starlette", "fastws-py"),
    "c_over_floor": ("fastws-c", "floor"),
    "py_over_floor": ("fastws-py", "floor"),
    "starlette_over_floor": ("starlette", "floor"),
}


def _paired_ratio(samples: dict[str, list[float]], numerator: str, denominator: str) -> float | None:
    # The median over rounds of the ratio within each round: the two batches ran milliseconds
    # apart, so load that comes and goes on a shared machine cancels out of each ratio.
    if numerator not in samples or denominator not in samples:
        return None
    ratios = [a / b for a, b in zip(samples[numerator], samples[denominator], strict=True) if b > 0]
    return statistics.median(ratios) if ratios else None


def _ratios(samples: dict[str, list[float]]) -> dict[str, float | None]:
    return {name: _paired_ratio(samples, a, b) for name, (a, b) in _RATIOS.items()}


async def _run_operation(op: Operation, classes: dict[str, Any], rounds: int, batch_ns: float) -> dict[str, Any]:
    available = [v for v in VARIANTS if not isinstance(classes[v], VariantUnavailable)]
    sizes = {v: await _calibrate(op, v, classes[v], batch_ns) for v in available}
    samples: dict[str, list[float]] = {v: [] for v in available}
    for r in range(rounds):
        shift = r % len(available)
        for variant in available[shift:] + available[:shift]:
            n = sizes[variant]
            samples[variant].append(await _timed(op, variant, classes[variant], n) / n)
    variants: dict[str, Any] = {}
    for v in VARIANTS:
        if v in samples:
            variants[v] = _summary(samples[v], sizes[v])
        else:
            variants[v] = {"error": str(classes[v])}
    medians = {v: variants[v].get("ns_per_op") for v in VARIANTS}
    ratios = _ratios(samples)
    target_met = None
    if op.target is not None:
        key = "c_speedup_vs_starlette" if op.target.kind == "speedup" else "c_over_floor"
        if ratios[key] is not None:
            target_met = op.target.met(ratios[key])  # type: ignore[arg-type]
    py_speedup = ratios["py_speedup_vs_starlette"]
    return {
        "key": op.key,
        "title": op.title,
        "category": op.category,
        "target": None
        if op.target is None
        else {"kind": op.target.kind, "value": op.target.value, "description": op.target.describe()},
        "target_met": target_met,
        "py_not_slower": None if py_speedup is None else py_speedup >= 1.0,
        "variants": variants,
        "ratios": ratios,
        "ratios_of_medians": {name: _ratio(medians[a], medians[b]) for name, (a, b) in _RATIOS.items()},
    }


def run_micro(
    operations: Sequence[Operation] = OPERATIONS,
    rounds: int = 120,
    batch_ms: float = 3.0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Measure ``operations`` in every variant and return the figures (JSON-ready).

    Args:
        operations: what to measure (default: all, in table order).
        rounds: batches per variant and operation; the median is over these.
        batch_ms: the target duration of one batch in milliseconds.
        progress: called with one line per operation as it starts.

    Returns:
        dict: ``{"config": {...}, "operations": [{"key", "title", "variants": {variant:
        {"ns_per_op", "min", "p25", "p75", "n", "samples"} | {"error"}}, "ratios", ...}]}``.
    """
    classes: dict[str, Any] = {}
    for variant in VARIANTS:
        try:
            classes[variant] = load_variant(variant)
        except VariantUnavailable as exc:
            classes[variant] = exc

    async def main() -> list[dict[str, Any]]:
        results = []
        for i, op in enumerate(operations, 1):
            if progress is not None:
                progress(f"[{i}/{len(operations)}] {op.title}")
            results.append(await _run_operation(op, classes, rounds, batch_ms * 1e6))
        return results

    started = time.perf_counter()
    results = asyncio.run(main())
    return {
        "config": {
            "rounds": rounds,
            "batch_ms": batch_ms,
            "statistic": "median over rounds of ns per operation; ratios: median over rounds of per-round ratios",
            "interleaving": "round-robin, order rotated every round",
            "gc": "disabled while a batch is timed",
            "seconds": round(time.perf_counter() - started, 1),
        },
        "operations": results,
    }
