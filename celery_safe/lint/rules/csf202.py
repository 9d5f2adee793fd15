"""CSF202: a chord body that cannot accept the list of header results (static)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_EVENTS, CANVAS_WORDS, Report, rule

INVALID = (
    """\
from celery import Celery, chord

app = Celery("shop")


@app.task
def price(item_id):
    return item_id * 100


@app.task
def summarise():  # takes no argument
    return "done"


def start(ids):
    return chord(price.s(i) for i in ids)(summarise.s())
""",
)

VALID = (
    """\
from celery import Celery, chord

app = Celery("shop")


@app.task
def price(item_id):
    return item_id * 100


@app.task
def summarise(prices):
    return sum(prices)


def start(ids):
    return chord(price.s(i) for i in ids)(summarise.s())
""",
)


NO_FIX = "make the chord body accept the list of header results by hand"


@rule(
    "CSF202",
    invalid=INVALID,
    valid=VALID,
    without_tasks=CANVAS_WORDS,
    needs_tasks_elsewhere=True,
    events=CANVAS_EVENTS,
    no_fix=NO_FIX,
)
def chord_body_cannot_take_list(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF202")
