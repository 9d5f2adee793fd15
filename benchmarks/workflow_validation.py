"""Validated construction vs raw Celery construction of the same canvas, measured in one run.

    python benchmarks/workflow_validation.py

Builds a 10,000-signature chord and a 1,000-link chain twice — with ``celery.chord`` /
``celery.chain``, then with ``celery_safe.workflows.chord`` / ``chain`` (Celery's
construction plus full validation: registration, arity, serialisation, backend,
ignore_result) — and prints the ratio of the medians. Target: <= 2.0x.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import celery
from celery import Celery

from celery_safe import workflows

ROUNDS = 7
CHORD_SIZE = 10_000
CHAIN_LENGTH = 1_000
TARGET = 2.0

app = Celery("bench", broker="memory://", backend="cache+memory://", set_as_current=False)


@app.task(shared=False)
def add(x: int, y: int) -> int:
    return x + y


@app.task(shared=False)
def tsum(numbers: list[int]) -> int:
    return sum(numbers)


def raw_chord() -> Any:
    return celery.chord([add.s(i, i) for i in range(CHORD_SIZE)], tsum.s())


def safe_chord() -> Any:
    return workflows.chord([add.s(i, i) for i in range(CHORD_SIZE)], tsum.s())


def raw_chain() -> Any:
    return celery.chain(add.s(1, 1), *(add.s(i) for i in range(CHAIN_LENGTH - 1)))


def safe_chain() -> Any:
    return workflows.chain(add.s(1, 1), *(add.s(i) for i in range(CHAIN_LENGTH - 1)))


def median_seconds(build: Callable[[], Any]) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        build()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    # Warm both paths once (imports, app finalisation, the signature cache).
    for build in (raw_chord, safe_chord, raw_chain, safe_chain):
        build()
    assert workflows.validate(raw_chord()) == []
    failed = False
    for label, raw, safe in (
        (f"chord of {CHORD_SIZE:,} signatures", raw_chord, safe_chord),
        (f"chain of {CHAIN_LENGTH:,} links", raw_chain, safe_chain),
    ):
        # Interleave so both see the same machine load.
        raw_time = median_seconds(raw)
        safe_time = median_seconds(safe)
        canvas = raw()
        start = time.perf_counter()
        workflows.validate(canvas)
        validate_only = time.perf_counter() - start
        ratio = safe_time / raw_time
        failed |= ratio > TARGET
        print(
            f"{label:<28} raw {raw_time * 1e3:8.1f} ms   validated {safe_time * 1e3:8.1f} ms"
            f"   (validate alone {validate_only * 1e3:6.1f} ms)   ratio {ratio:4.2f}x"
            f"   target <= {TARGET}x {'ok' if ratio <= TARGET else 'MISSED'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
