"""The app of the deployment measurements (``celery -A wf_deploy_app worker``).

Configured from the environment (JSON in ``CELERY_SAFE_DEPLOY_CONFIG``) so the test
process and the real workers it starts share one configuration. The tasks write what
happened to them to a notes file (one JSON line each): how a test sees a task run twice,
or run again after its worker process was killed.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from celery import Celery

from celery_safe.workflows import check_app_on_start

CONFIG_ENV = "CELERY_SAFE_DEPLOY_CONFIG"
#: The setting naming the notes file.
NOTES = "celery_safe_deploy_notes"
#: A setting: when true, the worker refuses to start while check_app reports problems.
CHECK_ON_START = "celery_safe_check_on_start"
#: How long ``hold`` waits for its duplicate before giving up (a bound, not a measurement).
HOLD_DEADLINE = 120.0


def read_notes(path: str | Path) -> list[list[Any]]:
    """Every note written so far: ``[event, task_id, pid]``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.endswith("]")]


def make_app(conf: dict[str, Any]) -> Celery:
    """A fresh app with the measurement tasks, configured with ``conf``."""
    app = Celery("wf_deploy", set_as_current=False)
    app.conf.update(conf)

    def write(event: str, task_id: str) -> None:
        line = json.dumps([event, task_id, os.getpid()]) + "\n"
        fd = os.open(app.conf[NOTES], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    @app.task(bind=True, shared=False, name="deploy.note")
    def note(self: Any) -> str:
        write("ran", self.request.id)
        return str(self.request.id)

    @app.task(shared=False, name="deploy.echo")
    def echo(value: str) -> str:
        return value

    @app.task(bind=True, shared=False, name="deploy.collect")
    def collect(self: Any, values: list[str]) -> list[str]:
        """A chord body: notes that it ran."""
        write("collected", self.request.id)
        return values

    @app.task(bind=True, shared=False, name="deploy.hold", acks_late=True)
    def hold(self: Any) -> int:
        """Runs until a second copy of itself has started (or HOLD_DEADLINE passes)."""
        write("start", self.request.id)
        deadline = time.monotonic() + HOLD_DEADLINE
        while time.monotonic() < deadline:
            starts = [n for n in read_notes(app.conf[NOTES]) if n[:2] == ["start", self.request.id]]
            if len(starts) >= 2:
                return len(starts)
            time.sleep(0.1)
        return 1

    @app.task(bind=True, shared=False, name="deploy.die", acks_late=True)
    def die(self: Any) -> str:
        """Killed by SIGKILL on its first run, as the kernel's OOM killer kills a pool process."""
        write("attempt", self.request.id)
        attempts = [n for n in read_notes(app.conf[NOTES]) if n[:2] == ["attempt", self.request.id]]
        if len(attempts) == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return "survived"

    return app


app = make_app(json.loads(os.environ.get(CONFIG_ENV, "{}")) or {"broker_url": "memory://"})
if app.conf.get(CHECK_ON_START):
    check_app_on_start(app)
