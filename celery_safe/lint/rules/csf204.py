"""CSF204: a chord header or body task with ``ignore_result=True`` (static).

Detection: the canvas rules' ``on_canvas`` recorder, and handlers here that record the
canvases whose result is used (a body matters only then): joined (``on_join``), polled
(``on_read``: ``.ready()``, ``.state``), or given to a helper that joins or polls that
parameter (``on_helper``); a result returned is used where the caller uses it (the
caller's value is the same result). An id read (``on_read``, ``how="id"``) is sent
somewhere: it counts only where the module restores a result from an id and uses it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...canvas import Problem
from ..findings import Finding
from ..interp.canvas import CanvasCheck
from ..interp.events import HelperEvent, Join, ReadEvent, Scope, Subscribers
from ..interp.values import Param, Result, Results, Value
from ..joins import passed
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


EVENTS = Subscribers.merged([CANVAS_EVENTS])
#: keys of what the handlers record: the canvases (source nodes, by ``id``) whose result
#: is used, those whose result's id is sent, a restored result used, the parameters used
USED, SENT, RESTORED_USED, PARAMS = "CSF204", "CSF204.sent", "CSF204.restored", "CSF204.params"
#: Results made from an id sent earlier (``AsyncResult(id)``, ``GroupResult.restore(id)``).
RESTORED = frozenset({"AsyncResult", "GroupResult", "restore", "result_from_tuple"})


def used(scope: Scope, value: Value | None) -> None:
    """``value`` is joined or polled: the canvases it is the result of have it used."""
    if isinstance(value, (Result, Results)):
        for node in value.runs:
            scope.record(USED, id(node))
        if value.method in RESTORED:
            scope.record(RESTORED_USED, True)
    elif isinstance(value, Param):
        scope.record(PARAMS, value.name)


@EVENTS.on_join
def record_join(scope: Scope, join: Join) -> None:
    used(scope, join.value)


@EVENTS.on_read
def record_read(scope: Scope, event: ReadEvent) -> None:
    if event.how == "polled":
        used(scope, event.value)
    elif event.how == "id" and not isinstance(event.value, Param):
        for node in event.value.runs:
            scope.record(SENT, id(node))


@EVENTS.on_helper
def record_helper(scope: Scope, event: HelperEvent) -> None:
    """A result given to a helper that joins or polls that parameter is used here."""
    given = {
        name: value
        for name, value in passed(scope, event).items()
        if isinstance(value, (Result, Results)) and value.runs
    }
    summary = scope.summary(event.callee) if given else None
    reads = set(summary.found.get(PARAMS, ())) if summary is not None else set()
    for name, value in given.items():
        if name in reads:
            used(scope, value)


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
    # (used: joined or polled, here or where it is returned or passed; an id sent away
    # counts only if this module restores a result from an id and uses it)
    facts = [found.found for found in report.analysis.all_facts()]
    read = {node for found in facts for node in found.get(USED, ())}
    if any(found.get(RESTORED_USED) for found in facts):
        read |= {node for found in facts for node in found.get(SENT, ())}

    def matters(checked: CanvasCheck, problem: Problem) -> bool:
        return problem.about != "body" or id(checked.root) in read

    yield from report.canvas_findings("CSF204", matters)
