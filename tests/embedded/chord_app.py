"""Chords on real workers, for worker subprocesses (``celery -A chord_app``).

``CHORD_TEST_BROKER`` is ``embedded:<directory>`` or a Redis URL (broker and results);
``CHORD_TEST_QUEUE`` names the queue. ``CHORD_TEST_DIR`` holds the marker files the tasks
leave: which runs happened, and which to kill.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import task_postrun

import celery_safe.embedded

BROKER = os.environ["CHORD_TEST_BROKER"]
MARKS = Path(os.environ["CHORD_TEST_DIR"])
app = Celery("chord_app")
if BROKER.startswith("embedded:"):
    celery_safe.embedded.configure(app, BROKER.removeprefix("embedded:"))
else:
    app.conf.update(broker_url=BROKER, result_backend=BROKER,
                    task_acks_late=True, task_reject_on_worker_lost=True)
app.conf.update(task_default_queue=os.environ["CHORD_TEST_QUEUE"])


@app.task
def add(x: int, y: int) -> int:
    (MARKS / f"add-{x}-{y}").touch()
    return x + y


@app.task
def last_then_killed(x: int, waits_for: list[str]) -> int:
    """Finishes after the parts named in ``waits_for``, so it is the part that fires the
    body; its first run's pool process is then SIGKILLed before the ack (see below)."""
    deadline = time.monotonic() + 60
    while not all((MARKS / name).exists() for name in waits_for):
        if time.monotonic() > deadline:
            raise TimeoutError(f"parts {waits_for} never ran")
        time.sleep(0.01)
    (MARKS / f"last-run-{uuid.uuid4().hex}").touch()
    return x


@task_postrun.connect
def _kill_after_first_last_part(sender: Any = None, **_: Any) -> None:
    """After the part's result is stored and counted, before its message is acked."""
    if getattr(sender, "name", "") == last_then_killed.name:
        marker = MARKS / "killed-once"
        if not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)


@app.task
def fails(x: int) -> int:
    raise ValueError(f"part {x} fails")


@app.task
def record_total(values: list[int]) -> int:
    """The body: leaves one file per run."""
    (MARKS / f"body-run-{uuid.uuid4().hex}").touch()
    return sum(values)
