"""Per-call overhead of ``celery_safe.task`` and of the join guard, each against a baseline
measured in the same run.

    python benchmarks/task_overhead.py [--calls 500] [--rounds 41]

``guard(app)`` patches Celery's result classes for the whole process, so a guarded and
an unguarded side cannot share one: each side is a process of its own (this script,
``--side plain`` or ``--side guarded``), and the parent asks them for a round at a time,
alternating in a shuffled order, so drift and other load on the machine hit all alike.

- ``plain`` (Celery never patched): ``app.task`` and ``celery_safe.task``, each with and
  without a resource (``app.task`` opening the same context manager in its body), through
  Celery's tracer (``task.apply()``); a join outside tasks (``EagerResult.get()``).
- ``guarded`` (``guard(app)`` called): the same ``app.task``, the same join outside
  tasks, and the in-task path: a join inside a running task walks Celery's task stack,
  checks the caller's frame and raises ``JoinInTaskError`` (timed per refused join,
  inside one task run, against the same loop calling a plain function).

Each variant is reported as its median per-call time; each ratio as the median over
rounds of the ratio within a round (paired samples); the guard's join costs as the
median per-round difference, in microseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from celery import Celery

import celery_safe

CONFIG = {"broker_url": "memory://", "result_backend": "cache+memory://"}


@contextlib.contextmanager
def session() -> Iterator[dict[str, int]]:
    yield {"rows": 0}


def per_call(call: Callable[[int], Any], calls: int) -> float:
    start = time.perf_counter()
    for i in range(calls):
        call(i)
    return (time.perf_counter() - start) / calls


def plain_side() -> dict[str, Callable[[int], Any]]:
    app = Celery("bench", set_as_current=False)
    app.conf.update(CONFIG)

    @app.task(shared=False)
    def plain(x: int) -> int:
        return x + 1

    @celery_safe.task(app, shared=False)
    def safe(x: int) -> int:
        return x + 1

    @app.task(shared=False)
    def plain_with_session(x: int) -> int:
        with session() as db:
            return x + 1 + db["rows"]

    @celery_safe.task(app, shared=False, resources={"db": session})
    def safe_with_session(x: int, *, db: dict[str, int]) -> int:
        return x + 1 + db["rows"]

    joined = plain.apply((1,))
    return {
        "app.task": lambda i: plain.apply((i,)),
        "celery_safe.task": lambda i: safe.apply((i,)),
        "app.task + with session()": lambda i: plain_with_session.apply((i,)),
        "celery_safe.task + resource": lambda i: safe_with_session.apply((i,)),
        "join outside tasks": lambda i: joined.get(),
    }


def guarded_side(calls: int) -> dict[str, Callable[[int], Any]]:
    app = celery_safe.guard(Celery("bench", set_as_current=False))
    app.conf.update(CONFIG)

    @app.task(shared=False)
    def plain(x: int) -> int:
        return x + 1

    joined = plain.apply((1,))

    def refuse(_: Any) -> None:
        try:  # noqa: SIM105 -- the bare try costs less than suppress(): timed
            joined.get()
        except celery_safe.JoinInTaskError:
            pass

    def ignore(_: Any) -> None:
        try:  # noqa: SIM105 -- the bare try costs less than suppress(): timed
            len(())
        except celery_safe.JoinInTaskError:
            pass

    @app.task(shared=False)
    def joins(which: str) -> float:
        """Time ``calls`` refused joins (or the bare loop) inside this one task run."""
        return per_call(refuse if which == "refused" else ignore, calls)

    return {
        "app.task": lambda i: plain.apply((i,)),
        "join outside tasks": lambda i: joined.get(),
        # One task run per sample; the value is the time per join measured inside it.
        "join inside a task, refused": lambda i: joins.apply(("refused",)).get(),
        "same loop, no join": lambda i: joins.apply(("loop",)).get(),
    }


def serve(side: str, calls: int) -> None:
    """Child: one line per round requested on stdin, JSON seconds-per-call on stdout."""
    variants = plain_side() if side == "plain" else guarded_side(calls)
    timed_inside = {"join inside a task, refused", "same loop, no join"}

    def measure(name: str, n: int) -> float:
        if name in timed_inside:
            return float(variants[name](0))
        return per_call(variants[name], n)

    for name in variants:  # warm up imports, caches, tracers
        measure(name, 200)
    order = list(variants)
    for _ in sys.stdin:
        random.shuffle(order)
        print(json.dumps({name: measure(name, calls) for name in order}), flush=True)


class Side:
    def __init__(self, side: str, calls: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--side", side, "--calls", str(calls)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

    def round(self) -> dict[str, float]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("round\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark side exited with {self.process.wait()}")
        result: dict[str, float] = json.loads(line)
        return result

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--side", choices=["plain", "guarded"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        serve(args.side, args.calls)
        return

    sides = {"plain": Side("plain", args.calls), "guarded": Side("guarded", args.calls)}
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for _ in range(args.rounds):
            order = list(sides)
            random.shuffle(order)
            for side in order:
                for name, seconds in sides[side].round().items():
                    samples.setdefault((side, name), []).append(seconds)
    finally:
        for side_process in sides.values():
            side_process.close()

    print(f"{args.rounds} rounds x {args.calls} calls, one process per side, "
          "median per call:")
    for (side, name), times in sorted(samples.items()):
        print(f"  [{side:7}] {name:30} {statistics.median(times) * 1e6:8.2f} us")

    def paired(a: tuple[str, str], b: tuple[str, str]) -> list[tuple[float, float]]:
        return list(zip(samples[a], samples[b], strict=True))

    print("ratios (target <= 1.05x):")
    for variant, baseline in (
        (("plain", "celery_safe.task"), ("plain", "app.task")),
        (("plain", "celery_safe.task + resource"), ("plain", "app.task + with session()")),
        (("guarded", "app.task"), ("plain", "app.task")),
    ):
        ratio = statistics.median(v / b for v, b in paired(variant, baseline))
        print(f"  {variant[1]:28} [{variant[0]:7}] / {baseline[1]:26} [{baseline[0]}]"
              f" = {ratio:.3f}x")
    # Joins cost microseconds either way; any real join waits on a backend for far more.
    outside = statistics.median(
        g - p for g, p in paired(("guarded", "join outside tasks"), ("plain", "join outside tasks"))
    )
    inside = statistics.median(
        r - n for r, n in paired(
            ("guarded", "join inside a task, refused"), ("guarded", "same loop, no join")
        )
    )
    print(f"  a join outside tasks pays {outside * 1e6:+.2f} us for the guard's check")
    print(f"  a join inside a task is refused in {inside * 1e6:.2f} us "
          "(task stack walk, caller frame check, JoinInTaskError)")


if __name__ == "__main__":
    main()
