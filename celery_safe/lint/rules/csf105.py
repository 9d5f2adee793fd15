"""CSF105: ``.apply()`` of another task inside a task."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
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


@rule("CSF105", invalid=INVALID, valid=VALID)
def apply_in_task(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.task_facts():
        for apply in facts.applies:
            if apply.task is not None and apply.task is facts.info:
                continue  # a task re-running itself eagerly is a different (odd) idea
            if apply.task is None and apply.imported:
                local = apply.callee.partition(".")[0]
                if local not in report.analysis.task_like_names:
                    continue  # why: an imported name with an .apply() is not proof of a task
            joined = [
                j
                for j in facts.joins
                if isinstance(j.value, Result) and j.value.origin is apply.node
            ]
            yield report.finding(
                "CSF105",
                apply.node,
                function=facts.info,
                detail={
                    "join": joined[0].method if joined else "",
                    "join_span": span_of(joined[0].node) if joined else None,
                    "origin": span_of(apply.node),
                    "origin_method": "apply",
                    "callee": apply.callee,
                    "via": joined[0].value.via if joined and joined[0].value else (),
                },
                callee=apply.callee,
                call=call_text(apply.node),
            )
