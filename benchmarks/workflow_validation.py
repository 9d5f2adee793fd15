"""Validated construction vs raw Celery construction of the same canvas, measured in one run.

    python benchmarks/workflow_validation.py [--rounds 15] [--chord 10000] [--chain 1000]

Builds a 10,000-signature chord and a 1,000-link chain with ``celery.chord`` /
``celery.chain`` and with ``celery_safe.workflows.chord`` / ``chain`` (Celery's
construction plus full validation: registration, arity, serialisation, backend,
ignore_result), alternating raw and validated builds round by round (the side that
goes first alternates too), and prints the median times and the median of the per-round
ratios (paired samples). The garbage collector runs between builds, not during one.
Target: <= 2.0x.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import celery
from celery import Celery

from celery_safe import workflows

TARGET = 2.0

app = Celery("bench", broker="memory://", backend="cache+memory://", set_as_current=False)


@app.task(shared=False)
def add(x: int, y: int) -> int:
    return x + y


@app.task(shared=False)
def tsum(numbers: list[int]) -> int:
    return sum(numbers)


def raw_chord(size: int) -> Any:
    return celery.chord([add.s(i, i) for i in range(size)], tsum.s())


def safe_chord(size: int) -> Any:
    return workflows.chord([add.s(i, i) for i in range(size)], tsum.s())


def raw_chain(length: int) -> Any:
    return celery.chain(add.s(1, 1), *(add.s(i) for i in range(length - 1)))


def safe_chain(length: int) -> Any:
    return workflows.chain(add.s(1, 1), *(add.s(i) for i in range(length - 1)))


def seconds(build: Callable[[int], Any], size: int) -> float:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        build(size)
        return time.perf_counter() - start
    finally:
        gc.enable()


def interleaved(
    raw: Callable[[int], Any], safe: Callable[[int], Any], size: int, rounds: int
) -> tuple[float, float, float]:
    """Median seconds of ``raw`` and ``safe`` and the median per-round ratio, one build of
    each per round, so both see the same machine load; which goes first alternates."""
    times: dict[str, list[float]] = {"raw": [], "safe": []}
    for round_number in range(rounds):
        pair = [("raw", raw), ("safe", safe)]
        for side, build in pair if round_number % 2 == 0 else reversed(pair):
            times[side].append(seconds(build, size))
    ratios = [s / r for s, r in zip(times["safe"], times["raw"], strict=True)]
    return (statistics.median(times["raw"]), statistics.median(times["safe"]),
            statistics.median(ratios))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--chord", type=int, default=10_000, help="chord header size")
    parser.add_argument("--chain", type=int, default=1_000, help="chain length")
    args = parser.parse_args(argv)
    # Warm both paths once (imports, app finalisation, the signature cache).
    for build, size in ((raw_chord, args.chord), (safe_chord, args.chord),
                        (raw_chain, args.chain), (safe_chain, args.chain)):
        build(size)
    assert workflows.validate(raw_chord(args.chord)) == []
    failed = False
    for label, raw, safe, size in (
        (f"chord of {args.chord:,} signatures", raw_chord, safe_chord, args.chord),
        (f"chain of {args.chain:,} links", raw_chain, safe_chain, args.chain),
    ):
        raw_time, safe_time, ratio = interleaved(raw, safe, size, args.rounds)
        canvas = raw(size)
        start = time.perf_counter()
        workflows.validate(canvas)
        validate_only = time.perf_counter() - start
        failed |= ratio > TARGET
        print(
            f"{label:<28} raw {raw_time * 1e3:8.1f} ms   validated {safe_time * 1e3:8.1f} ms"
            f"   (validate alone {validate_only * 1e3:6.1f} ms)   ratio {ratio:4.2f}x"
            f"   target <= {TARGET}x {'ok' if ratio <= TARGET else 'MISSED'}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
