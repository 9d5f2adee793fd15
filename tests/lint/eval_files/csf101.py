# ruff: noqa
"""CSF101: a blocking join on a Celery result inside a task.

Positives first, then look-alikes that must stay silent.
"""

import contextvars
import multiprocessing
import queue
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.pool import ThreadPool

import celery
import requests
from celery import Celery, Task, chain, current_app, group, shared_task
from celery.result import AsyncResult, GroupResult, ResultSet
from django.core.cache import cache
from invoke import task
from prefect import task as prefect_task

import celery_safe
from celery_safe import task as safe_task

app = Celery("eval")
current = contextvars.ContextVar("current")


@app.task
def add(x, y):
    return x + y


@app.task(bind=True)
def direct(self, x):
    return add.delay(x, 1).get()  # CSF101: 12


@shared_task
def through_names(x):
    pending = add.apply_async((x, 1))
    again = pending
    return again.get(timeout=10)  # CSF101: 12


@celery.shared_task
def loops(ids):
    results = [add.delay(i, i) for i in ids]
    total = 0
    for result in results:
        total += result.get()  # CSF101: 18
    return total + sum(r.get() for r in results)  # CSF101: 24


@current_app.task
def containers(ids):
    by_id = {}
    for i in ids:
        by_id[i] = add.delay(i, i)
    later = []
    later.append(add.delay(1, 1))
    first, second = add.delay(1, 2), add.delay(3, 4)
    return by_id[ids[0]].get(), later[0].wait(), first.get(), second.get()  # CSF101: 12, CSF101: 33, CSF101: 50, CSF101: 63


@celery_safe.task(app)
def walrus_and_branches(flag):
    if flag:
        outcome = add.delay(1, 2)
    else:
        outcome = None
    if (r := add.delay(2, 3)) is not None:
        r.get()  # CSF101: 9
    return outcome.get()  # CSF101: 12


@safe_task
def result_kinds(task_id, group_id, ids):
    one = AsyncResult(task_id)
    two = app.AsyncResult(task_id)
    three = GroupResult.restore(group_id)
    four = ResultSet([add.delay(i, i) for i in ids])
    five = app.send_task("tasks.add", (1, 2))
    one.get()  # CSF101: 5
    two.wait()  # CSF101: 5
    three.join()  # CSF101: 5
    four.join_native()  # CSF101: 5
    list(five.collect())  # CSF101: 10
    one.parent.get()  # CSF101: 5
    return [c.get() for c in three.children]  # CSF101: 13


@app.task
def canvases(ids):
    flow = chain(add.s(1, 2), add.s(3))
    result = flow()
    job = group(add.s(i, i) for i in ids).apply_async()
    signature = add.s(1, 2)
    return result.get(), job.get(), signature.delay().get(), result.get_leaf(), list(job.iter_native())  # CSF101: 12, CSF101: 26, CSF101: 37, CSF101: 62, CSF101: 86


class Checkout(Task):
    def run(self, cart):
        return add.delay(cart, 1).get()  # CSF101: 16

    def on_success(self, retval, task_id, args, kwargs):
        AsyncResult(task_id).get()  # CSF101: 9

    def helper_method_not_a_hook(self, task_id):
        return AsyncResult(task_id).get()


class Stateful(Task):
    def run(self, cart):
        self.pending = add.delay(cart, 1)
        self.pending.get()  # CSF101: 9
        self.pending = None
        return self.pending


class CheckoutAgain(Checkout):
    def after_return(self, *args):
        add.delay(1, 2).get()  # CSF101: 9


def register(fn):
    return app.task(fn)


def registered_by_call(x):
    return add.delay(x, 2).get()  # CSF101: 12


registered = app.task(registered_by_call)


@app.task
def nested_scopes(x):
    def inner():
        return add.delay(x, 3).get()

    class Local:
        def method(self):
            return add.delay(x, 4).get()

    after_nested = add.delay(x, 5)
    return after_nested.get()  # CSF101: 12


# --- look-alikes: not Celery results, or not inside a Celery task ---------------


@app.task
def not_results(url, mapping, q, thread, proc, key):
    mapping.get("a")
    {"a": 1}.get("a")
    requests.get(url)
    cache.get(key)
    q.get()
    queue.Queue().get(timeout=1)
    current.get()
    ", ".join(["a", "b"])
    thread.join()
    threading.Thread(target=print).join()
    subprocess.Popen(["true"]).wait()
    proc.wait()
    results = {i: add.delay(i, i) for i in range(3)}
    results.get(1)
    return mapping


@app.task
def foreign_pools(items):
    with multiprocessing.Pool(2) as pool:
        pending = pool.apply_async(sum, (items,))
        pending.get()
    tp = ThreadPool(2)
    tp.apply_async(sum, (items,)).get()
    with ThreadPoolExecutor() as executor:
        executor.submit(sum, items).result()
    return items


