"""``trace(result)``: what a sent workflow did, read back from the result backend.

The result Celery hands back for a canvas is a graph: a chain's result links to its
parent's, a group's holds its members', a chord's body result has the header's group
result as parent. :func:`trace` walks that graph and reads each task's stored meta, so
a page or a command line can show every step's task, state, end time, retries and
error. The trace is the canvas model (:mod:`celery_safe.canvas`) with a
:class:`StepTrace` at each step, so it is drawn by the same code as a canvas.

A step that replaced itself (``Task.replace``, in an app given to
:func:`celery_safe.guard`) is followed into what it became: the step, shown
``REPLACED``, is followed by its replacement's tasks, each read from the backend too.

What the backend keeps decides what a step shows: the task's name, worker and retries
need ``result_extended = True``; no backend keeps a start time (STARTED is a state,
stored without a date), so ``started`` is filled only when Celery provides it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from celery import Celery
from celery.result import AsyncResult, ResultSet

from ..canvas.model import Chain, Group, Node, Step
from ..canvas.text import short_name
from ..replacements import ENDED_PREFIX, REPLACED, record_of
from ..replacements import shape as replacement_shape

__all__ = ["STATE_WORDS", "AttemptEnd", "GroupTrace", "StepTrace", "Trace", "task_names", "trace"]

READY = frozenset({"SUCCESS", "FAILURE", "REVOKED"})
#: Each state in the words a page shows a reader (Celery's own names are jargon there).
STATE_WORDS = {
    "PENDING": "waiting", "RECEIVED": "received", "STARTED": "running",
    "PROGRESS": "running", "RETRY": "retrying", "SUCCESS": "done", "FAILURE": "failed",
    "REVOKED": "revoked", REPLACED: "replaced",
}
#: How deep replacements of replacements are followed.
MAX_REPLACEMENTS = 8


@dataclass(frozen=True)
class AttemptEnd:
    """How a retried attempt ended (``SUCCESS`` or ``FAILURE``), which retry it was,
    when, and its error."""

    state: str
    attempt: int
    at: datetime | None = None
    error: str | None = None


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
    #: what the step replaced itself with, in words ("a chord of 3 inc tasks, then tsum")
    replaced_by: str | None = None
    #: when a step waiting to be retried is due again (recorded by the guard's app)
    next_retry: datetime | None = None
    #: a step shown RETRY whose later attempt ended (recorded by the guard's app): the
    #: late RETRY of the attempt before overwrote that end
    ended: AttemptEnd | None = None
    #: whether the backend keeps anything for this id (False: its PENDING is Celery's
    #: word for "no record", which a task waiting in a queue and an id never sent share)
    stored: bool = True

    @property
    def ready(self) -> bool:
        """Ended: a step followed into its replacement has (its id's own ``REPLACED``
        marker, without a record of what it became, has not)."""
        return self.state in READY or (self.state == REPLACED and self.replaced_by is not None)

    @property
    def state_word(self) -> str:
        """The state as a reader says it: "waiting", "running", "done", "replaced"..."""
        return STATE_WORDS.get(self.state, self.state.lower())

    @property
    def seconds(self) -> float | None:
        """How long it ran, when the backend kept both ends."""
        if self.started is None or self.finished is None:
            return None
        return (self.finished - self.started).total_seconds()


@dataclass(frozen=True)
class GroupTrace:
    """A sent group's id (a ``Group``'s ``origin`` in a trace): a chord's counter is kept
    under its header's."""

    id: str


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
        states = {"SUCCESS" if s.state == REPLACED and s.ready else s.state
                  for s in self.steps}
        if "FAILURE" in states or "REVOKED" in states:
            return "FAILURE" if "FAILURE" in states else "REVOKED"
        if states == {"SUCCESS"}:
            return "SUCCESS"
        return "STARTED" if states - {"PENDING"} else "PENDING"


def trace(
    result: AsyncResult | ResultSet, app: Celery | None = None, *,
    names: Mapping[str, str] | None = None,
) -> Trace:
    """What ``result`` (returned by ``canvas.apply_async()``) and the steps before it did.

    sent = workflow.apply_async()
    print(trace(sent).done, "of", trace(sent).total)

    ``names`` (task id -> task name, e.g. :func:`task_names` of the sent canvas) names
    the steps the backend keeps no name for (``result_extended`` off, or not run yet).
    """
    return Trace(_Reader(app, names or {}).node(result))


