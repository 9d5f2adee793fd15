# ruff: noqa
"""CSF103: allow_join_result() inside a task; joins inside the block are not CSF101."""

from celery import Celery
from celery.result import GroupResult, allow_join_result
from celery.result import allow_join_result as allow

app = Celery("eval")


@app.task
def add(x, y):
    return x + y


@app.task
def summarise(group_id):
    with allow_join_result():  # CSF103: 10
        values = GroupResult.restore(group_id).get()
    return sum(values)


@app.task(bind=True)
def aliased(self, x):
    with open("/dev/null") as sink, allow():  # CSF103: 37
        sink.write(str(add.delay(x, 1).get()))


def outside_a_task(group_id):
    with allow_join_result():
        return GroupResult.restore(group_id).get()


@app.task
def other_context_manager(lock):
    with lock:
        return 1


def allow_join_result_lookalike():
    return None


@app.task
def local_lookalike():
    from contextlib import nullcontext as allow_join_result

    with allow_join_result():
        return 1