class Crunch(Task):
    def run(self, items):
        # a process pool kept on the task: not typed, but it is handed a function
        self.pool.apply_async(crunch_one, (items,)).get()
        self.pool.apply_async(lambda: items).get()
        self.pool.apply_async(self.crunch, (items,)).get()  # a method, and a tuple of args
        self.pool.apply_async(make_worker(), (items,)).get()
        return self.pool.apply_async(len, (items,)).get()

    def crunch(self, items):
        return items


def make_worker():
    return len


def crunch_one(items):
    return items


def not_a_task(x):
    return add.delay(x, 1).get()


@task
def invoke_task(c):
    return add.delay(1, 2).get()


@prefect_task
def prefect_flow_step():
    return add.delay(1, 2).get()


@app.task
def reassigned(x):
    value = add.delay(x, 1)
    value = {"k": 1}
    return value.get("k")


# Project decorators that make tasks: an alias, a partial, a factory (no configuration)
from functools import partial as _partial

proj_task = shared_task
queued_task = _partial(shared_task, queue="slow")


def factory_task(*args, **kwargs):
    kwargs.setdefault("acks_late", True)
    return shared_task(*args, **kwargs)


@proj_task
def via_alias(x):
    return fetch.delay(x).get()  # CSF101: 12


@queued_task
def via_partial(x):
    return fetch.delay(x).get()  # CSF101: 12


@factory_task(queue="slow")
def via_factory(x):
    return fetch.delay(x).get()  # CSF101: 12


def not_a_factory(*args, **kwargs):
    return print(*args, **kwargs)


@not_a_factory
def plain(x):
    return fetch.delay(x).get()


class Jobs:
    @app.task
    def method_task(x):
        return fetch.delay(x).get()  # CSF101: 16

    def plain_method(self, x):
        return fetch.delay(x).get()


# A task called through a project decorator that sends it: the call returns a result
import functools as _functools


def dispatches(func):
    @_functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func.apply_async(args=args, kwargs=kwargs)

    return wrapper


def only_logs(func):
    @_functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper


@dispatches
@app.task
def sent_when_called(x):
    return x


@only_logs
@app.task
def run_when_called(x):
    return {"x": x}


@app.task
def waits_on_a_dispatched_call(x):
    run_when_called(x).get("x")
    return sent_when_called(x).get()  # CSF101: 12


# ``~sig`` is Celery's ``Signature.__invert__``: ``self.apply_async().get()``
@app.task
def inverts_a_signature(x):
    return ~add.s(x, 1)  # CSF101: 12


@app.task
def inverts_a_canvas(xs):
    flow = group(add.s(x, 1) for x in xs) | add.s(0)
    first = ~group(add.si(x, 1) for x in xs)  # CSF101: 13
    return first, ~flow  # CSF101: 19


@app.task
def inverts_an_int(mask):
    return ~mask & 0xFF  # an int's bitwise not: not a join


# results reached through ``zip``: only the position that holds them is a result
@app.task
def zipped_with_settings(settings):
    pending = group(add.s(s["x"], 1) for s in settings).delay()
    labels = [s.get("label") for s in settings]
    for setting, label, res in zip(settings, labels, pending.children):
        setting.get("timeout")  # a dict's get: not a join
        label.join(["a", "b"])  # a str's join: not a join
        res.get()  # CSF101: 9
    pairs = list(zip(settings, pending.results))
    return [r.get() for s, r in pairs if s.get("keep")]  # CSF101: 13


# an ignored result: ``AsyncResult.get`` returns None at once, before Celery's check
@app.task(ignore_result=True)
def fire_and_forget(x):
    return x


@app.task
def gets_ignored_results(x):
    fire_and_forget.delay(x).get()  # returns None at once: no wait, no error
    add.apply_async((x, 1), ignore_result=True).wait()
    fire_and_forget.apply_async((x,), ignore_result=False).get()  # CSF101: 5
    pending = [fire_and_forget.delay(i) for i in range(x)]
    return ResultSet(pending).join()  # CSF101: 12


# a bound task re-running itself eagerly: not CSF105's (another task), yet Celery's
# ``EagerResult.get`` raises in a worker like any join
@app.task(bind=True)
def reapplies_itself(self, x):
    if x > 3:
        return x
    return self.apply(args=(x + 1,)).get()  # CSF101: 12


@app.task
def not_bound(self, x):
    return self.apply().get()  # ``self`` is any argument here: unknown, not reported


# Inside a task body nothing decides a branch: its parameters are what its callers
# pass (a default is only what a call that leaves them out gets), settings are unknown.
from django.conf import settings


@app.task
def joins_when_asked(x, wait=False):
    result = add.delay(x, 1)
    if wait:
        return result.get()  # CSF101: 16
    return result.id


@app.task
def joins_when_configured(x):
    result = add.delay(x, 1)
    if settings.WAIT_FOR_RESULTS:
        return result.get()  # CSF101: 16
    return result.id
