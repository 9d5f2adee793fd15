"""Late-acking tasks on the embedded broker, for worker subprocesses (``celery -A ack_app``).

``ACK_TEST_DIR`` holds the SQLite files; ``ACK_TEST_VISIBILITY`` is the broker's
visibility timeout in seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import task_bodies
from celery import Celery
from celery.exceptions import Reject

import celery_safe.embedded

app = celery_safe.embedded.configure(
    Celery("ack_app"),
    os.environ["ACK_TEST_DIR"],
    visibility_timeout=float(os.environ.get("ACK_TEST_VISIBILITY", "3600")),
)
app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True)


@app.task
def add(x: int, y: int) -> int:
    return x + y


mark_then_sleep = app.task(name="ack_app.mark_then_sleep")(task_bodies.mark_then_sleep)


@app.task
def reject_once(marker: str) -> str:
    """The first run writes ``marker`` and rejects with requeue; a later run returns."""
    path = Path(marker)
    if path.exists():
        return "redelivered"
    path.write_text(str(os.getpid()))
    raise Reject("first delivery", requeue=True)
