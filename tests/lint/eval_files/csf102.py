# ruff: noqa
"""CSF102: disable_sync_subtasks=False on a join inside a task."""

from celery import Celery, shared_task
from celery.result import AsyncResult

app = Celery("eval")


@app.task
def add(x, y):
    return x + y


@app.task
def tracked(x):
    return add.delay(x, 1).get(disable_sync_subtasks=False)  # CSF102: 32


@shared_task
def untracked_origin(result):
    # the keyword exists only on Celery results: reported even when the origin is unknown
    return result.join(timeout=5, disable_sync_subtasks=False)  # CSF102: 35


@app.task(bind=True)
def kept_default(self, task_id):
    return AsyncResult(task_id).get(disable_sync_subtasks=True)


def outside_a_task(task_id):
    return AsyncResult(task_id).get(disable_sync_subtasks=False)


@app.task
def other_keyword(mapping):
    return mapping.get("key", False)
