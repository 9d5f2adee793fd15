"""CSF203: a chord whose app's result backend cannot run it, where the module's code says
which backend that is (static front-end of the canvas model's check; see
``lint.interp.backends`` for when the code decides it)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_EVENTS, CANVAS_WORDS, Report, rule

#: The tasks and the chord of every example; only how the app is made differs.
_CHORD = """

@app.task
def fetch(url):
    return len(url)


@app.task
def merge(sizes):
    return sum(sizes)


def start(urls):
    return chord(fetch.s(u) for u in urls)(merge.s())
"""
_IMPORTS = "from celery import Celery, chord\n\n"

INVALID = (
    _IMPORTS + 'app = Celery("shop", broker="redis://localhost", backend="rpc://")\n' + _CHORD,
)

VALID = (
    _IMPORTS
    + 'app = Celery("shop", broker="redis://localhost", backend="redis://localhost")\n'
    + _CHORD,
    _IMPORTS
    + 'app = Celery("shop", broker="redis://localhost", backend="rpc://")\n'
    + 'app.config_from_object("shop.settings")  # the backend is decided there\n'
    + _CHORD,
)


NO_FIX = "configure a result backend that supports chords"


@rule(
    "CSF203",
    invalid=INVALID,
    valid=VALID,
    without_tasks=CANVAS_WORDS,
    needs_tasks_elsewhere=True,
    events=CANVAS_EVENTS,
    no_fix=NO_FIX,
)
def chord_without_chord_backend(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF203")
