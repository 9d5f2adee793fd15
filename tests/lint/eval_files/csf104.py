# ruff: noqa
"""CSF104: a join reached through a helper that a task calls (call path in the message)."""

from celery import Celery, Task, shared_task
from celery.result import AsyncResult
from typing import Any

app = Celery("eval")


@app.task
def fetch(i):
    return i


def fetch_all(ids):
    return [fetch.delay(i).get() for i in ids]


def outer(ids):
    return fetch_all(ids)


def wait_all(results):
    return [r.get() for r in results]


def wait_one(result, timeout=10):
    return result.wait(timeout=timeout)


def pass_along(result):
    return wait_one(result)


def start(i):
    return fetch.delay(i)


def only_starts(i):
    return start(i).id


@app.task
def refresh(ids):
    first = fetch_all(ids)  # CSF104: 13
    second = outer(ids)  # CSF104: 14
    pending = [fetch.delay(i) for i in ids]
    third = wait_all(pending)  # CSF104: 13
    fourth = pass_along(result=fetch.delay(1))  # CSF104: 14
    only_starts(1)
    wait_one(ids)
    return first, second, third, fourth


@shared_task
def nested_helper(task_id):
    def inner():
        return AsyncResult(task_id).get()

    return inner()  # CSF104: 12


class Report(Task):
    def run(self, task_id):
        return self.collect(task_id)  # CSF104: 16

    def collect(self, task_id):
        return AsyncResult(task_id).get()


def recursive(n):
    return recursive(n - 1) if n else 0


@app.task
def calls_recursion(n):
    recursive(n)
    return fetch(n)


def view(ids):
    # not a task: joining here is fine (a web request may wait)
    return fetch_all(ids)


# A dispatch helper joining an eager result on one branch: an EagerResult never waits
# for a worker, so no task calling it can deadlock through it.
def dispatch(sig, *, inline=False):
    if not inline:
        return sig.apply_async()
    return sig.apply().get(disable_sync_subtasks=False)


@app.task
def notify(uid):
    dispatch(fetch.si(uid))
    return dispatch(fetch.si(uid), inline=True)


# A noqa on the helper's join line silences what it causes in every caller.
def reviewed_wait(ids):
    return [fetch.delay(i).get() for i in ids]  # noqa: CSF104 (runs on a dedicated queue)


@app.task
def uses_reviewed(ids):
    return reviewed_wait(ids)


# A join inside a method of another object (a class of this module)
class Poller:
    def __init__(self, timeout):
        self.timeout = timeout

    def wait(self, result):
        return result.get(timeout=self.timeout)

    def describe(self, result):
        return result.id


@app.task
def waits_through_an_object(i):
    poller = Poller(10)
    poller.describe(fetch.delay(i))
    return Poller(5).wait(fetch.delay(i))  # CSF104: 12


@app.task
def uses_an_object_that_never_joins(i):
    return Poller(5).describe(fetch.delay(i))


# An object another method returns, possibly in a tuple: its class's methods are followed
class Run:
    objects: Any = None

    def submit(self, i) -> "tuple[AsyncResult, Run]":
        return fetch.delay(i), self

    def submit_elsewhere(self, i) -> tuple[AsyncResult, Run]:
        return pool_submit(i)  # unknown here: the annotation says what it is

    def describe(self, i):
        return {"id": i}, self

    def child(self) -> Run | None:
        return None

    def wait_for(self, result: AsyncResult):
        return result.get(timeout=5)


class Other:
    def wait_for(self, result):
        return result.id  # same name, never joins


def make_other(i) -> tuple[AsyncResult, Other]:
    return pool_submit(i)


def make_either(i) -> tuple[AsyncResult, Run | Other]:
    return pool_submit(i)


@app.task
def submits_then_waits(i):
    result, run = Run().submit(i)
    run.wait_for(result)  # CSF104: 5
    again, later = Run().submit_elsewhere(i)
    later.wait_for(again)  # CSF104: 5
    pair = Run().submit(i)
    pair[1].wait_for(pair[0])  # CSF104: 5
    Run().child().wait_for(fetch.delay(i))  # CSF104: 5


@app.task
def waits_on_a_model_object(i):
    Run.objects.get(pk=i).wait_for(fetch.delay(i))  # CSF104: 5
    run, created = Run.objects.filter(pk=i).get_or_create(pk=i)
    run.wait_for(fetch.delay(i))  # CSF104: 5


@app.task
def look_alikes_of_objects(i):
    meta, run = Run().describe(i)
    meta.get("id")  # a dict's get
    result, other = make_other(i)
    other.wait_for(result)  # Other.wait_for never joins
    either_result, either = make_either(i)
    either.wait_for(either_result)  # Run or Other: which one is unknown
    first, second = Run().submit(i)[::-1]
    first.wait_for(second)  # a slice: the positions are unknown
    return meta


# functions a task defines and hands out run as part of the task (issue 21 item 2):
# passed as a callback, stored and called later, or run by a pool
from concurrent.futures import ThreadPoolExecutor


