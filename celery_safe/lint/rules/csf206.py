"""CSF206, static: a beat entry whose task is one the project would own — ``a.b.f`` where
``a.b`` is a module of the project (or the main name of the app writing the schedule) —
and that nothing in the project registers. Beat sends it every time it is due; the worker
drops it ("Received unregistered task"), measured in ``tests/lint/test_joins_api_celery.py``.

Detection: the interpreter builds the entry as a step known to be unregistered
(``interp/registration.py``: any doubt is silence) and the canvas model reports it, as
``workflows.validate`` does at run time. ``celery.*`` and names of other libraries are
never reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_EVENTS, CANVAS_WORDS, Report, rule
from .csf205 import BEAT_WORDS

#: a module sending a task it imports (whose module the worker may never import)
SEND_WORDS = (".delay(", ".apply_async(", "send_task(")

INVALID = (
    """\
from celery import Celery

app = Celery("reports")


@app.task
def send_digest(user_id=None):
    return user_id


app.conf.beat_schedule = {
    "daily-digest": {
        "task": "reports.send_digests",  # the task is reports.send_digest
        "schedule": 86400.0,
    },
}
""",
)

VALID = (
    """\
from celery import Celery

app = Celery("reports")


@app.task
def send_digest(user_id=None):
    return user_id


app.conf.beat_schedule = {
    "daily-digest": {"task": "reports.send_digest", "schedule": 86400.0},
    # Celery's own, and another library's: registered where they are installed
    "cleanup": {"task": "celery.backend_cleanup", "schedule": 86400.0},
    "sessions": {"task": "django_celery_beat.tasks.clear", "schedule": 3600.0},
}
""",
)


@rule(
    "CSF206",
    invalid=INVALID,
    valid=VALID,
    without_tasks=(*CANVAS_WORDS, *SEND_WORDS, *BEAT_WORDS),
    needs_tasks_elsewhere=True,
    events=CANVAS_EVENTS,
)
def beat_entry_task_unregistered(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF206")