def task_names(canvas: Any) -> dict[str, str]:
    """Task id -> task name of every task in a *frozen* canvas (``canvas.freeze()``
    before ``apply_async``): what :func:`trace` and ``explain`` cannot read back from a
    backend that keeps no names."""
    found: dict[str, str] = {}

    def walk(shape: Any) -> None:
        if isinstance(shape, dict):
            if shape.get("id") and shape.get("task"):
                found[str(shape["id"])] = str(shape["task"])
            for value in shape.values():
                walk(value)
        elif isinstance(shape, list):
            for value in shape:
                walk(value)

    walk(replacement_shape(canvas))
    return found


class _Reader:
    def __init__(self, app: Celery | None, names: Mapping[str, str]) -> None:
        self.app = app
        self.names = names
        self.depth = 0
        # each id's meta and record are read once per trace
        self.metas: dict[str, dict[str, Any]] = {}
        self.records: dict[str, dict[str, Any]] = {}

    def meta(self, backend: Any, task_id: str) -> dict[str, Any]:
        if task_id not in self.metas:
            self.metas[task_id] = dict(backend.get_task_meta(task_id) or {})
        return self.metas[task_id]

    def record(self, backend: Any, task_id: str) -> dict[str, Any]:
        if task_id not in self.records:
            self.records[task_id] = record_of(backend, task_id)
        return self.records[task_id]

    def ended(self, backend: Any, task_id: str) -> AttemptEnd | None:
        """The guard's record of a retried attempt of ``task_id`` that ended."""
        found = self.record(backend, ENDED_PREFIX + task_id)
        attempt, state, error = found.get("attempt"), found.get("state"), found.get("error")
        if not isinstance(attempt, int) or state not in ("SUCCESS", "FAILURE"):
            return None
        return AttemptEnd(str(state), attempt, _date(found.get("at")),
                          str(error) if error else None)

    def node(self, result: AsyncResult | ResultSet) -> Node:
        if isinstance(result, ResultSet):  # GroupResult too
            group_id = getattr(result, "id", None)
            return Group(members=[self.node(r) for r in result.results],
                         origin=GroupTrace(str(group_id)) if group_id else None)
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
        if isinstance(self.record(backend, result.id).get("shape"), dict):
            return None  # its id's parent is now the replacement's part that sent its end
        parent_id = self.meta(backend, result.id).get("parent_id")
        if not parent_id:
            return None
        return AsyncResult(parent_id, app=self.app or result.app)

    def step(self, result: AsyncResult) -> Node:
        """The step's trace; a step that replaced itself, followed by its replacement."""
        backend = result.backend if self.app is None else self.app.backend
        found = self.record(backend, result.id)
        record = found if isinstance(found.get("shape"), dict) \
            and self.depth < MAX_REPLACEMENTS else None
        if record is None:
            return self.read(result, backend, record=found)
        self.depth += 1
        try:
            replacement = self.replacement(record["shape"], int(record.get("tail") or 0),
                                           result, backend)
        finally:
            self.depth -= 1
        retried = record.get("retries")
        info = StepTrace(id=result.id, task=str(record.get("task") or "") or None,
                         state=REPLACED, replaced_by=_describe(
                             _without_tail(record["shape"], int(record.get("tail") or 0))),
                         retries=retried if isinstance(retried, int) else None)
        return Chain(steps=[Step(name=info.task or result.id, origin=info, args=(), kwargs={}),
                            replacement])

    def replacement(self, shape: dict[str, Any], tail: int, replaced: AsyncResult,
                    backend: Any) -> Node:
        """The replacement's graph from its recorded shape; its last task has the replaced
        task's id, and ``tail`` chain steps at its end are already in the caller's graph."""
        return self.from_shape(_without_tail(shape, tail), replaced, backend)

    def from_shape(self, shape: dict[str, Any], replaced: AsyncResult, backend: Any) -> Node:
        if isinstance(shape.get("chain"), list):
            return Chain(steps=[self.from_shape(s, replaced, backend) for s in shape["chain"]])
        if isinstance(shape.get("group"), list):
            return Group(members=[self.from_shape(s, replaced, backend)
                                  for s in shape["group"]], origin=None)
        chord = shape.get("chord")
        if isinstance(chord, dict):
            group_id = chord.get("id")
            header = Group(members=[self.from_shape(s, replaced, backend)
                                    for s in chord.get("header") or []],
                           origin=GroupTrace(str(group_id)) if group_id else None)
            return Chain(steps=[header, self.from_shape(chord.get("body") or {}, replaced,
                                                        backend)])
        task_id = str(shape.get("id") or "")
        app = self.app or replaced.app
        if not task_id:
            return Step(name=str(shape.get("task")), origin=None, args=(), kwargs={})
        if task_id == replaced.id:  # the replacement's last task inherits the id
            node: Node = self.read(AsyncResult(task_id, app=app), backend, inherited=True)
        else:
            node = self.step(AsyncResult(task_id, app=app))
        return _named(node, str(shape.get("task") or ""))

    def read(self, result: AsyncResult, backend: Any, *, inherited: bool = False,
             record: dict[str, Any] | None = None) -> Step:
        meta = self.meta(backend, result.id)
        if inherited:  # the record is the replaced task's, not its replacement's end
            record = {}
        elif record is None:
            record = self.record(backend, result.id)
        state = str(meta.get("status") or result.state)
        if inherited and state == REPLACED:  # the replaced task's own marker on the id
            state = "PENDING"  # its replacement's last task, which has not ended
        name = meta.get("name") or self.names.get(result.id) or record.get("task")
        # ``result_extended`` stores the attempt's number (0 while its first retry waits);
        # the guard's record counts the retries sent: the larger is the truth
        counts = [n for n in (meta.get("retries"), record.get("retries")) if isinstance(n, int)]
        retries = max(counts) if counts else None
        error = None
        if state in ("FAILURE", "RETRY"):
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
            retries=retries,
            worker=meta.get("worker"),
            error=error,
            progress=progress,
            next_retry=_date(record.get("next_retry")) if state == "RETRY" else None,
            ended=self.ended(backend, result.id) if state == "RETRY" else None,
            stored=state != "PENDING" or bool(record) or any(
                meta.get(key) for key in ("date_done", "name", "parent_id", "worker")),
        )
        return Step(name=info.task or result.id, origin=info, args=(), kwargs={})


