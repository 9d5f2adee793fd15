# ruff: noqa
"""CSF106: a task polling a Celery result in a loop instead of joining it."""

import queue
import threading
import time
from time import sleep

from celery import Celery, group
from celery.result import AsyncResult

app = Celery("eval")


@app.task
def scan(target):
    return target


@app.task
def waits_in_the_test(targets):
    job = group([scan.s(t) for t in targets]).apply_async()
    while not job.ready():  # CSF106: 15
        time.sleep(5)
    return job.get()  # CSF101: 12


@app.task
def polls_state(task_id):
    result = AsyncResult(task_id)
    while True:
        if result.state == "SUCCESS":  # CSF106: 12
            return result.result
        sleep(1)


@app.task
def polls_successful(ids):
    pending = [scan.delay(i) for i in ids]
    for _ in range(60):
        if all(r.successful() for r in pending):  # CSF106: 16
            break
        time.sleep(1)
    return len(pending)


@app.task
def spins(task_id):
    while AsyncResult(task_id).status != "SUCCESS":  # CSF106: 11
        pass


# look-alikes: no wait, or not a Celery result
@app.task(bind=True)
def retries_instead(self, task_id):
    if not AsyncResult(task_id).ready():
        raise self.retry(countdown=5)
    return AsyncResult(task_id).result


@app.task
def counts_once(ids):
    results = [scan.delay(i) for i in ids]
    return sum(1 for r in results if r.ready())


@app.task
def waits_for_a_thread(work):
    worker = threading.Thread(target=work)
    worker.start()
    while worker.is_alive():
        time.sleep(1)


@app.task
def drains_a_queue(q: queue.Queue):
    while not q.empty():
        q.get_nowait()
        time.sleep(0.1)


@app.task
def checks_a_dict(status):
    while status.get("state") != "done":
        time.sleep(1)


def outside_a_task(task_id):
    result = AsyncResult(task_id)
    while not result.ready():
        time.sleep(1)


@app.task
def spins_until_ready(target):
    job = scan.delay(target)
    while True:
        if job.ready():  # CSF106: 12
            break
    return job.result


@app.task
def counts_a_group(targets):
    job = group(scan.s(t) for t in targets).delay()
    while job.completed_count() < len(targets):  # CSF106: 11
        time.sleep(1)


@app.task
def waits_for_ready_states(task_id):
    from celery import states

    while AsyncResult(task_id).state not in states.READY_STATES:  # CSF106: 11
        time.sleep(1)


@app.task
def all_ready_in_the_test(targets):
    jobs = [scan.delay(t) for t in targets]
    while not all(j.ready() for j in jobs):  # CSF106: 19
        pass


# look-alikes: a loop that reads each result once, or an eager result
@app.task
def reads_each_once(targets):
    jobs = [scan.delay(t) for t in targets]
    done = []
    for job in jobs:
        if job.ready():
            done.append(job.result)
    return done


@app.task
def eager(target):
    job = scan.apply(args=(target,))
    while not job.ready():
        time.sleep(1)
    return job.result


@app.task(bind=True)
def polls_through_the_bound_task(self, task_id):
    result = self.AsyncResult(task_id)
    while not result.ready():  # CSF106: 15
        time.sleep(1)
