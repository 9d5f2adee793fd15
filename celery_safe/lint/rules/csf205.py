"""CSF205: a signature's own arguments cannot bind to its task (static front-end of the
canvas model's check; the first steps of a canvas are skipped, as the arguments the
canvas is called with are not known where it is built)."""

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
from celery import Celery

app = Celery("registry")


@app.task
def resize(path, width):
    return path


def thumbnails():
    # map gives each item as the one argument: resize("a.png") misses width
    return resize.map(["a.png", "b.png"]).delay()
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
from celery import Celery

app = Celery("registry")


@app.task
def resize(path, width):
    return path


def thumbnails():
    # starmap splats each item: resize("a.png", 100)
    return resize.starmap([("a.png", 100), ("b.png", 200)]).delay()
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
