"""The app of ``embedded_vs_redis.py``'s workers (``celery -A embedded_bench_app``).

``BENCH_BROKER`` is ``embedded:<directory>`` or a Redis URL (broker and results);
``BENCH_QUEUE`` names the queue, so a run never reads another's messages.
"""

from __future__ import annotations

import os
import time

from celery import Celery

import celery_safe.embedded

BROKER = os.environ["BENCH_BROKER"]
app = Celery("embedded_bench_app")
if BROKER.startswith("embedded:"):
    celery_safe.embedded.configure(app, BROKER.removeprefix("embedded:"),
                                   polling_interval=float(os.environ.get("BENCH_POLL", "0.5")))
else:
    app.conf.update(broker_url=BROKER, result_backend=BROKER)
app.conf.update(
    task_default_queue=os.environ["BENCH_QUEUE"],
    worker_prefetch_multiplier=1,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    broker_connection_retry_on_startup=True,
)


@app.task
def add(x: int, y: int) -> int:
    return x + y


@app.task
def total(values: list[int]) -> int:
    return sum(values)


@app.task
def stamp() -> tuple[float, float]:
    """When this task started and ended (wall clock), for throughput."""
    start = time.time()
    return start, time.time()
