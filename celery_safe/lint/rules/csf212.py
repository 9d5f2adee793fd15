"""CSF212: a chord header part whose task replaces itself with a group (static front-end
of the canvas model's check; the task's code is read by ``canvas.replaces``)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_EVENTS, CANVAS_WORDS, Report, rule

INVALID = (
    """\
from celery import Celery, chord, group

app = Celery("shop")


@app.task
def size(url):
    return len(url)


@app.task(bind=True)
def crawl(self, urls):
    return self.replace(group(size.s(u) for u in urls))


@app.task
def report(sizes):
    return sizes


def start(urls):
    return chord([crawl.s(urls), size.s("index")], report.s())
""",
)

VALID = (
    """\
from celery import Celery, chord

app = Celery("shop")


@app.task
def size(url):
    return len(url)


@app.task
def gather(sizes):
    return sizes


@app.task(bind=True)
def crawl(self, urls):
    return self.replace(chord([size.s(u) for u in urls], gather.s()))


@app.task
def report(sizes):
    return sizes


def start(urls):
    return chord([crawl.s(urls), size.s("index")], report.s())
""",
)


@rule(
    "CSF212",
    invalid=INVALID,
    valid=VALID,
    without_tasks=CANVAS_WORDS,
    needs_tasks_elsewhere=True,
    events=CANVAS_EVENTS,
)
def header_part_replaced_by_group(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF212")
