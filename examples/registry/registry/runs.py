"""Pipeline runs, remembered so the web UI and the admin API can show each one.

A run is recorded when its workflow is *sent* (the admin API records it just before
sending, from the frozen workflow, so its id is known and a failed send is recorded as
such) and finished when its outcome is known: the CLI finishes the runs it waits for,
and :func:`refresh_run` finishes any other run the first time a page or ``GET
/runs/{id}`` reads it ready. What ``celery_safe.workflows.trace`` needs is the result
graph Celery handed back: its ``as_tuple()`` is plain JSON (ids, parents, group
members), and ``result_from_tuple`` rebuilds it in the web process. The task names are
stored beside it because the registry's backend keeps no names (``result_extended`` is
off: it would also store each task's arguments).

The table is part of the registry's schema (``Base.metadata``), created and upgraded
by the Alembic revision ``0005_pipeline_runs``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from registry.db import create_schema, make_engine
from registry.models import Base
from registry.redact import redact

if TYPE_CHECKING:
    from celery import Celery
    from celery.result import AsyncResult, ResultSet

    from celery_safe.workflows import Explanation, StepTrace, Trace

__all__ = [
    "RUN_STATUSES",
    "RUN_TITLES",
    "ObservedRun",
    "finish_run",
    "free_request_key",
    "get_run",
    "latest_runs",
    "observe_run",
    "recent_runs",
    "record_run",
    "run_for_request",
    "run_trace",
    "runs_table",
    "task_names",
]

RUN_STATUSES = ("running", "finished", "failed")
#: A run's title by what started it (``action``); a page says what kind of run it is.
RUN_TITLES = {
    "populate": "Pipeline run", "sync-all": "Sync of every collection",
    "sync-collection": "Collection sync", "enhance": "Enhancement run",
    "schedule": "Scheduled run", "health": "Health check",
}
#: What the page and ``run --wait`` tell a reader to do when no worker is running.
START_A_WORKER = "start one with `python -m registry worker`"

runs_table = Table(
    "pipeline_runs",
    Base.metadata,
    Column("id", String(155), primary_key=True),  # the workflow's result id
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("status", String(20), nullable=False, default="running"),
    Column("collections", JSON, nullable=False, default=list),  # slugs the run syncs
    Column("result_graph", JSON, nullable=False),  # AsyncResult.as_tuple()
    Column("task_names", JSON, nullable=False, default=dict),  # result id -> task name
    Column("summary", JSON),  # tasks.summarize's dict, once finished
    Column("error", Text),
    Column("seconds", Float),
    # what started it: "populate" (the CLI), "sync-all", "sync-collection", "enhance",
    # "schedule" (the admin API)
    Column("action", String(300), nullable=False, server_default="populate"),
    # the admin API's Idempotency-Key: a POST sent again with it gets the same run
    Column("request_key", String(200)),
    Index("ix_pipeline_runs_request_key", "request_key", unique=True),
    Index("ix_pipeline_runs_started_at", "started_at"),
)


def _engine(url_or_engine: str | Engine) -> Engine:
    """An engine given is used as is; a URL gets an engine and the newest schema."""
    if not isinstance(url_or_engine, str):
        return url_or_engine
    engine = make_engine(url_or_engine)
    create_schema(engine)
    return engine


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _results(result: Any) -> Iterator[Any]:
    """Every result in the graph of ``result``: parents and group members."""
    seen: set[int] = set()
    todo = [result]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.append(getattr(current, "parent", None))
        todo.extend(getattr(current, "results", None) or [])


def _ancestry(result: Any) -> list[Any]:
    """``result`` and its parents, first sent first."""
    line = []
    while result is not None:
        line.append(result)
        result = getattr(result, "parent", None)
    return line[::-1]


def _units(canvas: Any) -> list[Any]:
    """The canvas as the line of results it yields: a chain's steps in order, a chord as
    its header group then its body, a group or a task as one unit."""
    kind = canvas.get("task")
    if kind == "celery.chain":
        return [unit for step in canvas.tasks for unit in _units(step)]
    if kind == "celery.chord":
        return [("group", _members(canvas.tasks)), *_units(canvas.body)]
    if kind == "celery.group":
        return [("group", _members(canvas.tasks))]
    return [canvas]


def _members(tasks: Any) -> list[Any]:
    """A header's tasks: freezing a chord (as sending does) turns its header list into a
    group, whose own ``tasks`` are the members."""
    if hasattr(tasks, "get") and tasks.get("task") == "celery.group":
        return list(tasks.tasks)
    return list(tasks)


def task_names(canvas: Any, result: Any) -> dict[str, str]:
    """Result id -> task name, by walking the sent canvas beside its result graph.

    A chain's results are its steps' (last one first, through ``parent``), a group's
    are its members'; where the two shapes differ the names are left out (the trace
    then shows ids), never guessed.
    """
    names: dict[str, str] = {}
    units, line = _units(canvas), _ancestry(result)
    if len(units) != len(line):
        return names
    for unit, unit_result in zip(units, line, strict=True):
        members = getattr(unit_result, "results", None)
        if isinstance(unit, tuple):
            if members is not None and len(members) == len(unit[1]):
                for member, member_result in zip(unit[1], members, strict=True):
                    names.update(task_names(member, member_result))
        elif members is None and getattr(unit_result, "id", None):
            names[str(unit_result.id)] = str(unit["task"])
    return names


def record_run(
    url_or_engine: str | Engine, canvas: Any, result: AsyncResult | ResultSet,
    collections: list[str], *, action: str = "populate", request_key: str | None = None,
) -> str:
    """Remember ``canvas``, sent (or frozen, about to be sent) as ``result``; returns the
    run's id (the result's).

    With ``request_key``, a second run under the same key is refused by the table's
    unique index (``sqlalchemy.exc.IntegrityError``): see :func:`run_for_request`.
    """
    names = task_names(canvas, result)
    run_id = str(result.id)
    with _engine(url_or_engine).begin() as conn:
        conn.execute(insert(runs_table).values(
            id=run_id, started_at=_now(), status="running", collections=list(collections),
            result_graph=json.loads(json.dumps(result.as_tuple())), task_names=names,
            action=action, request_key=request_key,
        ))
    return run_id


def run_for_request(url_or_engine: str | Engine, request_key: str) -> dict[str, Any] | None:
    """The run recorded under the admin API's ``Idempotency-Key``, or ``None``."""
    with _engine(url_or_engine).connect() as conn:
        row = conn.execute(
            select(runs_table).where(runs_table.c.request_key == request_key)).first()
    return _row(row) if row is not None else None