class Downloader:
    def __init__(self, on_done=None):
        self.on_done = on_done
        self.hooks = []

    def add_hook(self, hook):
        self.hooks.append(hook)


@app.task
def hands_out_a_callback(ids):
    def finished(i):
        return fetch.delay(i).get()

    Downloader(on_done=finished)  # CSF104: 5
    Downloader().add_hook(finished)  # CSF104: 5
    handlers = {"done": finished}  # CSF104: 25
    with ThreadPoolExecutor() as pool:
        return list(pool.map(finished, ids))  # CSF104: 21


@app.task
def defines_but_never_runs(ids):
    def unused(i):
        return fetch.delay(i).get()

    return len(ids)  # fine: `unused` is never called, passed or stored


@app.task
def hands_out_a_harmless_callback(ids):
    def key(i):
        return -i

    return sorted(ids, key=key)  # fine: the function it hands out does not join


# objects made when the worker starts (issue 21 item 3): a module global assigned in a
# signal handler, and a callable an object keeps in an attribute set in __init__
from celery.signals import worker_process_init


class Poller:
    def wait_for(self, result):
        return result.get()


class Client:
    def __init__(self):
        self.send = self._send_and_wait

    def _send_and_wait(self, i):
        return fetch.delay(i).get()

    def run(self, i):
        return self.send(i)


POLLER = None
CLIENT = None


@worker_process_init.connect
def make_clients(**kwargs):
    global POLLER, CLIENT
    POLLER = Poller()
    CLIENT = Client()


@app.task
def uses_the_worker_poller(i):
    return POLLER.wait_for(fetch.delay(i))  # CSF104: 12


@app.task
def uses_the_worker_client(i):
    return CLIENT.run(i)  # CSF104: 12


@app.task
def uses_a_client_of_its_own(i):
    return Client().run(i)  # CSF104: 12


@app.task
def collects_later(ids):
    pending = [fetch.delay(i) for i in ids]

    def collect():
        return [p.get() for p in pending]  # the task's own results, joined by a closure

    return Downloader(on_done=collect)  # CSF104: 12


# a task-runner object reached through another object's attribute (set in __init__), or
# handed to a helper that calls its methods
class Runner:
    def run(self, i):
        return fetch.delay(i).get()

    def send(self, i):
        return fetch.delay(i).id


class Service:
    def __init__(self):
        self.runner = Runner()

    def go(self, i):
        return self.runner.run(i)

    def start(self, i):
        return self.runner.send(i)


def run_with(runner, i):
    return runner.run(i)


def run_later(runner, i):
    return run_with(runner, i)


def send_with(runner, i):
    return runner.send(i)


@app.task
def through_service(i):
    return Service().go(i)  # CSF104: 12


@app.task
def through_helper(i):
    return run_with(Runner(), i)  # CSF104: 12


@app.task
def through_two_helpers(i):
    return run_later(Runner(), i)  # CSF104: 12


# fine: the methods reached only send
@app.task
def service_sends(i):
    return Service().start(i)


@app.task
def helper_sends(i):
    return send_with(Runner(), i)


# Busy-waits in helpers: a loop polling a result until it is done blocks like .get()
import threading
import time
from celery import group, states
from celery.result import GroupResult


def run_in_parallel(signatures, timeout, step):
    job = group(signatures).apply_async()  # the helper starts what it waits for
    waited = 0
    while not job.ready():
        time.sleep(step)
        waited += step
        if waited > timeout:
            break
    return job.successful()


def wait_until_done(result):
    while result.state not in states.READY_STATES:
        time.sleep(1)
    return result.result


def spin_until_ready(result):
    while True:
        if result.ready():
            break


def wait_for_all(results):
    while not all(r.ready() for r in results):
        time.sleep(1)


def wait_for_group(group_id):
    restored = GroupResult.restore(group_id)
    while restored.completed_count() < len(restored):
        time.sleep(1)


def wait_for_id(task_id):
    while AsyncResult(task_id).status == "PENDING":
        time.sleep(1)


class Waiter:
    def until_ready(self, result):
        return wait_until_done(result)


@app.task
def busy_waits_through_helpers(ids):
    run_in_parallel([fetch.s(i) for i in ids], 700, 10)  # CSF104: 5
    wait_until_done(fetch.delay(1))  # CSF104: 5
    spin_until_ready(fetch.delay(1))  # CSF104: 5
    wait_for_all([fetch.delay(i) for i in ids])  # CSF104: 5
    wait_for_group(ids[0])  # CSF104: 5
    wait_for_id(ids[0])  # CSF104: 5
    Waiter().until_ready(fetch.delay(1))  # CSF104: 5


# look-alikes: loops on things that are not Celery results, or that do not wait
def wait_for_thread(worker):
    while worker.is_alive():
        time.sleep(1)


def wait_for_future(future):
    while not future.done():
        time.sleep(1)


def wait_for_row(row):
    while row.status == "running":  # a database row (or an HTTP job): not a result
        time.sleep(5)
        row.refresh_from_db()


