"""CSF301: ``update_state`` with a failure state and a meta without ``exc_type``.

Detection lives here: an ``on_state`` handler reads the literal meta (or the dict a
name is bound to once) of each state write — ``update_state``, a result backend's
``store_result`` / ``mark_as_failure`` / ``mark_as_retry`` — whose state the backend
decodes as an exception. A write whose state (or meta) is a parameter is left open,
and an ``on_helper`` handler closes it where a caller passes a failure state (or a meta
without ``exc_type``): the finding is there, with the helpers down to the write. Celery
then fails every reader of that result (measured: ``tests/lint/test_csf301_celery.py``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, replace

from ..findings import Finding, StateDetail
from ..interp.events import HelperEvent, Scope, StateEvent, Subscribers
from ..interp.index import FunctionInfo
from ..interp.states import meta_keys, state_name, text_meta
from ..interp.values import Param
from ..joins import arguments, helper_name
from ..registry import Report, rule

INVALID = (
    """\
from celery import Celery, states
from celery.exceptions import Ignore

app = Celery("shop")


@app.task(bind=True)
def sync(self, slug):
    if not slug:
        self.update_state(state=states.FAILURE, meta={"reason": "repo not found"})
        raise Ignore()
    return slug
""",
    """\
from celery import Celery
from celery.exceptions import Ignore
from celery.states import FAILURE

app = Celery("shop")


@app.task(bind=True)
def sync(self, slug):
    try:
        return slug.encode("ascii")
    except UnicodeError as exc:
        self.update_state(state=FAILURE, meta=str(exc))  # a string, not an exception's dict
        raise Ignore() from exc
""",
    """\
from celery import Celery, Task, states

app = Celery("shop")


def write_status(task, state, status):
    task.update_state(state=state, meta={"status": status})