def free_request_key(url_or_engine: str | Engine, run_id: str) -> None:
    """Forget the ``Idempotency-Key`` of a run that was never sent: a retry with that key
    sends again (the run stays, ``failed``, saying why)."""
    with _engine(url_or_engine).begin() as conn:
        conn.execute(update(runs_table).where(runs_table.c.id == run_id)
                     .values(request_key=None))


def finish_run(
    url_or_engine: str | Engine, run_id: str, *, seconds: float | None,
    summary: Any = None, error: str | None = None, only_running: bool = False,
) -> bool:
    """Mark a run finished (with its summary) or failed (with a redacted error).

    ``only_running`` leaves a run already finished as it is (several readers may see
    the same run end); returns whether the row was updated.
    """
    where = [runs_table.c.id == run_id]
    if only_running:
        where.append(runs_table.c.status == "running")
    with _engine(url_or_engine).begin() as conn:
        done = conn.execute(update(runs_table).where(*where).values(
            finished_at=_now(), seconds=seconds, summary=summary,
            status="failed" if error is not None else "finished",
            error=redact(error) if error is not None else None,
        ))
    return bool(done.rowcount)


def _row(row: Any) -> dict[str, Any]:
    run = dict(row._mapping)
    for key in ("started_at", "finished_at"):
        value = run[key]
        if value is not None and value.tzinfo is None:  # SQLite: stored as UTC
            run[key] = value.replace(tzinfo=dt.timezone.utc)
    return run


def get_run(url_or_engine: str | Engine, run_id: str) -> dict[str, Any] | None:
    """One run as a dict of the table's columns, or ``None``."""
    with _engine(url_or_engine).connect() as conn:
        row = conn.execute(select(runs_table).where(runs_table.c.id == run_id)).first()
    return _row(row) if row is not None else None


def latest_runs(url_or_engine: str | Engine, limit: int = 10) -> list[dict[str, Any]]:
    """The most recent runs, newest first."""
    with _engine(url_or_engine).connect() as conn:
        rows = conn.execute(
            select(runs_table).order_by(runs_table.c.started_at.desc()).limit(limit)
        ).all()
    return [_row(row) for row in rows]


