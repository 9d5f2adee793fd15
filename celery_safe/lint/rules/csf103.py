"""CSF103: ``with allow_join_result():`` inside a task.

Detection lives here: an ``on_allow_join`` handler records each block; the joins it
covers come from the join family's ``on_join`` recorder (``lint.joins``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import AllowJoinDetail, Finding
from ..interp.events import AllowJoinEvent, Scope, Subscribers
from ..joins import JOIN_EVENTS, own_joins
from ..registry import Report, rule, span_of

INVALID = (
    """\
from celery import Celery
from celery.result import GroupResult, allow_join_result

app = Celery("shop")


@app.task
def summarise(group_id):
    with allow_join_result():
        values = GroupResult.restore(group_id).get()
    return sum(values)
""",
)

VALID = (
    """\
from celery import Celery, chord

app = Celery("shop")


@app.task
def price(item_id):
    return item_id * 100


@app.task
def summarise(values):
    return sum(values)


def start(ids):
    return chord(price.s(i) for i in ids)(summarise.s())
""",
)


EVENTS = Subscribers.merged([JOIN_EVENTS])


@EVENTS.on_allow_join
def record_allow_join(scope: Scope, event: AllowJoinEvent) -> None:
    scope.record("CSF103", event.node)


NO_FIX = (
    "allow_join_result() hides joins from Celery: rewrite the joins inside, then "
    "remove the block by hand"
)


@rule("CSF103", invalid=INVALID, valid=VALID, events=EVENTS, no_fix=NO_FIX,
      tasks_only=True)
def allow_join_result_in_task(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.task_facts():
        joins = own_joins(facts)
        for call in facts.found.get("CSF103", ()):
            inside = tuple(span_of(j.node) for j in joins if j.allowed_by is call)
            detail = AllowJoinDetail(inside)
            yield report.finding("CSF103", call, function=facts.info, detail=detail)
