"""CSF204: a chord header or body task with ``ignore_result=True`` (static).

Detection: the canvas rules' ``on_canvas`` recorder, and handlers here that record the
canvases whose result is used (a body matters only then): joined (``on_join``), polled
(``on_read``: ``.ready()``, ``.state``), or given to a helper that joins or polls that
parameter (``on_helper``); a result returned is used where the caller uses it (the
caller's value is the same result). An id read (``on_read``, ``how="id"``) is sent
somewhere: it counts only where the module restores a result from an id and uses it.
Across modules: a result given to a helper of another module (resolved by ``on_call``
when the walk does not follow imports, only for a canvas's result), and a chord's
result a helper of another module returns here and is used here (reported here, on
the call: that module cannot see this use).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

from ...canvas import Problem, render_path
from ..findings import CanvasDetail, Finding
from ..interp.analysis import ModuleAnalysis
from ..interp.canvas import CanvasCheck
from ..interp.events import CallEvent, HelperEvent, Join, ReadEvent, Scope, Subscribers
from ..interp.facts import FunctionFacts
from ..interp.index import FunctionInfo, ModuleIndex
from ..interp.values import Param, Result, Results, Value
from ..joins import passed
from ..registry import CANVAS_EVENTS, CANVAS_WORDS, Report, outermost, rule, span_of

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
#: is used, those whose result's id is sent, a restored result used, the parameters used,
#: the chords of other modules whose result a helper returns here
USED, SENT, RESTORED_USED, PARAMS = "CSF204", "CSF204.sent", "CSF204.restored", "CSF204.params"
ELSEWHERE = "CSF204.elsewhere"


@dataclass(frozen=True)
class ChordElsewhere:
    """``node`` calls a helper of ``module`` that returns the result of the canvases
    built there at ``runs`` (source nodes, by ``id``)."""

    node: ast.expr
    module: ModuleIndex
    runs: frozenset[int]
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
    """A result given to a helper that joins or polls that parameter is used here; a
    helper of another module returning a chord's result is noted (read here, the chord
    there matters)."""
    _given_to(scope, event)
    owner = event.callee.module
    if event.called and owner is not None and owner is not scope.index:
        summary = scope.summary(event.callee)
        returned = summary.returns if summary is not None else None
        if isinstance(returned, (Result, Results)) and returned.runs:
            runs = frozenset(id(node) for node in returned.runs)
            scope.record(ELSEWHERE, ChordElsewhere(event.node, owner, runs))


def _given_to(scope: Scope, event: HelperEvent) -> None:
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


#: Calls whose value may be a canvas's result, worth evaluating as an argument.
_RUNS = frozenset({"delay", "apply_async"})


@EVENTS.on_call
def record_call(scope: Scope, event: CallEvent) -> None:
    """``wait_for(chord(...)(body))`` where ``wait_for`` is a helper of another module
    that a walk not following imports leaves unresolved: resolved here, only when a
    canvas's result is passed (cheap: no other module is read otherwise)."""
    node = event.node
    if event.receiver is not None or not node.args:
        return  # a method of a value we know (a result, a canvas...): not a helper
    qualified = scope.imports.qualify(node.func)
    if qualified is None or not any(_may_run(a) and _runs(scope.value(a)) for a in node.args):
        return  # why first: most calls are to no imported name, or pass no canvas result
    callee = _imported(scope, node.func, qualified)
    if callee is not None:
        _given_to(scope, HelperEvent(node, callee, called=True))


def _may_run(arg: ast.expr) -> bool:
    if isinstance(arg, ast.Name):
        return True
    if isinstance(arg, ast.Call):
        func = arg.func
        return isinstance(func, ast.Call) or (
            isinstance(func, ast.Attribute) and func.attr in _RUNS
        )
    return False


def _runs(value: Value | None) -> bool:
    return isinstance(value, (Result, Results)) and bool(value.runs)


def _imported(scope: Scope, func: ast.expr, qualified: str) -> FunctionInfo | None:
    if isinstance(func, ast.Name) and scope.index.resolve_local(scope.info, func.id):
        return None  # a local helper: the walk's own ``on_helper``
    found = scope.index.imported(qualified)
    return found if found is not None and found.task is None else None


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
    analysed = list(report.analysis.all_facts())
    # a function a task calls is walked again following imports: its facts count too
    facts = [found.found for found in [*analysed, *report.analysis.facts.values()]]
    read = {node for found in facts for node in found.get(USED, ())}
    if any(found.get(RESTORED_USED) for found in facts):
        read |= {node for found in facts for node in found.get(SENT, ())}

    def matters(checked: CanvasCheck, problem: Problem) -> bool:
        return problem.about != "body" or id(checked.root) in read

    yield from report.canvas_findings("CSF204", matters)
    elsewhere = [e for found in facts for e in found.get(ELSEWHERE, ()) if e.runs & read]
    yield from _read_here(report, elsewhere)


def _read_here(report: Report, chords: list[ChordElsewhere]) -> Iterator[Finding]:
    """A chord built in another module, whose result a helper returns and this module
    reads: its body's ``ignore_result`` is reported here, on the call to the helper."""
    seen: set[int] = set()
    for chord in chords:
        owner = chord.module.analysis
        if id(chord.node) in seen or not isinstance(owner, ModuleAnalysis):
            continue
        functions: list[FunctionFacts] = [owner.module, *owner.facts.values()]
        for checked in outermost(functions):
            if id(checked.root) not in chord.runs:
                continue
            for problem in checked.problems:
                if problem.code != "CSF204" or problem.about != "body":
                    continue
                seen.add(id(chord.node))
                where = f"{PurePath(chord.module.path).name} line {span_of(checked.root).line}"
                yield Finding(
                    code="CSF204",
                    path=report.path,
                    span=span_of(chord.node),
                    message=f"CSF204 {problem.message} (the chord is built in {where}, "
                    "and its result is read here)",
                    task=None,
                    detail=CanvasDetail(render_path(problem.path), problem.fix),
                )
                break
