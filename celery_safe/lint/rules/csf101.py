"""CSF101: a blocking join on a Celery result inside a task.

Detection: the join family's ``on_join`` recorder (``lint.joins``); each join a task
performs on a Celery result is reported (one inside ``with allow_join_result():`` or
passing ``disable_sync_subtasks=False`` gives way to CSF103 or CSF102 at the same call:
:mod:`..supersede`), unless it joins an eager ``.apply()`` result (CSF105's).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..interp.evaluate import bound_self
from ..interp.values import Result
from ..joins import JOIN_EVENTS, call_text, join_detail, own_joins
from ..registry import Report, rule

INVALID = (
    """\
from celery import Celery

app = Celery("shop")


@app.task
def price(item_id):
    return item_id * 100


@app.task
def total(ids):
    prices = [price.delay(i).get() for i in ids]
    return sum(prices)
""",
    """\
from celery import Celery, group

app = Celery("shop")


@app.task
def price(item_id):
    return item_id * 100


@app.task
def total(ids):
    # `~sig` is Celery's Signature.__invert__: apply_async().get()
    return sum(~group(price.s(i) for i in ids))
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
def total(ids):
    return sum(price.logic(i) for i in ids)
""",
    """\
from celery import Celery

app = Celery("shop")


@app.task
def settings_value(config, key):
    return config.get(key)  # a dict's get: not a join
""",
    """\
from celery import Celery

app = Celery("shop")


@app.task
def low_byte(mask):
    return ~mask & 0xFF  # an int's bitwise not, not a signature's: no join
""",
)


REWRITES_JOINS = True



@rule("CSF101", invalid=INVALID, valid=VALID, events=JOIN_EVENTS, rewrites_joins=REWRITES_JOINS,
      tasks_only=True)
def join_in_task(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.task_facts():
        for join in own_joins(facts):
            if (
                isinstance(join.value, Result)
                and join.value.method == "apply"
                and join.value.callee != bound_self(facts.info)  # `self.apply()`: not CSF105's
            ):
                continue  # an eager `.apply()` result: reported on the apply, as CSF105
            yield report.finding(
                "CSF101",
                join.node,
                function=facts.info,
                detail=join_detail(join),
                call=call_text(join.node),
            )
