"""Task growth per month across all collections: one history walk per collection, merged.

The fan-out is a ``map_reduce`` (see :func:`registry.pipeline.task_growth_workflow`):
:func:`collection_growth` walks one collection's git history (the map), and
:func:`merge_growth` adds the months up (the reduce), which the reduce task stores
with :func:`save_report` for the page and the API to read. Both halves are plain
functions of their inputs, so a fixed repository always gives the same report, on
a worker or in-process.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import traceback
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import history
from registry.gitsync import sync_collection
from registry.models import Collection, TaskGrowthReport, TaskGrowthState
from registry.redact import redact
from registry.sources import CollectionSpec

__all__ = [
    "KEEP_REPORTS",
    "MAX_MONTHS",
    "collection_growth",
    "latest_report",
    "merge_growth",
    "month_range",
    "save_report",
]

logger = logging.getLogger(__name__)

#: Reports kept in ``task_growth_reports`` (the newest); older ones are deleted.
KEEP_REPORTS = 20
#: The most month rows a report holds (the newest): 50 years. Months come from dates
#: :func:`registry.history.commit_date` believes (git's first commit to now), so this
#: only bounds a report built elsewhere.
MAX_MONTHS = 600
_MONTH_RE = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


def _failed(slug: str, message: str) -> dict[str, Any]:
    return {"collection": slug, "commit": None, "commits": 0, "unreadable": 0, "months": {},
            "error": message}


def collection_growth(
    session: Session, slug: str, workdir: Path, *, budget: history.WalkBudget | None = None
) -> dict[str, Any]:
    """One collection's tasks added/removed per month, at its stored commit.

    The history is read from the collection's checkout when it holds the commit the
    registry stored at the last sync; otherwise the collection is cloned or fetched
    first (``gitsync``). The walk starts where the collection's last one ended
    (``task_growth_states``), when the history continues it, and stops past ``budget``
    (:class:`registry.history.WalkBudget`'s defaults): then how far it got is stored, so
    the next run continues from there. A failure, an exceeded budget included, is
    returned in ``error``, never raised, so one collection cannot stop the others' report.
    """
    row = session.scalar(select(Collection).where(Collection.slug == slug))
    if row is None:
        return _failed(slug, f"collection {slug!r} is not stored (sync it first)")
    spec = CollectionSpec(name=row.name, slug=row.slug, git_url=row.git_url,
                          git_ref=row.git_ref, owner=row.owner, owner_email=row.owner_email,
                          description=row.description)
    stored = row.last_commit
    saved = session.get(TaskGrowthState, slug)
    since = history.GrowthState.from_json(saved.state) if saved is not None else None
    session.commit()  # git runs outside any transaction (SQLite's write lock)
    try:
        checkout = Path(workdir) / slug
        if stored and history.has_commit(checkout, stored):
            commit = stored
        else:
            synced = sync_collection(spec, Path(workdir))
            checkout, commit = synced.path, synced.commit
        growth = history.task_growth(checkout, commit, budget=budget, since=since)
    except history.WalkBudgetExceeded as exc:  # the next run continues where this one got
        if exc.state is not None:
            _save_state(session, slug, exc.state)
        return _failed(slug, redact(f"WalkBudgetExceeded: {exc}")[:500])
    except Exception as exc:  # reported in the merged result, as a sync failure is
        logger.error("task growth of %r failed:\n%s", slug,
                     redact("".join(traceback.format_exception(exc))))
        lines = str(exc).strip().splitlines()
        return _failed(slug, redact(f"{type(exc).__name__}: {lines[0] if lines else ''}")[:500])
    if growth.state is not None:
        _save_state(session, slug, growth.state)
    return {"collection": slug, **growth.as_dict(), "error": None}


def _save_state(session: Session, slug: str, state: history.GrowthState) -> None:
    """Remember where this walk ended (one row per collection, replaced)."""
    saved = session.get(TaskGrowthState, slug)
    if saved is None:
        session.add(TaskGrowthState(slug=slug, commit=state.commit, state=state.as_json()))
    else:
        saved.commit, saved.state = state.commit, state.as_json()
    try:
        session.commit()
    except IntegrityError:  # why: a walk of the same collection saved first; either will do
        session.rollback()


def month_range(first: str, last: str) -> list[str]:
    """Every ``YYYY-MM`` from ``first`` to ``last``, both included: at most the newest
    :data:`MAX_MONTHS`."""
    def index(month: str) -> int:
        year, number = map(int, month.split("-"))
        return year * 12 + number - 1

    end = index(last)
    return [f"{at // 12:04d}-{at % 12 + 1:02d}"
            for at in range(max(index(first), end - MAX_MONTHS + 1), end + 1)]


def _believed(month: str, latest: str) -> bool:
    """A well-formed ``YYYY-MM`` from git's first commit's month to ``latest``."""
    return bool(_MONTH_RE.fullmatch(month)) and history.month_of(history.EARLIEST) <= month \
        <= latest


def merge_growth(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The collections' months added up, with a running total, every month in between.

    ``months`` is ``[{"month", "added", "removed", "total"}]`` oldest first (``total``:
    tasks at the end of that month); ``collections`` is sorted by slug.
    """
    added: dict[str, int] = {}
    removed: dict[str, int] = {}
    collections = []
    dropped: list[str] = []
    latest = history.month_of(dt.datetime.now(dt.timezone.utc) + history.FUTURE_SLACK)
    for report in sorted(reports, key=lambda r: str(r["collection"])):
        given = report.get("months") or {}
        months = {month: counts for month, counts in given.items()
                  if _believed(month, latest)}
        if len(months) < len(given):
            outside = sorted(set(given) - set(months))
            shown = ", ".join(outside[:5]) + (", ..." if len(outside) > 5 else "")
            dropped.append(f"{report['collection']}: {len(outside)} month(s) outside "
                           f"{history.month_of(history.EARLIEST)}..now dropped: {shown}")
        for month, counts in months.items():
            added[month] = added.get(month, 0) + int(counts["added"])
            removed[month] = removed.get(month, 0) + int(counts["removed"])
        collections.append({
            "collection": report["collection"], "commit": report.get("commit"),
            "commits": int(report.get("commits") or 0),
            "unreadable": int(report.get("unreadable") or 0),
            "added": sum(int(c["added"]) for c in months.values()),
            "removed": sum(int(c["removed"]) for c in months.values()),
            "error": report.get("error"),
        })
    rows = []
    total = 0
    if added:
        for month in month_range(min(added), max(added)):
            total += added.get(month, 0) - removed.get(month, 0)
            rows.append({"month": month, "added": added.get(month, 0),
                         "removed": removed.get(month, 0), "total": total})
    return {
        "months": rows,
        "collections": collections,
        "added": sum(added.values()),
        "removed": sum(removed.values()),
        "total": total,
        "errors": [f"{c['collection']}: {c['error']}" for c in collections if c["error"]]
        + dropped,
    }


def save_report(session: Session, report: dict[str, Any]) -> None:
    """Store a merged report as the newest; keep only the last :data:`KEEP_REPORTS`."""
    session.add(TaskGrowthReport(report=report))
    session.flush()
    keep = select(TaskGrowthReport.id).order_by(TaskGrowthReport.id.desc()).limit(KEEP_REPORTS)
    session.execute(delete(TaskGrowthReport).where(TaskGrowthReport.id.not_in(keep)))


def latest_report(session: Session) -> dict[str, Any] | None:
    """The newest stored report, with ``computed_at`` (ISO 8601, UTC), or ``None``; at
    most its newest :data:`MAX_MONTHS` rows (a report stored before that cap existed)."""
    row = session.scalar(select(TaskGrowthReport).order_by(TaskGrowthReport.id.desc()).limit(1))
    if row is None:
        return None
    computed = row.computed_at
    if computed.tzinfo is None:  # SQLite: stored as UTC, handed back naive
        computed = computed.replace(tzinfo=dt.timezone.utc)
    report = dict(row.report)
    rows = report.get("months")
    if isinstance(rows, list) and len(rows) > MAX_MONTHS:
        report["months"] = rows[-MAX_MONTHS:]
    return {**report, "computed_at": computed.isoformat()}