def _without_tail(shape: dict[str, Any], tail: int) -> dict[str, Any]:
    """``shape`` without its last ``tail`` chain steps (the replaced task's own chain,
    which Celery appended to the replacement: a chain's, or a chord body's)."""
    if tail <= 0:
        return shape
    if isinstance(shape.get("chain"), list):
        steps = list(shape["chain"])
        while tail and len(steps) > 1:
            last = steps[-1]
            if isinstance(last, dict) and isinstance(last.get("chain"), list) \
                    and len(last["chain"]) > 1:
                steps[-1] = _without_tail(last, tail)
                return {"chain": steps}
            steps.pop()
            tail -= 1
        if tail and steps:
            steps[-1] = _without_tail(steps[-1], tail)
        return steps[0] if len(steps) == 1 else {"chain": steps}
    if isinstance(shape.get("chord"), dict):
        chord = dict(shape["chord"])
        chord["body"] = _without_tail(chord.get("body") or {}, tail)
        return {"chord": chord}
    return shape


def _named(node: Node, name: str) -> Node:
    """Give a step the backend kept no name for the name its replacement record has."""
    if name and isinstance(node, Step) and isinstance(node.origin, StepTrace) \
            and node.origin.task is None:
        node.origin = replace(node.origin, task=name)
        node.name = name
    return node


def _describe(shape: dict[str, Any]) -> str:
    """A replacement's shape in words: "a chord of 3 inc tasks, then tsum"."""
    if isinstance(shape.get("chord"), dict):
        chord = shape["chord"]
        return f"a chord of {_members(chord.get('header') or [])}, " \
               f"then {_describe(chord.get('body') or {})}"
    if isinstance(shape.get("group"), list):
        return f"a group of {_members(shape['group'])}"
    if isinstance(shape.get("chain"), list):
        return "a chain: " + ", then ".join(_describe(s) for s in shape["chain"])
    return short_name(str(shape.get("task") or "a task"))


def _members(shapes: list[Any]) -> str:
    words = [_describe(s) if isinstance(s, dict) else "?" for s in shapes]
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    parts = [f"{n} {word} tasks" if n > 1 else word for word, n in counts.items()]
    return ", ".join(parts) if parts else "no task"


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