@dataclasses.dataclass(frozen=True)
class ObservedRun:
    """A run's row as it is now, and its trace (or why the trace could not be read)."""

    run: dict[str, Any]
    trace: Trace | None
    trace_error: str | None = None
    #: step id -> (parts done, parts) for a step that replaced itself with a chord
    #: (``registry.once``): the chord's progress while it runs
    parts: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)
    #: what ``celery_safe.workflows.explain`` says of the trace (None without a trace)
    explanation: Explanation | None = None

    @property
    def title(self) -> str:
        """"Collection sync", "Scheduled run"...: the run's kind, in words."""
        kind, _, target = str(self.run["action"]).partition(":")
        if kind == "schedule" and "health" in target:
            kind = "health"
        title = RUN_TITLES.get(kind, "Run")
        return f"{title} of {target}" if target and kind in ("sync-collection", "schedule") \
            else title

    @property
    def started_by(self) -> str:
        """Who or what started the run, in words."""
        kind, _, target = str(self.run["action"]).partition(":")
        if kind == "populate":
            return "the populate command"
        via = "an operator (admin API)" if self.run.get("request_key") \
            else "an operator (admin API or `python -m registry run`)"
        return f"{via}: {kind} {target}".rstrip()

    @property
    def duration(self) -> float | None:
        """Seconds the run took, or has been going for."""
        if self.run["seconds"] is not None:
            return float(self.run["seconds"])
        if self.run["status"] == "running":
            return (_now() - _utc(self.run["started_at"])).total_seconds()
        return None

    @property
    def errors(self) -> list[str]:
        """The errors the registry's own summary lists (a run can end with some)."""
        summary = self.run["summary"]
        found = summary.get("errors") if isinstance(summary, dict) else None
        return [str(error) for error in found] if isinstance(found, list) else []

    @property
    def headline(self) -> str:
        """The run's state in one line: "queued — no worker is running; start one
        with `python -m registry worker`", "running 5/12", "finished with 3 errors",
        "failed: ..."."""
        run, explained = self.run, self.explanation
        if run["status"] == "failed":
            return f"failed: {redact(str(run['error'] or 'the workflow failed'))}"
        if run["status"] == "finished":
            count = len(self.errors)
            status = self.run["summary"].get("status") \
                if isinstance(self.run["summary"], dict) else None
            if count:
                return f"finished with {count} error{'s' * (count != 1)}"
            if isinstance(status, str) and status not in ("ok", "healthy", "finished"):
                return f"finished: {status}"
            return "finished"
        if explained is None:
            return "running (its trace cannot be read)"
        if explained.state == "queued":
            if any(r.kind == "no-worker" for r in explained.reasons):
                return f"queued — no worker is running; {START_A_WORKER}"
            return "queued"
        if explained.state == "running":
            return f"running {explained.done}/{explained.total}"
        first = explained.reasons[0].message if explained.reasons else ""
        if any(r.kind == "no-worker" for r in explained.reasons):
            first = f"no worker is running; {START_A_WORKER}"
        return f"{explained.state}: {redact(first)}" if first else explained.state

    @property
    def reasons(self) -> list[str]:
        """Why the run is where it is, in sentences (redacted)."""
        if self.explanation is None:
            return []
        return [redact(str(reason)) for reason in self.explanation.reasons]

    def progress_of(self, step: StepTrace) -> tuple[float, float] | None:
        """What a step reported (``report_progress``), or its chord's parts done."""
        return step.progress or self.parts.get(step.id)

    def as_json(self) -> dict[str, Any]:
        """What ``GET /runs/{id}`` answers: state, progress (done of total), errors, trace."""
        run, traced = self.run, self.trace
        steps = traced.steps if traced is not None else []
        summary = run["summary"]
        errors = [run["error"]] if run["error"] else []
        if isinstance(summary, dict):
            errors += [str(error) for error in summary.get("errors") or []]
        errors += [f"{step.task or step.id}: {step.error}" for step in steps if step.error]
        return {
            "id": run["id"], "action": run["action"], "status": run["status"],
            "title": self.title, "headline": self.headline, "reasons": self.reasons,
            # Celery's state of the workflow; ``run_state`` is explain's, in a person's words
            "state": traced.state if traced is not None else None,
            "run_state": self.explanation.state if self.explanation is not None else None,
            "progress": None if traced is None else {"done": traced.done,
                                                     "total": traced.total},
            "started_at": run["started_at"].isoformat(),
            "finished_at": run["finished_at"].isoformat() if run["finished_at"] else None,
            "seconds": run["seconds"], "collections": run["collections"],
            "result": summary,
            "errors": [redact(error) for error in dict.fromkeys(errors)],
            "trace": [_step_json(step, self.progress_of(step)) for step in steps],
            "trace_error": self.trace_error,
        }


