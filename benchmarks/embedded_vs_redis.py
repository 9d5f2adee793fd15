"""Latency and throughput of the embedded default next to Redis, in the same run.

    python benchmarks/embedded_vs_redis.py [--repeat 7] [--drain 1000] [--idle 20]

For each broker (the embedded SQLite default, then Redis at ``CELERY_SAFE_REDIS_URL``
when reachable), with the same worker shape (one ``celery worker -c 2 -P prefork``):

- one task ``.delay().get()``, a 3-link chain and a 20-task chord, each waited on with the
  default ``get()``: median milliseconds of ``--repeat`` runs after 2 warm-up runs;
- ``--drain`` tasks queued first, then drained by 2 workers (``-c 2 -P prefork`` each):
  tasks per second from the first task's start to the last one's end;
- CPU used by an idle worker (main process and pool) and by a client waiting in
  ``get()`` for a task no worker runs, over ``--idle`` seconds, in % of one core.

It prints each figure for both brokers and the embedded / Redis ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import chain, chord

from celery_safe.testing import WorkerProcess
from celery_safe.testing.servers import REDIS

HERE = Path(__file__).resolve().parent
REDIS_URL = REDIS.url_from_env()
WARM_UP = 2
TIMEOUT = 120.0


def _app(broker: str, queue: str) -> Any:
    """The bench app as a client of ``broker`` (imported fresh per broker)."""
    os.environ["BENCH_BROKER"] = broker
    os.environ["BENCH_QUEUE"] = queue
    sys.modules.pop("embedded_bench_app", None)
    sys.path.insert(0, str(HERE))
    try:
        import embedded_bench_app
    finally:
        sys.path.remove(str(HERE))
    return embedded_bench_app


def _worker(broker: str, queue: str) -> WorkerProcess:
    env = {"BENCH_BROKER": broker, "BENCH_QUEUE": queue}
    return WorkerProcess("embedded_bench_app", concurrency=2, cwd=HERE, env=env,
                         queues=[queue])


def _median_ms(run: Callable[[], Any], repeat: int) -> float:
    for _ in range(WARM_UP):
        run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by ``pids`` and their children (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        for child in [pid, *_children(pid)]:
            try:
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


def _idle_client_cpu(broker: str, queue: str, seconds: float) -> float:
    """% of a core a client uses waiting ``seconds`` in ``get()`` on a task nobody runs."""
    code = (
        "import resource, sys, embedded_bench_app as b\n"
        "from celery.exceptions import TimeoutError\n"
        "r = b.add.apply_async((1, 1), queue='nobody-' + b.os.environ['BENCH_QUEUE'])\n"
        "before = resource.getrusage(resource.RUSAGE_SELF)\n"
        "try:\n"
        f"    r.get(timeout={seconds})\n"
        "except TimeoutError:\n"
        "    pass\n"
        "after = resource.getrusage(resource.RUSAGE_SELF)\n"
        "print(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)\n"
    )
    env = {**os.environ, "BENCH_BROKER": broker, "BENCH_QUEUE": queue,
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    return float(out.strip().splitlines()[-1]) / seconds * 100


def measure(broker: str, args: argparse.Namespace) -> dict[str, float]:
    queue = f"bench-{uuid.uuid4().hex}"
    bench = _app(broker, queue)
    figures: dict[str, float] = {}
    with _worker(broker, queue) as worker:
        figures["one task ms"] = _median_ms(lambda: bench.add.delay(1, 2).get(), args.repeat)
        figures["3-link chain ms"] = _median_ms(
            lambda: chain(bench.add.s(1, 1), bench.add.s(1), bench.add.s(1))().get(),
            args.repeat,
        )
        figures["20-task chord ms"] = _median_ms(
            lambda: chord([bench.add.s(i, i) for i in range(20)], bench.total.s())().get(),
            args.repeat,
        )
        time.sleep(1.0)  # let the worker settle before measuring it idle
        before = _cpu_seconds([worker.pid])
        time.sleep(args.idle)
        figures["idle worker CPU %"] = (_cpu_seconds([worker.pid]) - before) / args.idle * 100
    figures["waiting client CPU %"] = _idle_client_cpu(broker, queue, args.idle)

    drain_queue = f"drain-{uuid.uuid4().hex}"
    bench = _app(broker, drain_queue)
    results = [bench.stamp.delay() for _ in range(args.drain)]
    workers = [_worker(broker, drain_queue) for _ in range(2)]
    try:
        for worker in workers:
            worker.start()
        spans = [result.get(timeout=TIMEOUT) for result in results]
    finally:
        for worker in workers:
            worker.stop()
    elapsed = max(end for _, end in spans) - min(start for start, _ in spans)
    figures["drain tasks/s"] = args.drain / elapsed
    bench.app.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per figure (median)")
    parser.add_argument("--drain", type=int, default=1000, help="tasks queued, then drained")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle CPU sampling")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="embedded-bench-") as tmp:
        results = {"embedded": measure(f"embedded:{tmp}", args)}
        if REDIS.reachable(REDIS_URL):
            results["redis"] = measure(REDIS_URL, args)
    print(f"embedded default vs Redis: one worker -c 2 -P prefork, median of {args.repeat} "
          f"runs after {WARM_UP} warm-ups, default get(); drain: {args.drain} queued tasks, "
          f"2 workers; idle CPU over {args.idle:.0f} s")
    print(f"  {'figure':<22} {'embedded':>10} {'redis':>10} {'embedded/redis':>15}")
    for key, value in results["embedded"].items():
        redis = results.get("redis", {}).get(key)
        ratio = f"{value / redis:>15.2f}" if redis else f"{'-':>15}"
        redis_text = f"{redis:>10.2f}" if redis is not None else f"{'skipped':>10}"
        print(f"  {key:<22} {value:>10.2f} {redis_text} {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
