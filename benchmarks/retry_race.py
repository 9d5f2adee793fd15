"""How often a retry sent with ``countdown=0`` loses its task's result on Redis.

    python benchmarks/retry_race.py [--runs 20]

Celery sends a retry before the failed attempt stores ``RETRY``, and its key-value
backends read a task's state before they write it. On a worker with 2 pool processes
the retry can run on the other process and store ``SUCCESS`` between that read and
that write: the late ``RETRY`` replaces the ``SUCCESS``, and the task reads ``RETRY``
for ever. One task at a time (the other process is free), ``--runs`` times, on Redis at
``CELERY_SAFE_REDIS_URL`` (database 12, emptied). Printed: how many runs end ``RETRY``,
and for how many of those ``explain`` says ``late-retry``; baseline, in the same run:
the same task retrying with ``countdown=1``. This module is also the worker's app
(``celery -A retry_race``).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from pathlib import Path
from typing import Any

from celery import Celery

import celery_safe
from celery_safe.replacements import ENDED_PREFIX, record_of
from celery_safe.testing import WorkerProcess
from celery_safe.testing.servers import REDIS

HERE = Path(__file__).resolve().parent
URL = f"{REDIS.url_from_env()}/12"
QUEUE = os.environ.get("RACE_QUEUE", "retry-race")  # the worker's, from main()

app = Celery("retry_race", set_as_current=False)
app.conf.update(broker_url=URL, result_backend=URL, task_default_queue=QUEUE,
                worker_prefetch_multiplier=1, broker_connection_retry_on_startup=True)
celery_safe.guard(app)  # records how each retried attempt ended: what explain reads


@app.task(bind=True, max_retries=1, name="race.retry_once")
def retry_once(self: Any, countdown: float) -> int:
    if not self.request.retries:
        raise self.retry(exc=ConnectionError("first attempt"), countdown=countdown)
    return int(self.request.retries)


def measure(runs: int, countdown: float, queue: str) -> tuple[int, int]:
    """(runs ending RETRY, of those the ones explain says late-retry)."""
    from celery_safe.workflows import explain

    lost = said = 0
    for _ in range(runs):
        sent = retry_once.apply_async((countdown,), queue=queue)
        deadline = time.monotonic() + 120
        while not record_of(app.backend, ENDED_PREFIX + sent.id):
            if time.monotonic() > deadline:
                raise SystemExit(f"retry_race: {sent.id} never succeeded")
            time.sleep(0.02)
        if app.backend.get_task_meta(sent.id, cache=False)["status"] == "RETRY":
            lost += 1
            reasons = explain(sent, app=app, timeout=0.5).reasons
            said += any(reason.kind == "late-retry" for reason in reasons)
    return lost, said


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if not REDIS.reachable(URL):
        print("retry_race: skipped, no Redis at", URL)
        return 0
    import redis

    redis.Redis.from_url(URL).flushdb()
    queue = f"retry-race-{uuid.uuid4().hex[:8]}"
    with WorkerProcess("retry_race", concurrency=2, cwd=HERE, queues=[queue],
                       env={"RACE_QUEUE": queue}):
        baseline = measure(args.runs, 1.0, queue)
        racing = measure(args.runs, 0.0, queue)
    for label, (lost, said) in (("countdown=1 (baseline)", baseline),
                                ("countdown=0", racing)):
        print(f"{label:24} {lost} of {args.runs} runs end RETRY (result lost); "
              f"explain says late-retry for {said} of them")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
