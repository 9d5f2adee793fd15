"""CSF105: ``.apply()`` of another task inside a task.

Detection lives here: an ``on_call`` handler records each ``.apply()`` whose receiver
the interpreter knows is a task or a canvas; the join of its result, if any, comes from
the join family's ``on_join`` recorder (``lint.joins``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from ...canvas.model import Chain, Chord
from ..findings import Finding, JoinDetail
from ..interp.events import CallEvent, Join, Scope, Subscribers
from ..interp.index import FunctionInfo
from ..interp.values import Canvas, Result, TaskRef
from ..joins import JOIN_EVENTS, call_text, own_joins
from ..registry import Report, rule, span_of

INVALID = (
    """\
from celery import Celery

app = Celery("shop")


@app.task
def price(item_id):
    return item_id * 100


@app.task
def checkout(item_id):
    cents = price.apply(args=(item_id,)).get()
    return cents + 500
""",
)

VALID = (
    """\
from celery import Celery

import celery_safe

app = Celery("shop")


@celery_safe.task(app)
def price(item_id):
    return item_id * 100


@celery_safe.task(app)
def checkout(item_id):
    return price.logic(item_id) + 500
""",
)


EVENTS = Subscribers.merged([JOIN_EVENTS])


@dataclass(frozen=True)
class Apply:
    """``task.apply(...)``: the task runs in-process, through Celery's machinery."""

    node: ast.Call
    callee: str
    task: FunctionInfo | None
    imported: str = ""  # qualified name, when the receiver is an import not resolved
    #: a chain of several steps or a chord: Celery's eager ``apply`` joins inside it
    joins_inside: str = ""


@EVENTS.on_call
def record_apply(scope: Scope, call: CallEvent) -> None:
    if call.method != "apply" or not isinstance(call.node.func, ast.Attribute):
        return
    receiver = call.node.func.value
    match call.receiver:
        case TaskRef(task=task, qualified=qualified, callee=callee):
            if task is None and qualified:
                task = scope.index.imported_task(qualified)
            found = Apply(call.node, callee or ast.unparse(receiver), task, qualified)
            scope.record("CSF105", found)
        case Canvas(canvas=shape):
            # ``sig.apply()``, ``add.si(1).apply()``, ``chain(...).apply()``
            inside = ""
            if isinstance(shape, Chord):
                inside = "chord"
            elif isinstance(shape, Chain) and len(shape.steps) > 1:
                inside = "chain"
            scope.record("CSF105", Apply(call.node, ast.unparse(receiver), None, "", inside))


#: Celery's ``EagerResult.get`` (and ``wait``) calls ``assert_will_not_block()`` first
#: (5.3-5.7): measured in ``tests/lint/test_joins_api_celery.py``.
JOINED = " and joins it with .{join}(), which raises RuntimeError in a prefork worker"
#: Celery's eager ``_chain.apply`` gives each step ``last.get()`` of the one before, and
#: ``chord.apply`` joins its header's eager group: measured the same way.
JOINS_INSIDE = ", whose eager {kind} joins inside it: RuntimeError in a prefork worker"


def _raises(apply: Apply, join: Join | None) -> str:
    """What the message adds when Celery raises in a prefork worker: a join of the eager
    result, or the eager chain or chord's own."""
    if apply.joins_inside:
        return JOINS_INSIDE.format(kind=apply.joins_inside)
    if join is not None and not join.guard_off:
        return JOINED.format(join=join.method)
    return ""


REWRITES_JOINS = True
NO_FIX = "the .apply() result is not joined where it is started"


@rule(
    "CSF105",
    invalid=INVALID,
    valid=VALID,
    events=EVENTS,
    rewrites_joins=REWRITES_JOINS,
    no_fix=NO_FIX,
    tasks_only=True,
)
def apply_in_task(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.task_facts():
        for apply in facts.found.get("CSF105", ()):
            assert isinstance(apply, Apply)
            if apply.task is not None and apply.task is facts.info:
                continue  # a task re-running itself eagerly is a different (odd) idea
            if apply.task is None and apply.imported:
                local = apply.callee.partition(".")[0]
                if local not in report.analysis.task_like_names:
                    continue  # why: an imported name with an .apply() is not proof of a task
            joined = [
                j
                for j in own_joins(facts)
                if isinstance(j.value, Result) and j.value.origin is apply.node
            ]
            yield report.finding(
                "CSF105",
                apply.node,
                function=facts.info,
                detail=JoinDetail(
                    join=joined[0].method if joined else "",
                    join_span=span_of(joined[0].node) if joined else None,
                    origin=span_of(apply.node),
                    origin_method="apply",
                    callee=apply.callee,
                    via=joined[0].value.via if joined and joined[0].value else (),
                ),
                callee=apply.callee,
                call=call_text(apply.node),
                joined=_raises(apply, joined[0] if joined else None),
            )