def _step_json(step: StepTrace, progress: tuple[float, float] | None) -> dict[str, Any]:
    return {
        "id": step.id, "task": step.task, "state": step.state, "state_word": step.state_word,
        "finished": step.finished.isoformat() if step.finished else None,
        "retries": step.retries, "error": redact(step.error) if step.error else None,
        "progress": None if progress is None else {"current": progress[0],
                                                   "total": progress[1]},
    }


def observe_run(url_or_engine: str | Engine, run: dict[str, Any], app: Celery) -> ObservedRun:
    """Read ``run``'s trace; a run still ``running`` whose workflow is over is finished
    here, once, with its result or its first error (a run sent by the admin API has no
    client waiting to finish it). A finished run keeps what was stored: nothing is read
    from it again but the trace, and nothing is ever sent."""
    try:
        traced = run_trace(run, app)
    except Exception as exc:  # the run is still shown; the reason the trace is missing too
        return ObservedRun(run, None, redact(f"{type(exc).__name__}: {exc}")[:300])
    if run["status"] != "running" or traced.state not in _OVER:
        return ObservedRun(run, traced, parts=_chord_parts(traced, app),
                           explanation=_explain(traced, app))
    finished = [step.finished for step in traced.steps if step.finished is not None]
    seconds = (max(map(_utc, finished)) - run["started_at"]).total_seconds() if finished \
        else None
    if traced.state == "SUCCESS":
        from celery.result import result_from_tuple

        value = result_from_tuple(run["result_graph"], app).result
        finish_run(url_or_engine, run["id"], seconds=seconds, only_running=True,
                   summary=json.loads(json.dumps(value, default=str)))
    else:
        failed = next((s for s in traced.steps if s.state != "SUCCESS" and s.error), None)
        error = (f"{failed.task or failed.id}: {failed.error}" if failed is not None
                 else f"the workflow ended {traced.state}")
        finish_run(url_or_engine, run["id"], seconds=seconds, error=error, only_running=True)
    return ObservedRun(get_run(url_or_engine, run["id"]) or run, traced,
                       explanation=_explain(traced, app))


def recent_runs(url_or_engine: str | Engine, app: Celery, limit: int = 10) -> list[ObservedRun]:
    """The latest runs, newest first; a run still going is observed (its trace read and
    explained, its end recorded when it is over), a finished one shown as stored."""
    engine = _engine(url_or_engine)
    return [observe_run(engine, run, app) if run["status"] == "running"
            else ObservedRun(run, None) for run in latest_runs(engine, limit)]


def _explain(traced: Trace, app: Celery) -> Explanation | None:
    """``explain`` of the trace read; the workers get half a second to answer."""
    from celery_safe.workflows import explain

    try:
        return explain(traced, app=app, timeout=0.5)
    except Exception:  # the page still shows the run and its trace
        return None


_OVER = frozenset({"SUCCESS", "FAILURE", "REVOKED"})


def _chord_parts(traced: Trace, app: Celery) -> dict[str, tuple[int, int]]:
    """(done, all) of the header tasks each ``REPLACED`` step's chord recorded."""
    from celery.states import READY_STATES

    from registry.once import REPLACED

    found: dict[str, tuple[int, int]] = {}
    for step in traced.steps:
        if step.state != REPLACED:
            continue
        note = app.backend.get_task_meta(step.id).get("result")
        parts = note.get("parts") if isinstance(note, dict) else None
        if isinstance(parts, list) and parts:
            done = sum(1 for part in parts
                       if app.backend.get_task_meta(str(part)).get("status") in READY_STATES)
            found[step.id] = (done, len(parts))
    return found


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)


def run_trace(run: dict[str, Any], app: Celery) -> Trace:
    """What the run's tasks did, read from ``app``'s result backend now."""
    from celery.result import result_from_tuple

    from celery_safe.workflows import trace

    result = result_from_tuple(run["result_graph"], app)  # lists unpack as tuples
    traced = trace(result, app=app)
    _name_steps(traced.root, run.get("task_names") or {})
    return traced


def _name_steps(node: Any, names: dict[str, str]) -> None:
    """Give the steps the backend kept no name for the name recorded at send time."""
    from celery_safe.canvas import Chain, Group, Step
    from celery_safe.workflows import StepTrace

    if isinstance(node, Step) and isinstance(node.origin, StepTrace):
        name = names.get(node.origin.id)
        if node.origin.task is None and name:
            node.origin = dataclasses.replace(node.origin, task=name)
            node.name = name
    elif isinstance(node, Chain):
        for step in node.steps:
            _name_steps(step, names)
    elif isinstance(node, Group):
        for member in node.members:
            _name_steps(member, names)
