"""Busy-waits: a loop that polls a Celery result until it is done is a join written by
hand (CSF106 in a task; CSF104 where a task reaches it through helpers).

A loop waits on a result when it cannot end before the result is ready: its ``while``
test polls it (``while not r.ready()``, ``while r.state not in READY_STATES``,
``while rs.completed_count() < n``), or its body polls it and either sleeps between
polls or leaves the loop on the poll (``while True: if r.ready(): break``). A ``for``
over a finite list that reads each result once is not a wait (it ends whatever the
results are), nor is one ``if not r.ready(): raise self.retry()``.

What is polled must be a Celery result by data flow (``.delay()``, ``AsyncResult(id)``,
a group's result), or a parameter: a helper that polls what it is given waits for
whatever result a caller passes it (followed by :mod:`.joins`). A ``requests.Response``,
a thread, a future, a Redis key or a database row is none of these.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from .interp.events import Loop, LoopEvent, Scope, Subscribers
from .interp.values import Param, Result, Results, Value, element

__all__ = ["WAITS", "WAIT_EVENTS", "Wait", "busy_wait", "waits"]

#: key of the waits :data:`WAIT_EVENTS` records in ``FunctionFacts.found``
WAITS = "waits"
#: Methods of a result (or a ``ResultSet``/``GroupResult``) that tell whether it is done.
POLL_METHODS = frozenset({"ready", "successful", "failed", "completed_count", "waiting"})
#: Attributes that read its state without blocking.
POLL_ATTRIBUTES = frozenset({"state", "status"})
SLEEPS = frozenset(
    {"time.sleep", "gevent.sleep", "eventlet.sleep", "eventlet.greenthread.sleep"}
)


@dataclass(frozen=True)
class Wait:
    """A loop that waits for ``value`` by polling it at ``node`` (the first poll)."""

    loop: Loop
    node: ast.expr
    value: Result | Results | Param
    #: what a join finding calls it (``JoinDetail.join``)
    method: str = "busy-wait"


def busy_wait(scope: Scope, loop: Loop) -> Wait | None:
    """The wait ``loop`` is, if it polls a result (or a parameter) until it is done."""
    test = loop.test if isinstance(loop, ast.While) else None
    polls = _polls(scope, test) if test is not None else []
    if not polls:
        in_body = [poll for stmt in loop.body for poll in _polls(scope, stmt)]
        if in_body and (_sleeps(scope, loop.body) or _leaves_on_poll(loop, in_body)):
            polls = in_body
    if not polls:
        return None
    node, value = polls[0]
    return Wait(loop, node, value)


def record_wait(scope: Scope, event: LoopEvent) -> None:
    found = busy_wait(scope, event.node)
    if found is not None:
        scope.record(WAITS, found)


#: The busy-waits of each function (CSF106 in tasks; :mod:`.joins` follows them).
WAIT_EVENTS = Subscribers()
WAIT_EVENTS.on_loop(record_wait)


def waits(found: dict[str, list[object]]) -> list[Wait]:
    """The waits recorded in a function's facts (``FunctionFacts.found``)."""
    return [wait for wait in found.get(WAITS, ()) if isinstance(wait, Wait)]


Poll = tuple[ast.expr, "Result | Results | Param"]


def _polls(scope: Scope, root: ast.AST) -> list[Poll]:
    """Reads of a result's completion in ``root`` (not in nested functions), in order."""
    nodes = list(_walk(root))
    # ``all(r.ready() for r in results)``: names a comprehension binds to each result
    each: dict[str, Result | Results | Param] = {}
    for node in nodes:
        if isinstance(node, ast.comprehension) and isinstance(node.target, ast.Name):
            held = scope.value(node.iter)
            item = element(held) if held is not None else None
            if isinstance(item, (Result, Param)):
                each[node.target.id] = item
    found: list[Poll] = []
    for node in nodes:
        receiver: ast.expr | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in POLL_METHODS and not node.args:
                receiver = node.func.value
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in POLL_ATTRIBUTES
            and isinstance(node.ctx, ast.Load)
        ):
            receiver = node.value
        polled = _polled(scope, receiver, each) if receiver is not None else None
        if polled is not None:
            assert isinstance(node, ast.expr)
            found.append((node, polled))
    return sorted(found, key=lambda poll: (poll[0].lineno, poll[0].col_offset))


def _polled(
    scope: Scope, receiver: ast.expr, each: dict[str, Result | Results | Param]
) -> Result | Results | Param | None:
    if isinstance(receiver, ast.Name) and receiver.id in each:
        return each[receiver.id]
    value: Value | None = scope.value(receiver)
    if isinstance(value, (Result, Results)) and value.method == "apply":
        return None  # an eager result is done already: polling it waits for nobody
    if isinstance(value, (Result, Results, Param)):
        return value
    return None


def _sleeps(scope: Scope, body: list[ast.stmt]) -> bool:
    return any(
        isinstance(node, ast.Call) and scope.imports.qualify(node.func) in SLEEPS
        for stmt in body
        for node in _walk(stmt)
    )


def _leaves_on_poll(loop: Loop, polls: list[Poll]) -> bool:
    """A ``while`` loop that ends (``break``/``return``) when a poll says so, or one
    that only ends that way (``while True:``): it spins until the result is done."""
    if not isinstance(loop, ast.While):
        return False  # a ``for`` ends with its items, whatever the results are
    if isinstance(loop.test, ast.Constant) and loop.test.value:
        return True
    polled = {id(node) for node, _ in polls}
    for stmt in loop.body:
        for node in _walk(stmt):
            if (
                isinstance(node, ast.If)
                and any(id(n) in polled for n in _walk(node.test))
                and any(isinstance(n, (ast.Break, ast.Return)) for s in node.body for n in _walk(s))
            ):
                return True
    return False


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
