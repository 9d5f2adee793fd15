"""CSF204: a chord header or body task with ``ignore_result=True`` (static)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_WORDS, Report, rule

INVALID = (
    """\
from celery import Celery, chord

app = Celery("shop")


@app.task(ignore_result=True)
def fetch(url):
    return len(url)


@app.task
def merge(sizes):
    return sum(sizes)


def start(urls):
    return chord(fetch.s(u) for u in urls)(merge.s())
""",
)

VALID = (
    """\
from celery import Celery, chord

app = Celery("shop")


@app.task
def fetch(url):
    return len(url)


@app.task
def merge(sizes):
    return sum(sizes)


def start(urls):
    return chord(fetch.s(u) for u in urls)(merge.s())
""",
)


@rule(
    "CSF204", invalid=INVALID, valid=VALID, without_tasks=CANVAS_WORDS, needs_tasks_elsewhere=True
)
def ignore_result_in_chord(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF204")
