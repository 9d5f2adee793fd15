"""Per-call overhead of ``celery_safe.task`` against a plain ``app.task``, via ``.apply()``.

    python benchmarks/task_overhead.py [--calls 500] [--rounds 41]

Every variant runs the same trivial body through Celery's tracer (``task.apply()``).
Variants are interleaved round by round in a shuffled order (so drift and other load on
the machine hit all alike); each is reported as its median per-call time, and each
ratio as the median over rounds of the ratio within a round (paired samples) to its
baseline from the same run: ``celery_safe.task`` to ``app.task``; ``celery_safe.task``
with a resource to ``app.task`` opening the same context manager in its body; a task of
a guarded app to one of an unguarded app. A join outside tasks (``EagerResult.get()``)
through the guard's wrapper is compared with Celery's own method, in microseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from celery import Celery

import celery_safe


@contextlib.contextmanager
def session() -> Iterator[dict[str, int]]:
    yield {"rows": 0}


def build(app: Celery) -> dict[str, Any]:
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

    return {
        "app.task": plain,
        "celery_safe.task": safe,
        "app.task + with session()": plain_with_session,
        "celery_safe.task + resource": safe_with_session,
    }


def per_call(call: Callable[[int], Any], calls: int) -> float:
    start = time.perf_counter()
    for i in range(calls):
        call(i)
    return (time.perf_counter() - start) / calls


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=41)
    args = parser.parse_args(argv)

    config = {"broker_url": "memory://", "result_backend": "cache+memory://"}
    app = Celery("bench", set_as_current=False)
    app.conf.update(config)
    guarded_app = celery_safe.guard(Celery("bench-guarded", set_as_current=False))
    guarded_app.conf.update(config)
    guarded_plain = build(guarded_app)["app.task"]
    tasks = build(app)
    joined = tasks["app.task"].apply((1,))
    celery_join = type(joined).get.__wrapped__  # Celery's method, under the guard's wrapper

    variants: dict[str, Callable[[int], Any]] = {
        name: (lambda i, task=task: task.apply((i,))) for name, task in tasks.items()
    }
    variants["app.task of a guarded app"] = lambda i: guarded_plain.apply((i,))
    variants["EagerResult.get()"] = lambda i: celery_join(joined)
    variants["EagerResult.get(), guarded"] = lambda i: joined.get()

    for call in variants.values():  # warm up imports, caches, tracers
        per_call(call, 200)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    for _ in range(args.rounds):
        random.shuffle(order)
        for name in order:
            samples[name].append(per_call(variants[name], args.calls))

    median = {name: statistics.median(times) for name, times in samples.items()}
    print(f"{args.rounds} rounds x {args.calls} calls of task.apply(), median per call:")
    for name, value in median.items():
        print(f"  {name:30} {value * 1e6:8.2f} us")
    print("ratios (target <= 1.05x):")
    for variant, baseline in (
        ("celery_safe.task", "app.task"),
        ("celery_safe.task + resource", "app.task + with session()"),
        ("app.task of a guarded app", "app.task"),
    ):
        ratios = [v / b for v, b in zip(samples[variant], samples[baseline], strict=True)]
        print(f"  {variant:30} / {baseline:28} = {statistics.median(ratios):.3f}x")
    # A join outside tasks pays one lookup of Celery's task stack: report it absolutely
    # (any real join waits on a backend, which costs far more).
    extra = median["EagerResult.get(), guarded"] - median["EagerResult.get()"]
    print(f"  a join outside tasks pays {extra * 1e6:+.2f} us for the guard's check")


if __name__ == "__main__":
    main()
