"""What ``trace`` and ``explain`` cost a reader (a run page, ``celery-safe why``).

    python benchmarks/explain_cost.py [--parts 12] [--rounds 20] [--redis redis://...]

One chord of ``--parts`` header tasks and a body, its results stored in the embedded
result backend as a finished run would leave them (no worker needed). Baseline, in the
same run: reading each step's stored meta once (``backend.get_task_meta``), which is
what a page showing states needs at least. Printed: the trace (which also reads each
step's guard record) and ``explain`` as ratios of that baseline, for a finished run and
for a queued one (no worker: on the embedded broker, each doorbell is tried). With
``--redis``, the same queued run on Redis, where ``explain`` asks workers through
``inspect`` and waits out its ``timeout`` when none answers: that figure is seconds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from celery import Celery, chord

from celery_safe.embedded import embedded_config
from celery_safe.workflows import explain, trace


def _app(conf: dict[str, Any]) -> tuple[Celery, Any, Any]:
    app = Celery("bench", set_as_current=False)
    app.conf.update(conf)

    @app.task(name="bench.part", shared=False)
    def part(x: int) -> int:
        return x

    @app.task(name="bench.body", shared=False)
    def body(xs: list[int]) -> int:
        return sum(xs)

    return app, part, body


def _run(app: Celery, part: Any, body: Any, parts: int, *, finished: bool) -> Any:
    canvas = chord([part.s(i) for i in range(parts)], body.s())
    result = canvas.freeze()
    if finished:
        for member in result.parent.results:
            app.backend.store_result(member.id, 1, "SUCCESS")
        app.backend.store_result(result.id, parts, "SUCCESS")
    return result


def _median(call: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parts", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--redis", help="also time a queued run on this Redis (no worker)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        app, part, body = _app(embedded_config(directory))
        for finished in (True, False):
            result = _run(app, part, body, args.parts, finished=finished)
            ids = [member.id for member in result.parent.results] + [result.id]
            base = _median(lambda: [app.backend.get_task_meta(i) for i in ids], args.rounds)
            traced = _median(lambda: trace(result, app=app), args.rounds)
            said = _median(lambda: explain(result, app=app), args.rounds)
            kind = "finished" if finished else "queued, no worker"
            print(f"embedded, {args.parts + 1} steps, {kind}: baseline {base * 1000:.2f} ms; "
                  f"trace {traced / base:.2f}x, explain {said / base:.2f}x the baseline "
                  f"({said * 1000:.2f} ms) -> {explain(result, app=app).state}")
    if args.redis:
        app, part, body = _app({"broker_url": args.redis, "result_backend": args.redis})
        result = _run(app, part, body, args.parts, finished=False)
        for timeout in (0.5, 1.0):
            said = _median(lambda t=timeout: explain(result, app=app, timeout=t), 3)
            print(f"redis, queued, no worker, inspect timeout {timeout:g} s: explain "
                  f"{said:.2f} s")


if __name__ == "__main__":
    main()
