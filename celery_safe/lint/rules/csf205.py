"""CSF205: a signature's own arguments cannot bind to its task (static front-end of the
canvas model's check; the first steps of a canvas are skipped, as the arguments the
canvas is called with are not known where it is built, unless they are: a task or lone
signature sent with arguments written at the call, ``t.delay(1, eta=when)``, gets those
and no more; Celery refuses the message with ``TypeError``, or the worker's call fails)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_EVENTS, CANVAS_WORDS, Report, rule

INVALID = (
    """\
from celery import Celery, chain

app = Celery("registry")


@app.task
def fetch(path):
    return path


@app.task
def resize(path, width, *, height=None):
    return path


def thumbnail(path):
    return chain(fetch.s(path), resize.s(100, depth=8))  # no parameter named depth
""",
    """\
from celery import shared_task


@shared_task
def send_digest(user_id):
    return user_id


def schedule(user, when):
    send_digest.delay(user.pk, eta=when)  # delay() passes eta to the task: apply_async(eta=)
""",
)

VALID = (
    """\
from celery import Celery, chain

app = Celery("registry")


@app.task
def fetch(path):
    return path


@app.task
def resize(path, width, *, height=None):
    return path


def thumbnail(path):
    return chain(fetch.s(path), resize.s(100, height=80))
""",
    """\
from celery import shared_task


@shared_task
def send_digest(user_id):
    return user_id


def schedule(user, when):
    send_digest.apply_async((user.pk,), eta=when)
""",
)


@rule(
    "CSF205",
    invalid=INVALID,
    valid=VALID,
    without_tasks=CANVAS_WORDS,
    needs_tasks_elsewhere=True,
    events=CANVAS_EVENTS,
)
def signature_arguments_do_not_match(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF205")
