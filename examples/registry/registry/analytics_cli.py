"""``python -m registry analytics``: send the task-growth workflow, wait, print the report.

The command is a client, like ``populate``: it sends the validated ``map_reduce`` and
waits for the reduce's result outside any task (or, with ``--in-process``, runs the same
workflow here through ``celery_safe.workflows.run_workflow``). Either way the reduce
task stores the report, which the web page and ``GET /analytics/task-growth`` show.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from registry.config import Settings

__all__ = ["format_report", "growth_slugs", "run_analytics", "run_growth"]


def growth_slugs(settings: Settings) -> list[str]:
    """The stored collections that have a repository (sorted by slug)."""
    from registry.db import create_schema, make_engine, session_scope
    from registry.models import Collection

    create_schema(make_engine(settings.db_url))
    with session_scope(settings.db_url) as session:
        return list(session.scalars(
            select(Collection.slug).where(Collection.git_url != "").order_by(Collection.slug)))


def run_growth(slugs: list[str], *, in_process: bool, timeout: float = 600.0) -> dict[str, Any]:
    """Run the workflow over ``slugs`` and return the merged report.

    With no collection the chord's header is empty: Celery before 5.7 never calls the
    body of such a chord, so that run is always in-process (the reduce with ``[]``).
    """
    from registry.pipeline import task_growth_workflow

    workflow = task_growth_workflow(slugs)
    if in_process or not slugs:
        from celery_safe.workflows import run_workflow

        report: dict[str, Any] = run_workflow(workflow).result
        return report
    sent: dict[str, Any] = workflow.apply_async().get(timeout=timeout)
    return sent


def format_report(report: dict[str, Any]) -> str:
    """Month by month: tasks added, removed, the running total, and a bar of the total."""
    months = report["months"]
    widest = max((row["total"] for row in months), default=0)
    lines = [f"{'month':<8} {'added':>6} {'removed':>8} {'total':>6}"]
    for row in months:
        bar = "#" * (round(40 * row["total"] / widest) if widest > 0 else 0)
        lines.append(f"{row['month']:<8} {row['added']:>6} {row['removed']:>8} "
                     f"{row['total']:>6}  {bar}")
    lines.append(f"{len(report['collections'])} collection(s): {report['added']} tasks added, "
                 f"{report['removed']} removed, {report['total']} now")
    lines.extend(f"  error: {error}" for error in report["errors"])
    return "\n".join(lines)


def run_analytics(
    settings: Settings, *, in_process: bool, workers: int, timeout: float, as_json: bool
) -> int:
    slugs = growth_slugs(settings)
    if workers and not in_process:
        from registry.workers import LocalWorkers

        with LocalWorkers(workers):
            report = run_growth(slugs, in_process=False, timeout=timeout)
    else:
        report = run_growth(slugs, in_process=in_process, timeout=timeout)
    if as_json:
        print(json.dumps(report, indent=2, sort_keys=True))
    else:
        print(format_report(report))
    return 1 if report["errors"] else 0
