"""CSF210: what a step receives cannot be what its first parameter is annotated to take
(static front-end of the canvas model's type check)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_EVENTS, CANVAS_WORDS, Report, rule

INVALID = (
    """\
from celery import Celery, chain

app = Celery("reports")


@app.task
def count_rows(table: str) -> int:
    return len(table)


@app.task
def publish(summary: str) -> str:
    return summary.upper()


def nightly():
    return chain(count_rows.s("orders"), publish.s())  # publish gets an int
""",
    """\
from celery import Celery, chord

app = Celery("reports")


@app.task
def fetch(url: str) -> bytes:
    return url.encode()


@app.task
def average(sizes: list[float]) -> float:
    return sum(sizes) / len(sizes)


def sizes(urls):
    return chord([fetch.s(u) for u in urls], average.s())  # gets list[bytes]
""",
)

VALID = (
    """\
from celery import Celery, chain

app = Celery("reports")


@app.task
def count_rows(table: str) -> int:
    return len(table)


@app.task
def publish(rows: int) -> str:
    return f"{rows} rows"


def nightly():
    return chain(count_rows.s("orders"), publish.s())
""",
    """\
from celery import Celery, chord

app = Celery("reports")


@app.task
def size(url: str) -> int | None:
    return len(url) or None


@app.task
def average(sizes: list[float | None]) -> float:
    known = [s for s in sizes if s is not None]
    return sum(known) / len(known)


@app.task
def label(value, unit: str) -> str:
    return f"{value} {unit}"


def sizes(urls):
    # int fits float; an unannotated parameter is not compared
    return chord([size.s(u) for u in urls], average.s()) | label.s("bytes")
""",
)


@rule(
    "CSF210",
    invalid=INVALID,
    valid=VALID,
    without_tasks=CANVAS_WORDS,
    needs_tasks_elsewhere=True,
    events=CANVAS_EVENTS,
)
def result_type_mismatch(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF210")
