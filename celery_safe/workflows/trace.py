"""``trace(result)``: what a sent workflow did, read back from the result backend.

The result Celery hands back for a canvas is a graph: a chain's result links to its
parent's, a group's holds its members', a chord's body result has the header's group
result as parent. :func:`trace` walks that graph and reads each task's stored meta, so
a page or a command line can show every step's task, state, end time, retries and
error. The trace is the canvas model (:mod:`celery_safe.canvas`) with a
:class:`StepTrace` at each step, so it is drawn by the same code as a canvas.

What the backend keeps decides what a step shows: the task's name, worker and retries
need ``result_extended = True``; no backend keeps a start time (STARTED is a state,
stored without a date), so ``started`` is filled only when Celery provides it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import Celery
from celery.result import AsyncResult, ResultSet

from ..canvas.model import Chain, Group, Node, Step

__all__ = ["StepTrace", "Trace", "trace"]

READY = frozenset({"SUCCESS", "FAILURE", "REVOKED"})


@dataclass(frozen=True)
class StepTrace:
    """One task of a sent workflow, as its result backend knows it."""

    id: str
    task: str | None
    state: str
    finished: datetime | None = None
    started: datetime | None = None
    retries: int | None = None
    worker: str | None = None
    error: str | None = None
    #: ``(current, total)`` a running task last reported (``celery_safe.report_progress``)
    progress: tuple[float, float] | None = None

    @property
    def ready(self) -> bool:
        return self.state in READY

    @property
    def seconds(self) -> float | None:
        """How long it ran, when the backend kept both ends."""
        if self.started is None or self.finished is None:
            return None
        return (self.finished - self.started).total_seconds()


@dataclass(frozen=True)
class Trace:
    """A sent workflow's shape with each step's :class:`StepTrace` (its ``origin``)."""

    root: Node

    @property
    def steps(self) -> list[StepTrace]:
        """Every task, in workflow order."""
        return [step.origin for step in _steps(self.root)]

    @property
    def done(self) -> int:
        return sum(1 for step in self.steps if step.ready)

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def state(self) -> str:
        """FAILURE if any step failed, SUCCESS when all succeeded, else the run is going."""
        states = {step.state for step in self.steps}
        if "FAILURE" in states or "REVOKED" in states:
            return "FAILURE" if "FAILURE" in states else "REVOKED"
        if states == {"SUCCESS"}:
            return "SUCCESS"
        return "STARTED" if states - {"PENDING"} else "PENDING"


def trace(result: AsyncResult | ResultSet, app: Celery | None = None) -> Trace:
    """What ``result`` (returned by ``canvas.apply_async()``) and the steps before it did.

    sent = workflow.apply_async()
    print(trace(sent).done, "of", trace(sent).total)
    """
    return Trace(_Reader(app).node(result))


class _Reader:
    def __init__(self, app: Celery | None) -> None:
        self.app = app

    def node(self, result: AsyncResult | ResultSet) -> Node:
        if isinstance(result, ResultSet):  # GroupResult too
            return Group(members=[self.node(r) for r in result.results], origin=None)
        ancestry: list[AsyncResult | ResultSet] = []
        current: Any = result
        seen: set[str] = set()
        while current is not None and getattr(current, "id", None) not in seen:
            seen.add(current.id)
            ancestry.append(current)
            current = getattr(current, "parent", None) or self.stored_parent(current)
        ancestry.reverse()
        if len(ancestry) == 1:
            return self.step(result)
        steps = [self.node(r) if isinstance(r, ResultSet) else self.step(r) for r in ancestry]
        return Chain(steps=steps)

    def stored_parent(self, result: Any) -> AsyncResult | None:
        """A result rebuilt from its id has no ``.parent``: the backend keeps the id of the
        task that sent it (a chain's previous step) as ``parent_id``."""
        if not isinstance(result, AsyncResult):
            return None
        backend = result.backend if self.app is None else self.app.backend
        parent_id = (backend.get_task_meta(result.id) or {}).get("parent_id")
        if not parent_id:
            return None
        return AsyncResult(parent_id, app=self.app or result.app)

    def step(self, result: AsyncResult) -> Step:
        backend = result.backend if self.app is None else self.app.backend
        meta: dict[str, Any] = backend.get_task_meta(result.id) or {}
        state = str(meta.get("status") or result.state)
        name = meta.get("name") or getattr(result, "name", None)
        error = None
        if state == "FAILURE":
            exc = meta.get("result")
            error = f"{type(exc).__name__}: {exc}" if isinstance(exc, BaseException) else str(exc)
        progress = None
        reported = meta.get("result")
        if state == "PROGRESS" and isinstance(reported, dict):
            current, total = reported.get("current"), reported.get("total")
            if isinstance(current, (int, float)) and isinstance(total, (int, float)):
                progress = (float(current), float(total))
        info = StepTrace(
            id=result.id,
            task=str(name) if name else None,
            state=state,
            finished=_date(meta.get("date_done")),
            started=_date(meta.get("date_started")),
            retries=meta.get("retries"),
            worker=meta.get("worker"),
            error=error,
            progress=progress,
        )
        return Step(name=info.task or result.id, origin=info, args=(), kwargs={})


def _date(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _steps(node: Node | None) -> Iterator[Step]:
    if isinstance(node, Step):
        yield node
    elif isinstance(node, Chain):
        for step in node.steps:
            yield from _steps(step)
    elif isinstance(node, Group):
        for member in node.members:
            yield from _steps(member)
