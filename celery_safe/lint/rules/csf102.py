"""CSF102: ``disable_sync_subtasks=False`` on a join inside a task."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
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


@rule("CSF102", invalid=INVALID, valid=VALID, also=("CSF101",))
def sync_subtasks_enabled(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.task_facts():
        for call, keyword in facts.disable_sync:
            yield report.finding(
                "CSF102",
                keyword,
                function=facts.info,
                detail={"join_span": span_of(call)},
                call=call_text(call),
            )
