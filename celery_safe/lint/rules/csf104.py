"""CSF104: a join reached through a helper function that a task calls.

Detection: the join family's ``on_join`` and ``on_helper`` recorders (``lint.joins``),
followed from each task's calls to the joins they reach.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from ..findings import Finding
from ..interp.index import FunctionInfo
from ..interp.values import Param
from ..joins import REACH_EVENTS, call_text, helper_joins, join_detail
from ..noqa import ALL, suppressed_codes
from ..registry import Report, rule, span_of

INVALID = (
    """\
from celery import Celery

app = Celery("shop")


@app.task
def price(item_id):
    return item_id * 100


def prices(ids):
    return [price.delay(i).get() for i in ids]


@app.task
def total(ids):
    return sum(prices(ids))
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


def prices(ids):
    return [price.logic(i) for i in ids]


@celery_safe.task(app)
def total(ids):
    return sum(prices(ids))
""",
)


REWRITES_JOINS = True
NO_FIX = (
    "the join is inside a helper the task calls: make the helper call the "
    "task's logic (`other.logic(...)`) instead of starting it and waiting"
)


@rule(
    "CSF104",
    invalid=INVALID,
    valid=VALID,
    events=REACH_EVENTS,
    rewrites_joins=REWRITES_JOINS,
    no_fix=NO_FIX,
    tasks_only=True,
)
def join_through_helper(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.task_facts():
        assert facts.info is not None
        for reached in helper_joins(report.analysis, facts):
            if _silenced_at_the_join(reached.path[-1], reached.join.node.lineno):
                continue
            names = [facts.info.label, *(_name(f, report) for f in reached.path)]
            owner = reached.path[-1].module
            elsewhere = owner is not None and owner is not report.analysis.index
            # does the helper start the task it joins, or is the result handed to it?
            joined = reached.join.value
            detail = replace(
                join_detail(reached.join),
                join_path=owner.path if elsewhere and owner is not None else "",
                call_path=tuple(names),
                joins="argument" if isinstance(joined, Param) else "own",
                helper_call=span_of(reached.call.node),
            )
            yield report.finding(
                "CSF104",
                reached.call.node,
                function=facts.info,
                detail=detail,
                path=" -> ".join(names),
                call=call_text(reached.join.node),
                line=reached.join.node.lineno,
            )


def _silenced_at_the_join(helper: FunctionInfo, line: int) -> bool:
    """A ``# noqa`` (bare or naming CSF104) on the helper's join line silences what the
    join causes in every task that reaches it, in this module and others."""
    owner = helper.module
    codes = suppressed_codes(owner.line(line)) if owner is not None else None
    return codes is not None and (codes is ALL or "CSF104" in codes)


def _name(function: FunctionInfo, report: Report) -> str:
    """``helper``, or ``utils.helper`` for a helper imported from another module."""
    owner = function.module
    if owner is None or owner is report.analysis.index or not owner.path:
        return function.label
    return f"{Path(owner.path).stem}.{function.label}"
