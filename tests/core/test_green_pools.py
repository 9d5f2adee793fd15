"""The guard does not leak between greenlets of one monkey-patched process.

``test_workers.py`` shows the guard refusing joins on real ``-P gevent``/``-P eventlet``
workers; this shows its state is per greenlet, not per OS thread: all greenlets share
one thread, so a per-thread stack would make a join outside a task fail while another
greenlet is mid-task (see ``apps/green_isolation.py``). A subprocess, because patching
is process-wide and must happen before Celery is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from .conftest import APPS_DIR, require_green_pool


@pytest.mark.parametrize("library", ["gevent", "eventlet"])
def test_a_task_in_one_greenlet_does_not_guard_another(library: str) -> None:
    require_green_pool(library)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}  # eventlet warns it is deprecated
    done = subprocess.run(
        [sys.executable, str(APPS_DIR / "green_isolation.py"), library],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout)
    # Two greenlets in the same OS thread, interleaved mid-task.
    assert seen["in_task"][0] != seen["outside"][0]
    assert seen["in_task"][1] == seen["outside"][1]
    # The greenlet outside the task sees no task and may join...
    assert seen["outside_while_task_runs"] is None
    assert seen["join_outside"] == "joined 3"
    # ...and that does not unguard the greenlet inside it.
    assert seen["in_task_after_outside"] == "green.parked"
    assert seen["join_in_task"] == "JoinInTaskError green.parked"
