"""Pipeline runs, remembered so the web UI can show each one and draw its trace.

A run is recorded when its workflow is *sent* (so a page can show it while it runs)
and finished when its summary arrives. What ``celery_safe.workflows.trace`` needs is
the result graph Celery handed back: its ``as_tuple()`` is plain JSON (ids, parents,
group members), and ``result_from_tuple`` rebuilds it in the web process. The task
names are stored beside it because the registry's backend keeps no names
(``result_extended`` is off: it would also store each task's arguments).

The table lives on its own metadata, created on demand, so it is an additive change
that needs nothing from the bundle schema or its migrations.
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
    MetaData,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from registry.db import make_engine
from registry.redact import redact

if TYPE_CHECKING:
    from celery import Celery
    from celery.result import AsyncResult, ResultSet

    from celery_safe.workflows import Trace

__all__ = [
    "RUN_STATUSES",
    "create_table",
    "finish_run",
    "get_run",
    "latest_runs",
    "record_run",
    "run_trace",
    "runs_table",
    "task_names",
]

RUN_STATUSES = ("running", "finished", "failed")

_metadata = MetaData()

runs_table = Table(
    "pipeline_runs",
    _metadata,
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
)


def create_table(engine: Engine) -> None:
    """Create the runs table if it is missing (``api.create_app`` and the CLI call it)."""
    _metadata.create_all(engine, checkfirst=True)


def _engine(url_or_engine: str | Engine) -> Engine:
    """An engine given is used as is; a URL gets an engine and the table."""
    if not isinstance(url_or_engine, str):
        return url_or_engine
    engine = make_engine(url_or_engine)
    create_table(engine)
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
        return [("group", list(canvas.tasks)), *_units(canvas.body)]
    if kind == "celery.group":
        return [("group", list(canvas.tasks))]
    return [canvas]


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
    collections: list[str],
) -> str:
    """Remember ``canvas``, just sent as ``result``; returns the run's id (the result's)."""
    names = task_names(canvas, result)
    run_id = str(result.id)
    with _engine(url_or_engine).begin() as conn:
        conn.execute(insert(runs_table).values(
            id=run_id, started_at=_now(), status="running", collections=list(collections),
            result_graph=json.loads(json.dumps(result.as_tuple())), task_names=names,
        ))
    return run_id


def finish_run(
    url_or_engine: str | Engine, run_id: str, *, seconds: float,
    summary: dict[str, Any] | None = None, error: str | None = None,
) -> None:
    """Mark a run finished (with its summary) or failed (with a redacted error)."""
    with _engine(url_or_engine).begin() as conn:
        conn.execute(update(runs_table).where(runs_table.c.id == run_id).values(
            finished_at=_now(), seconds=seconds, summary=summary,
            status="failed" if error is not None else "finished",
            error=redact(error) if error is not None else None,
        ))


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
