"""The embedded default *as shipped*, for worker subprocesses (``celery -A hostile_app``).

Only ``configure(app, directory)``: whatever the tests see is what a user gets.
``HOSTILE_TEST_DIR`` holds the SQLite files; ``HOSTILE_TEST_VISIBILITY``, when set, is
the one option changed (so a test need not wait for the default timeout).
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import task_bodies
from celery import Celery

import celery_safe.embedded

_options: dict[str, Any] = {}
if os.environ.get("HOSTILE_TEST_VISIBILITY"):
    _options["visibility_timeout"] = float(os.environ["HOSTILE_TEST_VISIBILITY"])
app = celery_safe.embedded.configure(
    Celery("hostile_app"), os.environ["HOSTILE_TEST_DIR"], **_options
)


@app.task(name="hostile_app.add")
def add(x: int, y: int) -> int:
    return x + y


@app.task(name="hostile_app.record")
def record(runs: str, key: str, seconds: float) -> str:
    """Note one run of ``key`` in the folder ``runs`` (a file per run), then sleep."""
    Path(runs, f"{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}").write_text(str(os.getpid()))
    time.sleep(seconds)
    return key


first_run_sleeps = app.task(name="hostile_app.first_run_sleeps")(task_bodies.mark_then_sleep)
