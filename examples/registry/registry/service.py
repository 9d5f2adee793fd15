"""Units of work the pipeline's tasks call, one per step, each with a JSON-ready report.

Each function takes an open session (the task's ``db`` resource) and never raises for
a bad *input*: a refused YAML entry, an unreachable repository, a missing ref or a
broken bundle is recorded and reported, and the other items go on. ``run_in_process``
chains them without Celery, as the reference for tests and benchmarks.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from registry import enhance, history, query, store
from registry.db import session_scope
from registry.gitsync import GitSyncError, SyncResult, sync_collection
from registry.links import source_url
from registry.parsing import parse_collection
from registry.sources import CollectionSpec, load_collections

__all__ = [
    "IngestReport",
    "SourcesReport",
    "bundle_freshness",
    "ingest_collection",
    "run_in_process",
    "spec_from_dict",
    "store_sources",
]


def spec_from_dict(data: dict[str, Any]) -> CollectionSpec:
    """Rebuild a spec sent through a task message (``dataclasses.asdict`` form)."""
    return CollectionSpec(**data)


@dataclasses.dataclass(frozen=True)
class SourcesReport:
    collections: list[dict[str, str]]  # CollectionSpec as dicts, in file order
    errors: list[str]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class IngestReport:
    collection: str
    status: str  # "synced" | "partial" (some bundles refused) | "error"
    commit: str | None = None
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def store_sources(session: Session, collections_yaml: Path | str) -> SourcesReport:
    """Load and validate ``collections.yaml``; store every valid collection."""
    loaded = load_collections(collections_yaml)
    for spec in loaded.collections:
        store.upsert_collection(session, spec)
    return SourcesReport(
        collections=[dataclasses.asdict(spec) for spec in loaded.collections],
        errors=[str(error) for error in loaded.errors],
    )


def ingest_collection(
    session: Session, spec: CollectionSpec, workdir: Path | str, *, timeout: float = 120.0
) -> IngestReport:
    """Clone/fetch, parse and upsert one collection; failures are recorded, not raised.

    Git and parsing run outside any transaction (what the caller did so far is
    committed first): on SQLite an open write transaction holds the database-wide
    write lock, and other workers would wait for a slow clone, then time out.
    """
    session.commit()
    try:
        synced = sync_collection(spec, Path(workdir), timeout=timeout)
    except GitSyncError as exc:
        store.upsert_collection(session, spec)
        store.record_collection_error(session, spec.slug, str(exc))
        return IngestReport(spec.slug, "error", errors=[str(exc)])
    parsed = parse_collection(synced.path)
    try:
        freshness = bundle_freshness(spec, synced, [bundle.slug for bundle in parsed.bundles],
                                     timeout=timeout)
    except GitSyncError as exc:
        store.upsert_collection(session, spec)
        store.record_collection_error(session, spec.slug, str(exc))
        return IngestReport(spec.slug, "error", errors=[str(exc)])
    collection = store.upsert_collection(session, spec, commit=synced.commit)
    stats = store.upsert_bundles(session, spec.slug, parsed, freshness=freshness)
    errors = [f"{spec.slug}: {error}" for error in parsed.errors]
    status = "partial" if errors else "synced"
    if errors:
        collection.status = "partial"
        collection.last_error = store.short_error("; ".join(errors))
    return IngestReport(
        spec.slug, status, synced.commit, stats.created, stats.updated, stats.unchanged,
        stats.removed, errors,
    )


def bundle_freshness(
    spec: CollectionSpec, synced: SyncResult, slugs: list[str], *, timeout: float = 120.0
) -> dict[str, store.Freshness]:
    """Each bundle's last commit date (git history of its folder) and source page."""
    dates = history.bundle_last_commits(synced.path, synced.commit, timeout=timeout)
    return {slug: store.Freshness(dates.get(slug), source_url(spec.git_url, spec.git_ref, slug))
            for slug in slugs}


def run_in_process(
    db_url: str, collections_yaml: Path | str, workdir: Path | str, *, enhancer: str = "local"
) -> dict[str, Any]:
    """The whole pipeline in this process (no Celery): the reference implementation.

    Returns the summary plus ``compute_seconds`` (the sum of step times).
    """
    started = time.perf_counter()
    with session_scope(db_url) as session:
        sources = store_sources(session, collections_yaml)
    reports = []
    for data in sources.collections:
        with session_scope(db_url) as session:
            reports.append(ingest_collection(session, spec_from_dict(data), workdir))
    provider = enhance.get_provider(enhancer)
    with session_scope(db_url) as session:
        pending = store.pending_bundle_ids(session)
    outcomes = []
    for bundle_id in pending:
        with session_scope(db_url) as session:
            outcomes.append(enhance.enhance_bundle(session, bundle_id, provider))
    with session_scope(db_url) as session:
        summary: dict[str, Any] = dict(query.stats(session))
    summary["source_errors"] = sources.errors
    summary["collection_reports"] = [report.as_dict() for report in reports]
    summary["enhancement_failures"] = [o.message for o in outcomes if o.status == "failed"]
    summary["compute_seconds"] = time.perf_counter() - started
    return summary
