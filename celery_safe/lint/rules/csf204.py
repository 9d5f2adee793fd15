"""CSF204: a chord header or body task with ``ignore_result=True`` (static)."""

from __future__ import annotations

from collections.abc import Iterator

from ...canvas import Problem
from ..findings import Finding
from ..interp.canvas import CanvasCheck
from ..registry import CANVAS_WORDS, Report, rule

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
    return chord(fetch.s(u) for u in urls)(merge.s())


def report(urls):
    return total(urls).get(timeout=60)  # waits for merge's result, which is never stored
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
    """\
from celery import Celery, chord

app = Celery("shop")


@app.task
def fetch(url):
    return len(url)


@app.task(ignore_result=True)
def merge(sizes):
    print(sum(sizes))


def start(urls):
    job = chord(fetch.s(u) for u in urls)(merge.s())
    return {"task_id": job.id}  # an id in a response: nothing here restores and joins it
""",
)


NO_FIX = "drop ignore_result=True from the header/body task"


@rule(
    "CSF204",
    invalid=INVALID,
    valid=VALID,
    without_tasks=CANVAS_WORDS,
    needs_tasks_elsewhere=True,
    no_fix=NO_FIX,
)
def ignore_result_in_chord(report: Report) -> Iterator[Finding]:
    # a header part is a problem only on a backend known to read stored results (the
    # interpreter checks canvases with what the module's app says); a body only when
    # something reads the chord's result: fire-and-forget chords are common and fine
    # (used: joined or polled, here or where it is returned or passed; an id sent away
    # counts only if this module restores a result from an id and uses it)
    facts = list(report.analysis.all_facts())
    read = {node for found in facts for node in found.read_canvases}
    if any(found.uses_restored for found in facts):
        read |= {node for found in facts for node in found.sent_canvases}

    def matters(checked: CanvasCheck, problem: Problem) -> bool:
        return problem.about != "body" or id(checked.root) in read

    yield from report.canvas_findings("CSF204", matters)
