"""CSF104: a join reached through a helper function that a task calls.

Detection: the join family's ``on_join``, ``on_loop`` (busy-waits, ``lint.waits``) and
``on_helper`` recorders (``lint.joins``), followed from each task's calls to the joins
and busy-waits they reach, in this module or another.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from ..findings import Finding
from ..interp.events import Join
from ..interp.index import FunctionInfo
from ..interp.values import Param
from ..joins import REACH_EVENTS, call_text, helper_joins, helper_name, join_detail
from ..noqa import ALL, suppressed_codes
from ..registry import Report, rule, span_of
from ..waits import Wait

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
    """\
import time

from celery import Celery, group

app = Celery("shop")


@app.task
def resize(image_id):
    return image_id


def run_all(signatures, timeout=600):
    job = group(signatures).apply_async()
    waited = 0
    while not job.ready() and waited < timeout:  # a join written by hand
        time.sleep(5)
        waited += 5
    return job.successful()


@app.task
def resize_all(image_ids):
    return run_all([resize.s(i) for i in image_ids])
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
    """\
import time

from celery import Celery, chord

app = Celery("shop")


@app.task
def resize(image_id):
    return image_id


@app.task
def report(sizes):
    return len(sizes)


def wait_for_export(job):
    while job.status == "running":  # a database row or an HTTP job, not a Celery result
        time.sleep(5)
        job.refresh_from_db()


@app.task
def resize_all(image_ids, export):
    wait_for_export(export)
    chord(resize.s(i) for i in image_ids)(report.s())  # report runs when all are done
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
            here = report.analysis.index
            names = [facts.info.label, *(helper_name(f, here) for f in reached.path)]
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
                call=_what(reached.join),
                line=reached.join.node.lineno,
            )


def _what(join: Join | Wait) -> str:
    """The join's source, or the poll of a busy-wait (``r.ready() polled in a loop``)."""
    text = call_text(join.node)
    return f"{text} polled in a loop" if isinstance(join, Wait) else text


def _silenced_at_the_join(helper: FunctionInfo, line: int) -> bool:
    """A ``# noqa`` (bare or naming CSF104) on the helper's join line silences what the
    join causes in every task that reaches it, in this module and others."""
    owner = helper.module
    codes = suppressed_codes(owner.line(line)) if owner is not None else None
    return codes is not None and (codes is ALL or "CSF104" in codes)
