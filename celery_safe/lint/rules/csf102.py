"""CSF102: ``disable_sync_subtasks=False`` on a join inside a task.

Detection lives here: an ``on_join`` handler records each join that turns Celery's own
guard off.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from ..findings import Finding
from ..interp.events import Join, Scope, Subscribers
from ..interp.values import Result
from ..joins import call_text, join_detail
from ..registry import Report, rule

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

    join: Join
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
            scope.record("CSF102", GuardOff(join, keyword))


NO_FIX = "the join could not be rewritten in-process; removing the keyword alone would not fix it"

#: Its join is the fix: the join rewrite replaces the whole call, keyword included. It
#: supersedes CSF101 at the same join (catalogue), so the rewrite starts from here.
REWRITES_JOINS = True


@rule("CSF102", invalid=INVALID, valid=VALID, events=EVENTS, no_fix=NO_FIX,
      rewrites_joins=REWRITES_JOINS, tasks_only=True)
def sync_subtasks_enabled(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.task_facts():
        for off in facts.found.get("CSF102", ()):
            assert isinstance(off, GuardOff)
            yield report.finding(
                "CSF102",
                off.keyword,
                function=facts.info,
                detail=join_detail(off.join),
                call=call_text(off.join.node),
            )