class Reported(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        write_status(self, states.FAILURE, "failed")  # the helper stores it without exc_type
""",
)

VALID = (
    """\
from celery import Celery, states
from celery.exceptions import Ignore

app = Celery("shop")


@app.task(bind=True)
def sync(self, slug):
    if not slug:
        self.update_state(
            state=states.FAILURE,
            meta={"exc_type": "LookupError", "exc_message": ["repo not found"]},
        )
        raise Ignore()
    return slug
""",
    """\
from celery import Celery, Task

app = Celery("shop")


def write_status(task, state, status):
    task.update_state(state=state, meta={"status": status})


class Reported(Task):
    def on_retry(self, exc, task_id, args, kwargs, einfo):
        write_status(self, "RETRYING", "will retry")  # a custom state: meta stored as is

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        pass  # Celery has stored the exception already: leave the state alone
""",
)


#: States whose meta the result backend decodes as an exception.
EXCEPTION_STATES = frozenset({"FAILURE", "RETRY", "REVOKED"})
EVENTS = Subscribers()
#: keys of what the handlers record: the undecodable writes, and the writes a caller
#: completes (the state or the meta is a parameter)
FOUND, OPEN = "CSF301", "CSF301.open"


@dataclass(frozen=True)
class UpdateState:
    """A failure state stored with a meta lacking ``exc_type``, decided at ``node``: the
    write itself, or a call that gives a helper's write its state or meta (``via``: the
    helpers down to the write, on line ``line``)."""

    node: ast.Call
    state: str
    keys: tuple[str, ...]
    call: str = "update_state"
    via: tuple[FunctionInfo, ...] = ()
    line: int = 0
    #: the meta's source when it is a string (``str(exc)``): ``keys`` is then empty
    text: str = ""


@dataclass(frozen=True)
class Open:
    """A write whose state (``keys`` known, the meta's) or meta (``state`` known) is the
    parameter ``param``: whoever passes a failure state, or a meta without ``exc_type``,
    writes an undecodable failure."""

    param: str
    state: str
    keys: tuple[str, ...] | None
    call: str
    via: tuple[FunctionInfo, ...]
    line: int
    text: str = ""  # the meta, when it is a string (``keys`` is then empty)


@EVENTS.on_state
def record_undecodable_failure(scope: Scope, event: StateEvent) -> None:
    keys = meta_keys(event.meta, scope.info)
    text = "" if keys is not None else text_meta(event.meta, scope.info, scope.imports, scope.index)
    bad_meta = (keys is not None and "exc_type" not in keys) or bool(text)
    line = event.node.lineno
    if event.state in EXCEPTION_STATES:
        if bad_meta:
            found = UpdateState(event.node, event.state, keys or (), event.call, text=text)
            scope.record(FOUND, found)
        elif isinstance(meta := scope.value(event.meta), Param):
            scope.record(OPEN, Open(meta.name, event.state, None, event.call, (), line))
    elif not event.state and bad_meta:
        given = scope.value(event.state_node)
        if isinstance(given, Param):
            scope.record(OPEN, Open(given.name, "", keys or (), event.call, (), line, text))


@EVENTS.on_helper
def record_through_helper(scope: Scope, event: HelperEvent) -> None:
    """``write_status(task, FAILURE, ...)`` where the helper stores the state it is given
    with a meta lacking ``exc_type`` (or the meta it is given under a failure state)."""
    if not event.called or not isinstance(event.node, ast.Call):
        return
    summary = scope.summary(event.callee)  # why cheap: the walk asked it for the call's value
    opens = summary.found.get(OPEN, ()) if summary is not None else ()
    args = arguments(event.node, event.callee) if opens else {}
    for open_ in opens:
        assert isinstance(open_, Open)
        given = args.get(open_.param)
        if given is None:
            continue
        via = (event.callee, *open_.via)
        if open_.keys is not None:  # the helper's state is what we pass
            state = state_name(given, scope.imports, scope.index, scope.info)
            if state in EXCEPTION_STATES:
                found = UpdateState(
                    event.node, state, open_.keys, open_.call, via, open_.line, open_.text
                )
                scope.record(FOUND, found)
                continue
        else:  # the helper's meta is what we pass
            keys = meta_keys(given, scope.info)
            text = "" if keys is not None else text_meta(
                given, scope.info, scope.imports, scope.index
            )
            if (keys is not None and "exc_type" not in keys) or text:
                found = UpdateState(
                    event.node, open_.state, keys or (), open_.call, via, open_.line, text
                )
                scope.record(FOUND, found)
                continue
        ours = scope.value(given)
        if isinstance(ours, Param) and not (open_.keys is not None and state):
            scope.record(OPEN, replace(open_, param=ours.name, via=via))


NO_FIX = "put exc_type and exc_message in the FAILURE meta, or raise instead"


@rule(
    "CSF301",
    invalid=INVALID,
    valid=VALID,
    # why not the backend's methods too: Celery's own modules are full of them, and a
    # project writes through the backend where it defines tasks or calls update_state
    without_tasks=("update_state",),
    events=EVENTS,
    no_fix=NO_FIX,
)
def failure_meta_without_exc_type(report: Report) -> Iterator[Finding]:
    analysed = list(report.analysis.all_facts())
    # a function a task calls is walked again following imports (its facts then hold
    # what helpers of other modules do with what it passes them): both count, once
    seen: set[int] = set()
    for facts in [*analysed, *report.analysis.facts.values()]:
        for update in facts.found.get(FOUND, ()):
            assert isinstance(update, UpdateState)
            if id(update.node) in seen:
                continue
            seen.add(id(update.node))
            keys = ", ".join(repr(k) for k in update.keys) or "no keys"
            meta = (
                f"that is a string ({update.text}), not a dict with 'exc_type'"
                if update.text
                else f"of {keys} and no 'exc_type'"
            )
            path = " -> ".join(helper_name(f, report.analysis.index) for f in update.via)
            via = f" (through {path}, line {update.line})" if update.via else ""
            yield report.finding(
                "CSF301",
                update.node,
                function=facts.info if facts.is_task else None,
                detail=StateDetail(update.state, update.keys),
                call=update.call,
                state=update.state,
                meta=meta,
                via=via,
            )
