"""How often a retry sent with ``countdown=0`` loses its task's end, on Redis and on the
embedded default.

    python benchmarks/retry_race.py [--runs 20] [--backends redis embedded]

Celery sends a retry before the failed attempt stores ``RETRY``. On a worker with 2
pool processes the retry can run on the other process and end first: on Redis (Celery
reads a task's state, then writes it) the late ``RETRY`` then replaces that ``SUCCESS``
or ``FAILURE``, and the task reads ``RETRY`` for ever; the embedded backend keeps a
task that ended. Two tasks, one that succeeds on its retry and one that fails on it,
one at a time (the other pool process is free), ``--runs`` times each, on Redis at
``CELERY_SAFE_REDIS_URL`` (database 12, emptied) and on the embedded default in a new
private directory. A run is counted once both attempts' stores are over (the guard's
records of the retry and of the end). Printed per backend and task: how many runs end
``RETRY``, and for how many of those ``explain`` says ``late-retry``; baseline, in the
same run: the same task retrying with ``countdown=1``. This module is also the worker's
app (``celery -A retry_race``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from celery import Celery

import celery_safe
import celery_safe.embedded
from celery_safe.replacements import ENDED_PREFIX, record_of
from celery_safe.testing import WorkerProcess
from celery_safe.testing.servers import REDIS

HERE = Path(__file__).resolve().parent
URL = f"{REDIS.url_from_env()}/12"
QUEUE = os.environ.get("RACE_QUEUE", "retry-race")  # the worker's, from main()
#: Where the embedded default keeps its files (the worker's, from main()); unset: Redis.
EMBEDDED = os.environ.get("RACE_EMBEDDED")

app = Celery("retry_race", set_as_current=False)
app.conf.update(task_default_queue=QUEUE, worker_prefetch_multiplier=1,
                broker_connection_retry_on_startup=True)
if EMBEDDED:
    celery_safe.embedded.configure(app, EMBEDDED)
else:
    app.conf.update(broker_url=URL, result_backend=URL)
celery_safe.guard(app)  # records how each retried attempt ended: what explain reads


@app.task(bind=True, max_retries=1, name="race.retry_once")
def retry_once(self: Any, countdown: float) -> int:
    if not self.request.retries:
        raise self.retry(exc=ConnectionError("first attempt"), countdown=countdown)
    return int(self.request.retries)


@app.task(bind=True, max_retries=1, name="race.retry_then_fail")
def retry_then_fail(self: Any, countdown: float) -> int:
    if not self.request.retries:
        raise self.retry(exc=ConnectionError("first attempt"), countdown=countdown)
    raise ValueError(f"attempt {self.request.retries} failed")


TASKS = {"succeeds on its retry": "race.retry_once", "fails on its retry": "race.retry_then_fail"}


def measure(client: Celery, task: str, runs: int, countdown: float,
            queue: str) -> tuple[int, int]:
    """(runs ending RETRY, of those the ones explain says late-retry)."""
    from celery_safe.workflows import explain

    lost = said = 0
    for _ in range(runs):
        sent = client.send_task(task, (countdown,), queue=queue)
        deadline = time.monotonic() + 120
        # both stores are over: the RETRY (its record follows it) and the retry's end
        while not (record_of(client.backend, sent.id).get("retries")
                   and record_of(client.backend, ENDED_PREFIX + sent.id)):
            if time.monotonic() > deadline:
                raise SystemExit(f"retry_race: {sent.id} never ended")
            time.sleep(0.02)
        if client.backend.get_task_meta(sent.id, cache=False)["status"] == "RETRY":
            lost += 1
            reasons = explain(sent, app=client, timeout=0.5).reasons
            said += any(reason.kind == "late-retry" for reason in reasons)
    return lost, said


def race(backend: str, runs: int, directory: str) -> list[str]:
    """The lines printed for ``backend``: a worker of its own on a queue of its own;
    the embedded default's files in ``directory``."""
    queue = f"retry-race-{uuid.uuid4().hex[:8]}"
    env = {"RACE_QUEUE": queue}
    client = Celery("retry_race_client", set_as_current=False)
    if backend == "embedded":
        env["RACE_EMBEDDED"] = directory
        celery_safe.embedded.configure(client, directory)
    else:
        import redis

        redis.Redis.from_url(URL).flushdb()
        client.conf.update(broker_url=URL, result_backend=URL)
    lines = []
    with WorkerProcess("retry_race", concurrency=2, cwd=HERE, queues=[queue], env=env):
        for what, task in TASKS.items():
            for label, countdown in (("countdown=1 (baseline)", 1.0), ("countdown=0", 0.0)):
                lost, said = measure(client, task, runs, countdown, queue)
                lines.append(f"{backend:9} {what:22} {label:24} {lost} of {runs} runs end "
                             f"RETRY (end lost); explain says late-retry for {said} of them")
    client.close()
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backends", nargs="+", choices=("redis", "embedded"),
                        default=["redis", "embedded"])
    args = parser.parse_args()
    for backend in args.backends:
        if backend == "redis" and not REDIS.reachable(URL):
            print("retry_race: redis skipped, no Redis at", URL)
            continue
        with tempfile.TemporaryDirectory(prefix="retry-race-") as directory:
            for line in race(backend, args.runs, directory):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
