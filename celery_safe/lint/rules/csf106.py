"""CSF106: a task polling a Celery result in a loop (a join written by hand).

Detection lives in :mod:`..waits` (shared with CSF104, which follows the same waits into
helpers): an ``on_loop`` handler records each loop that polls a result's ``ready()``,
``successful()``, ``failed()``, ``completed_count()``, ``state`` or ``status`` until it
is done — the poll is the ``while`` test itself, or the loop sleeps, or it leaves the
loop when the poll says so. Here: the waits in a task's own body on its own results.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ..findings import Finding
from ..interp.values import Param
from ..registry import Report, rule
from ..waits import WAIT_EVENTS, waits

INVALID = (
    """\
import time

from celery import Celery

app = Celery("scans")


@app.task
def scan(target):
    return target


@app.task
def osint(targets):
    job = scan.delay(targets[0])
    while not job.ready():
        time.sleep(5)
    return job.result
""",
    """\
import time

from celery import Celery
from celery.result import AsyncResult

app = Celery("scans")


@app.task
def follow(task_id):
    result = AsyncResult(task_id)
    while True:
        if result.state in ("SUCCESS", "FAILURE"):
            break
        time.sleep(1)
    return result.state
""",
)

VALID = (
    """\
from celery import Celery, chord

app = Celery("scans")


@app.task
def scan(target):
    return target


@app.task
def report(results):
    return len(results)


@app.task
def osint(targets):
    # the rest of the work runs when the scans are done, on no one's slot
    chord(scan.s(t) for t in targets)(report.s())
""",
    """\
import time

from celery import Celery
from celery.result import AsyncResult

app = Celery("scans")


@app.task(bind=True, max_retries=None)
def follow(self, task_id, queue):
    if not AsyncResult(task_id).ready():
        raise self.retry(countdown=5)  # gives the slot back
    while not queue.empty():  # not a Celery result
        time.sleep(1)
    return sum(1 for r in [AsyncResult(task_id)] if r.successful())
""",
)


@rule("CSF106", invalid=INVALID, valid=VALID, events=WAIT_EVENTS, tasks_only=True)
def busy_wait_in_task(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.task_facts():
        for wait in waits(facts.found):
            if isinstance(wait.value, Param):
                continue  # what a caller passes: followed from callers (CSF104)
            yield report.finding(
                "CSF106", wait.node, function=facts.info, call=ast.unparse(wait.node)
            )
