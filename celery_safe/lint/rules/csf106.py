"""CSF106: a task polling a Celery result in a loop (a join written by hand).

Detection lives here: an ``on_loop`` handler records each loop that reads a result's
``ready()``/``successful()``/``failed()``/``state``/``status`` and waits — the poll is
the ``while`` test itself, or the loop sleeps.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from ..findings import Finding
from ..interp.events import Loop, LoopEvent, Scope, Subscribers
from ..interp.values import Result, Value, holds_results
from ..registry import Report, rule

POLL_METHODS = frozenset({"ready", "successful", "failed"})
POLL_ATTRIBUTES = frozenset({"state", "status"})
SLEEPS = frozenset({"time.sleep", "gevent.sleep", "eventlet.sleep", "eventlet.greenthread.sleep"})


@dataclass(frozen=True)
class BusyWait:
    loop: Loop
    poll: ast.expr


EVENTS = Subscribers()


@EVENTS.on_loop
def record_busy_waits(scope: Scope, event: LoopEvent) -> None:
    loop = event.node
    test = loop.test if isinstance(loop, ast.While) else None
    in_test = _polls(scope, test) if test is not None else []
    in_body = [poll for stmt in loop.body for poll in _polls(scope, stmt)]
    if in_test or (in_body and _sleeps(scope, loop.body)):
        scope.record("CSF106", BusyWait(loop, (in_test or in_body)[0]))


def _polls(scope: Scope, root: ast.AST) -> list[ast.expr]:
    """Reads of a Celery result's completion in ``root`` (not in nested functions)."""
    nodes = list(_walk(root))
    # ``all(r.ready() for r in results)``: names a comprehension binds to each result
    each = {
        node.target.id
        for node in nodes
        if isinstance(node, ast.comprehension)
        and isinstance(node.target, ast.Name)
        and _holds_results(scope.value(node.iter))
    }
    found: list[ast.expr] = []
    for node in nodes:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if (
                node.func.attr in POLL_METHODS
                and not node.args
                and _is_result(scope, receiver, each)
            ):
                found.append(node)
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in POLL_ATTRIBUTES
            and isinstance(node.ctx, ast.Load)
            and _is_result(scope, node.value, each)
        ):
            found.append(node)
    return sorted(found, key=lambda n: (n.lineno, n.col_offset))


def _holds_results(value: Value | None) -> bool:
    return holds_results(value)


def _is_result(scope: Scope, receiver: ast.expr, each: set[str]) -> bool:
    if isinstance(receiver, ast.Name) and receiver.id in each:
        return True
    value = scope.value(receiver)
    return isinstance(value, Result)


def _sleeps(scope: Scope, body: list[ast.stmt]) -> bool:
    return any(
        isinstance(node, ast.Call) and scope.imports.qualify(node.func) in SLEEPS
        for stmt in body
        for node in _walk(stmt)
    )


def _walk(root: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk`` that does not enter nested functions, lambdas or classes."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
            ):
                stack.append(child)


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


@rule("CSF106", invalid=INVALID, valid=VALID, events=EVENTS, tasks_only=True)
def busy_wait_in_task(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.task_facts():
        for wait in facts.found.get("CSF106", ()):
            assert isinstance(wait, BusyWait)
            yield report.finding(
                "CSF106", wait.poll, function=facts.info, call=ast.unparse(wait.poll)
            )
