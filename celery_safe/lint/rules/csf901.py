"""CSF901 (opt-in): a join on a Celery result outside tasks with no timeout.

Detection: the join family's recorders (``lint.joins``); a join tasks reach through
helpers is CSF104's, not reported here again.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..findings import Finding
from ..joins import REACH_EVENTS, call_text, helper_joins, join_detail, own_joins
from ..registry import Report, rule

#: Joins whose first positional parameter is the timeout.
_TIMEOUT_FIRST = frozenset({"get", "wait", "join", "join_native"})
_RESULT_WORDS = ("delay", "apply_async", "AsyncResult", "GroupResult", "ResultSet", "send_task")


INVALID = (
    """\
from celery import Celery

app = Celery("shop")


@app.task
def price(item_id):
    return item_id * 100


def checkout_view(request, item_id):
    cents = price.delay(item_id).get()
    return {"total": cents}
""",
)

VALID = (
    """\
from celery import Celery

app = Celery("shop")


@app.task
def price(item_id):
    return item_id * 100


def checkout_view(request, item_id):
    try:
        cents = price.delay(item_id).get(timeout=10)
    except TimeoutError:
        return {"error": "pricing is unavailable"}
    return {"total": cents}
""",
)


@rule("CSF901", invalid=INVALID, valid=VALID, without_tasks=_RESULT_WORDS, events=REACH_EVENTS)
def join_without_timeout(report: Report) -> Iterator[Finding]:
    # a helper's join that tasks reach is reported on them (CSF104), not here again
    reached = {
        id(found.join.node)
        for facts in report.analysis.task_facts()
        for found in helper_joins(report.analysis, facts)
    }
    for facts in report.analysis.all_facts():
        if facts.is_task:
            continue  # inside a task the join itself is the problem (CSF101)
        for join in own_joins(facts):
            if id(join.node) in reached:
                continue
            if not isinstance(join.node, ast.Call):
                # ``~sig`` is ``apply_async().get()``: no timeout can be given to it
                yield report.finding(
                    "CSF901", join.node, detail=join_detail(join), call=call_text(join.node)
                )
                continue
            if join.value is None or join.method == "get_leaf":
                continue
            timed = any(k.arg in ("timeout", None) for k in join.node.keywords)  # None: **kw
            timed = timed or (join.method in _TIMEOUT_FIRST and bool(join.node.args))
            if not timed:
                yield report.finding(
                    "CSF901", join.node, detail=join_detail(join), call=call_text(join.node)
                )
