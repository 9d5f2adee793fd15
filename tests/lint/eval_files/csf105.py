# ruff: noqa
"""CSF105: .apply() of another task inside a task."""

import pandas as pd
from celery import Celery, chain, shared_task

from proj.rules import ruleset
from proj.tasks import imported_task

app = Celery("eval")


@app.task
def price(cart):
    return 1


@app.task
def checkout(cart):
    total = price.apply(args=(cart,)).get()  # CSF105: 13
    eager = price.apply((cart,))  # CSF105: 13
    return total, eager.result


@shared_task
def via_import(x):
    # imported_task is used as a task elsewhere in this module (.delay below)
    return imported_task.apply(args=(x,))  # CSF105: 12


def schedule(x):
    return imported_task.delay(x)


@shared_task
def imported_non_task(x):
    # nothing in this module says ruleset is a Celery task
    return ruleset.apply(x)


@app.task
def lookalikes(frame, func):
    pd.DataFrame(frame).apply(func)
    frame.apply(func)
    func.apply()
    return price.delay(1)


def outside_a_task(cart):
    return price.apply(args=(cart,)).get()


@app.task
def eager_canvases(cart):
    sig = price.s(cart)
    first = sig.apply().get()  # CSF105: 13
    second = price.si(cart).apply()  # CSF105: 14
    both = chain(price.s(cart), price.s()).apply().get()  # CSF105: 12
    return first, second, both


@app.task
def not_celery_apply(frame, func, pool):
    # an unknown object's .apply() is not a task's eager run
    return frame.apply(func).get(disable_sync_subtasks=False), pool.apply(func)
