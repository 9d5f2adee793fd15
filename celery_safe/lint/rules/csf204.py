"""CSF204: a chord header or body task with ``ignore_result=True`` (static).

Detection: the canvas rules' ``on_canvas`` recorder, and an ``on_read`` handler here
that records the canvases whose result something reads (a body matters only then).
"""

from __future__ import annotations

from collections.abc import Iterator

from ...canvas import Problem
from ..findings import Finding
from ..interp.canvas import CanvasCheck
from ..interp.events import ReadEvent, Scope, Subscribers
from ..registry import CANVAS_EVENTS, CANVAS_WORDS, Report, rule

INVALID = (
    """\
from celery import Celery, chord

app = Celery("shop", backend="db+postgresql://db/results")


@app.task(ignore_result=True)
def fetch(url):
    return len(url)


@app.task
def merge(sizes):
    return sum(sizes)


def start(urls):
    return chord(fetch.s(u) for u in urls)(merge.s())
""",
    """\
from celery import Celery, chord

app = Celery("shop")


@app.task
def fetch(url):
    return len(url)


@app.task(ignore_result=True)
def merge(sizes):
    return sum(sizes)


def total(urls):
    return chord(fetch.s(u) for u in urls)(merge.s())  # the caller waits for merge's result
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
    """\
from celery import Celery, chord

app = Celery("shop", backend="redis://cache:6379/1")


@app.task(ignore_result=True)
def fetch(url):
    return len(url)


@app.task(ignore_result=True)
def merge(sizes):
    print(sum(sizes))


def start(urls):
    chord(fetch.s(u) for u in urls)(merge.s())  # Redis hands merge every size; nobody waits
""",
)


EVENTS = Subscribers.merged([CANVAS_EVENTS])


@EVENTS.on_read
def record_read(scope: Scope, event: ReadEvent) -> None:
    for node in event.value.runs:
        scope.record("CSF204", id(node))


NO_FIX = "drop ignore_result=True from the header/body task"


@rule(
    "CSF204",
    invalid=INVALID,
    valid=VALID,
    without_tasks=CANVAS_WORDS,
    needs_tasks_elsewhere=True,
    events=EVENTS,
    no_fix=NO_FIX,
)
def ignore_result_in_chord(report: Report) -> Iterator[Finding]:
    # a header part is a problem only on a backend known to read stored results (the
    # interpreter checks canvases with what the module's app says); a body only when
    # something reads the chord's result: fire-and-forget chords are common and fine
    read = {node for facts in report.analysis.all_facts() for node in facts.found.get("CSF204", ())}

    def matters(checked: CanvasCheck, problem: Problem) -> bool:
        return problem.about != "body" or id(checked.root) in read

    yield from report.canvas_findings("CSF204", matters)
