"""CSF102: ``disable_sync_subtasks=False`` on a join inside a task.

Detection lives here: an ``on_join`` handler records each join that turns Celery's own
guard off.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from ..findings import Finding, JoinDetail
from ..interp.events import Join, Scope, Subscribers
from ..interp.values import Result
from ..joins import call_text
from ..registry import Report, rule, span_of

INVALID = (
    """\
from celery import Celery

app = Celery("shop")


@app.task
def price(item_id):
    return item_id * 100


@app.task
def report(item_id):
    cents = price.delay(item_id).get(disable_sync_subtasks=False)
    return f"{cents / 100:.2f}"
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
def report(item_id):
    return f"{price.logic(item_id) / 100:.2f}"
""",
)


EVENTS = Subscribers()


@dataclass(frozen=True)
class GuardOff:
    """A join passing ``disable_sync_subtasks=False`` (``keyword``)."""

    call: ast.Call
    keyword: ast.keyword


@EVENTS.on_join
def record_guard_off(scope: Scope, join: Join) -> None:
    if not isinstance(join.node, ast.Call):
        return  # ``~sig`` takes no keyword
    if isinstance(join.value, Result) and join.value.method == "apply":
        return  # an eager result: with the check off its get neither waits nor raises
    for keyword in join.node.keywords:
        value = keyword.value
        off = isinstance(value, ast.Constant) and value.value is False
        if keyword.arg == "disable_sync_subtasks" and off:
            scope.record("CSF102", GuardOff(join.node, keyword))


NO_FIX = (
    "disable_sync_subtasks=False goes away with its join; that join could not be "
    "rewritten (see the CSF101 on the same line)"
)


@rule("CSF102", invalid=INVALID, valid=VALID, also=("CSF101",), events=EVENTS, no_fix=NO_FIX,
      tasks_only=True)
def sync_subtasks_enabled(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.task_facts():
        for off in facts.found.get("CSF102", ()):
            assert isinstance(off, GuardOff)
            call, keyword = off.call, off.keyword
            yield report.finding(
                "CSF102",
                keyword,
                function=facts.info,
                detail=JoinDetail(join=_method(call), join_span=span_of(call)),
                call=call_text(call),
            )


def _method(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else ""
