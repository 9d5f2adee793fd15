"""CSF209: a chain step after a chord whose body is a group (static front-end of the
canvas model's check)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_EVENTS, CANVAS_WORDS, Report, rule

INVALID = (
    """\
from celery import Celery, chain, group

app = Celery("shop")


@app.task
def fetch(n):
    return n


@app.task
def total(values):
    return sum(values)


@app.task
def count(values):
    return len(values)


@app.task
def report(value):
    return f"{value}"


def start():
    return chain(
        group(fetch.s(1), fetch.s(2)),
        group(total.s(), count.s()),
        chain(total.s(), report.s()),  # total runs twice, each time with one int
    )
""",
)

VALID = (
    """\
from celery import Celery, chain, group

app = Celery("shop")


@app.task
def fetch(n):
    return n


@app.task
def total(values):
    return sum(values)


@app.task
def count(values):
    return len(values)


@app.task
def report(value):
    return f"{value}"


def start():
    return chain(
        group(fetch.s(1), fetch.s(2)),
        chain(group(total.s(), count.s()), chain(total.s(), report.s())),
    )
""",
)


@rule(
    "CSF209",
    invalid=INVALID,
    valid=VALID,
    without_tasks=CANVAS_WORDS,
    needs_tasks_elsewhere=True,
    events=CANVAS_EVENTS,
)
def step_after_group_bodied_chord(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF209")