def wait_for_key(cache, key):
    while cache.get(key) is None:
        time.sleep(1)


def count_ready(results):
    return sum(1 for r in results if r.ready())


def first_failed(results):
    for r in results:
        if r.failed():
            return r
    return None


@app.task
def polls_no_result(ids, row, cache):
    worker = threading.Thread(target=print)
    worker.start()
    wait_for_thread(worker)
    wait_for_row(row)
    wait_for_key(cache, "k")
    pending = [fetch.delay(i) for i in ids]
    count_ready(pending)
    first_failed(pending)
    wait_until_done(row)


# A function handed to a call that also passes results runs on them, in the task
from concurrent.futures import ThreadPoolExecutor


def wait_one_of(result):
    while not result.ready():
        time.sleep(1)


def describe_one(result):
    return result.id


@app.task
def hands_out_a_waiter(ids):
    pending = [fetch.delay(i) for i in ids]
    with ThreadPoolExecutor() as pool:
        list(pool.map(wait_one_of, pending))  # CSF104: 14
        list(pool.map(describe_one, pending))
    watcher = threading.Thread(target=wait_one_of, args=(pending[0],))  # CSF104: 15
    watcher.start()
    threading.Thread(target=wait_one_of, args=(ids,)).start()


# a task class whose run is inherited and forwards to the class's own method: the join
# in a method that one calls runs inside the task (reported at the base's call)
class ForwardingBase(Task):
    def run(self, *args, **kwargs):
        return self.run_impl(*args, **kwargs)  # CSF104: 16


class Forwarding(ForwardingBase):
    name = "eval.forwarding"

    def run_impl(self, x):
        return self.fetch_one(x)

    def fetch_one(self, x):
        return fetch.delay(x).get()


def run_inline(x):
    return ~fetch.s(x)  # ``Signature.__invert__`` is ``apply_async().get()``


@app.task
def inverts_through_a_helper(x):
    return run_inline(x)  # CSF104: 12


class Batch:
    """Results kept on the object by one method and joined by another."""

    def __init__(self):
        self.pending = []
        self.names = {}

    def start(self, ids):
        for i in ids:
            self.pending.append(fetch.delay(i))
            self.names.update({i: str(i)})

    def finish(self):
        labels = [self.names.get(i) for i in self.names]  # a dict's get: not a join
        return labels, [r.get() for r in self.pending]


@app.task
def runs_a_batch(ids):
    batch = Batch()
    batch.start(ids)
    return batch.finish()  # CSF104: 12


# Branches a call path never takes: a helper's parameters hold the call's constant
# arguments, or their defaults when it leaves them out (Python's binding).
from django.conf import settings


def collect(ids, wait=False, mode="async"):
    res = group(fetch.s(i) for i in ids).apply_async()
    if wait:
        return res.get()
    if mode == "sync" and not wait:
        return res.join()
    return res.id


def collect_unless_quick(ids, quick=True):
    res = group(fetch.s(i) for i in ids).apply_async()
    if quick:
        return res.id  # returns early: what follows runs only if not quick
    return res.get()


def collect_through(ids, wait=False):
    return collect(ids, wait=wait)  # ``wait`` is this path's constant, passed on


def collect_reassigned(ids, wait=False):
    wait = wait or len(ids) > 10  # reassigned: no longer what the call gave it
    res = group(fetch.s(i) for i in ids).apply_async()
    return res.get() if wait else res.id


@app.task
def refresh(ids):
    return collect(ids)  # wait is False, mode "async": no join on this path


@app.task
def refresh_now(ids):
    return collect(ids, wait=True)  # CSF104: 12


@app.task
def refresh_sync(ids):
    return collect(ids, False, "sync")  # CSF104: 12


@app.task
def refresh_quickly(ids):
    return collect_unless_quick(ids)


@app.task
def refresh_slowly(ids):
    return collect_unless_quick(ids, quick=False)  # CSF104: 12


@app.task
def refresh_through(ids):
    return collect_through(ids)


@app.task
def refresh_through_now(ids):
    return collect_through(ids, True)  # CSF104: 12


@app.task
def refresh_as_asked(ids, wait=False):
    # a task's own parameter is not a constant: its callers pass anything
    return collect(ids, wait)  # CSF104: 12


@app.task
def refresh_as_configured(ids):
    # a setting is unknown
    return collect(ids, wait=settings.WAIT)  # CSF104: 12


@app.task
def refresh_reassigned(ids):
    return collect_reassigned(ids)  # CSF104: 12


@app.task
def refresh_spread(ids, options):
    # ``**options`` may set any parameter
    return collect(ids, **options)  # CSF104: 12


class Refresher:
    def run(self, wait=True):
        res = group(fetch.s(1)).apply_async()
        if wait:
            return res.get()
        return res.id


def refresh_with(refresher, wait=False):
    return refresher.run()  # Refresher.run's own default: wait is True


@app.task
def refresh_by_object():
    # the call's arguments are refresh_with's, not those of the method it runs
    return refresh_with(Refresher())  # CSF104: 12
