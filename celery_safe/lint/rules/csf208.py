"""CSF208: an error callback that cannot take what Celery passes it (static front-end of
the canvas model's check: ``link_error=``, ``.on_error()``, ``.link_error()``)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_EVENTS, CANVAS_WORDS, Report, rule

INVALID = (
    """\
from celery import Celery

app = Celery("shop")


@app.task
def add(x, y):
    return x + y


@app.task
def on_error(request, exc):  # two parameters: Celery calls it with three
    return str(exc)


def start():
    return add.s(1, 2).on_error(on_error.s())
""",
    """\
from celery import Celery, chain

app = Celery("shop")


@app.task
def add(x, y):
    return x + y


@app.task
def log_failure(task_id):
    print("failed:", task_id)


@app.task
def alert():
    print("something failed")


def start():
    # a chain as error callback is called with (request, exc, traceback), which it sends
    # on to log_failure: they cannot be encoded, and neither task ever runs
    return add.apply_async((1, 2), link_error=chain(log_failure.s(), alert.si()))
""",
    """\
from celery import Celery

app = Celery("shop")


@app.task
def add(x, y):
    return x + y


@app.task
def on_error(request, exc, traceback):
    return str(exc)


def start():
    # immutable: Celery calls it in-process with its own arguments only (none here)
    return add.s(1, 2).on_error(on_error.si())
""",
)

VALID = (
    """\
from celery import Celery

app = Celery("shop")


@app.task
def add(x, y):
    return x + y


@app.task
def on_error(request, exc, traceback):
    return str(exc)


def start():
    return add.s(1, 2).on_error(on_error.s())
""",
    """\
from celery import Celery

app = Celery("shop")


@app.task
def add(x, y):
    return x + y


@app.task
def log_failure(task_id):
    print("failed:", task_id)


@app.task
def alert():
    print("something failed")


def start():
    # each error callback is sent the failed task's id (an immutable one ignores it)
    return add.apply_async((1, 2), link_error=[log_failure.s(), alert.si()])
""",
)


@rule(
    "CSF208",
    invalid=INVALID,
    valid=VALID,
    without_tasks=CANVAS_WORDS,
    needs_tasks_elsewhere=True,
    events=CANVAS_EVENTS,
)
def error_callback_signature(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF208")
