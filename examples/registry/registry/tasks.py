"""The registry's Celery tasks: thin wrappers over the domain modules, all idempotent.

Each task is a ``celery_safe.task``: the worker opens a database session around the
call (the ``db`` resource, one transaction per task) and ``task.logic(..., db=session)``
runs the same code in-process, in tests or inside another task's logic. No task waits
for another: the order lives in :mod:`registry.pipeline`'s canvas.

Failures of one item (a collection that cannot be cloned, a bundle the provider
rejects) are recorded on that item and *returned*, never raised, so one bad collection
cannot fail the chord that the rest of the run is waiting on. The one exception is a
provider error that may pass: ``enhance_bundle`` retries it (same task id, backoff with
jitter, :mod:`registry.policy`) before recording the bundle failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from celery.exceptions import Ignore, SoftTimeLimitExceeded
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

import celery_safe
from registry import analytics, enhance, query, service, sources, store
from registry.celery_app import app
from registry.config import Settings, load_settings
from registry.db import session_scope
from registry.faults import FAULTS_ENV, FaultPlan
from registry.models import CodeBundle, Collection
from registry.policy import EnhancePolicy
from registry.redact import redact

__all__ = [
    "ENHANCE_POLICY",
    "SLOW_ENHANCE_ENV",
    "collection_task_growth",
    "enhance_bundle",
    "health_check",
    "launch_enhancements",
    "merge_task_growth",
    "scheduled_sync",
    "store_yaml",
    "summarize",
    "sync_collection",
    "tally_enhancements",
]

logger = logging.getLogger(__name__)

#: Ingest statuses of a collection whose bundles were stored (``partial``: some refused).
SYNCED = ("synced", "partial")

#: Test knob: ``<bundle-slug>:<seconds>`` makes the first enhancement of that bundle
#: pause (after writing ``$REGISTRY_HOME/slow-<slug>.started``) so a test can kill
#: the worker mid-task. Later attempts of the same bundle do not pause.
SLOW_ENHANCE_ENV = "REGISTRY_SLOW_ENHANCE"

#: Retries, rate and time limits of ``enhance_bundle`` (``REGISTRY_ENHANCE_*``).
ENHANCE_POLICY = EnhancePolicy.from_env()


@functools.lru_cache(maxsize=1)
def current_settings() -> Settings:
    """This process's settings, read once from the environment."""
    return load_settings()


@contextlib.contextmanager
def open_db() -> Iterator[Session]:
    """The ``db`` resource: one session and one transaction per task run."""
    with session_scope(current_settings().db_url) as session:
        yield session


def _spec(row: Collection) -> sources.CollectionSpec:
    return sources.CollectionSpec(
        name=row.name,
        slug=row.slug,
        git_url=row.git_url,
        git_ref=row.git_ref,
        owner=row.owner,
        owner_email=row.owner_email,
        description=row.description,
    )


@celery_safe.task(app, name="registry.store_yaml", resources={"db": open_db})
def store_yaml(collections_yaml: str, *, db: Session) -> dict[str, Any]:
    """Store every valid ``codecollections:`` entry; report the invalid ones.

    The YAML *text* travels in the message, so workers on other machines need no
    shared file. Upserting by slug makes a re-run a no-op.
    """
    loaded = sources.parse_collections_text(collections_yaml)
    for spec in loaded.collections:
        store.upsert_collection(db, spec)
    return {
        "collections": [spec.slug for spec in loaded.collections],
        "errors": [str(error) for error in loaded.errors],
    }


@celery_safe.task(app, name="registry.sync_collection", resources={"db": open_db})
def sync_collection(slug: str, *, db: Session, workdir: str | None = None) -> dict[str, Any]:
    """Clone or fetch one stored collection, parse its bundles, upsert them.

    Returns the collection's ingest report (``status`` ``synced``, ``partial`` when some
    bundles were refused, or ``error``); a failure is recorded on the collection and
    its previously stored bundles are left untouched.
    """
    row = db.scalar(select(Collection).where(Collection.slug == slug))
    if row is None:
        return _sync_error(slug, f"collection {slug!r} is not stored (run store_yaml first)")
    checkouts = Path(workdir) if workdir else current_settings().workdir
    try:
        return service.ingest_collection(db, _spec(row), checkouts).as_dict()
    except Exception as exc:  # one collection's failure must not fail the whole run
        details = redact("".join(traceback.format_exception(exc)))
        logger.error("sync of collection %r failed:\n%s", slug, details)
        db.rollback()
        message = store.short_error(f"collection {slug!r}: {_one_line(exc)}")
        store.record_collection_error(db, slug, message)
        return _sync_error(slug, message)


def _one_line(exc: BaseException) -> str:
    """An exception in a line: a database error by its driver's reason, not the SQL and
    its parameters (which would put whole rows into ``last_error``)."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        exc = exc.orig
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"


def _sync_error(slug: str, message: str) -> dict[str, Any]:
    return service.IngestReport(slug, "error", errors=[message]).as_dict()


def _pause_for_tests(db: Session, bundle_id: int) -> None:
    """Honour :data:`SLOW_ENHANCE_ENV` (tests kill a worker while this sleeps)."""
    knob = os.environ.get(SLOW_ENHANCE_ENV, "")
    if ":" not in knob:
        return
    slug, seconds = knob.rsplit(":", 1)
    bundle = db.get(CodeBundle, bundle_id)
    matches = bundle is not None and bundle.slug == slug
    db.rollback()  # hold no database lock while sleeping: other tasks must go on
    if not matches:
        return
    marker = current_settings().home / f"slow-{slug}.started"
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # a retry after the kill: run at full speed
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    time.sleep(float(seconds))


def _provider(name: str | None) -> enhance.Provider:
    """The configured provider, with the fault plan of ``$REGISTRY_ENHANCER_FAULTS``."""
    settings = current_settings()
    faults = FaultPlan.parse(os.environ.get(FAULTS_ENV, ""), settings.home / "faults")
    return enhance.get_provider(name or settings.enhancer, faults=faults or None)


@celery_safe.task(
    app, name="registry.enhance_bundle", bind=True, resources={"db": open_db},
    max_retries=ENHANCE_POLICY.max_retries, rate_limit=ENHANCE_POLICY.rate_limit,
    soft_time_limit=ENHANCE_POLICY.soft_time_limit, time_limit=ENHANCE_POLICY.time_limit,
)
def enhance_bundle(
    self: Any, bundle_id: int, *, db: Session, provider: str | None = None
) -> dict[str, Any]:
    """Enhance one bundle with the configured provider; returns its outcome as a dict.

    A provider error that may pass (``enhance.TRANSIENT_ERRORS``) is retried with
    backoff; the last allowed attempt records it as the bundle's failure. A call cut
    by the soft time limit marks the bundle failed too: the chord always gets an
    outcome, and no bundle is left behind.

    The task id goes into the enhancement log and a retry keeps it, as does a message
    delivered again (its worker died after the commit, before the ack): such a run
    reports the work already done under its id, never a second enhancement or a skip.
    """
    chosen = _provider(provider)
    retries = int(self.request.retries or 0)
    retryable = enhance.TRANSIENT_ERRORS if retries < self.max_retries else ()
    try:  # the time limit may land anywhere in here: the bundle still gets its outcome
        _pause_for_tests(db, bundle_id)
        outcome = enhance.enhance_bundle(
            db, bundle_id, chosen, task_id=self.request.id,
            reraise=(SoftTimeLimitExceeded, *retryable),
        )
    except SoftTimeLimitExceeded:
        db.rollback()
        outcome = enhance.record_failure(
            db, bundle_id, chosen.name, task_id=self.request.id,
            message=f"SoftTimeLimitExceeded: no answer within the soft time limit "
            f"({self.soft_time_limit:g} s)",
        )
    except retryable as exc:
        db.rollback()
        delay = ENHANCE_POLICY.retry_delay(self.request.id, retries)
        logger.warning("bundle #%s: %s; retry %d of %d in %.2f s",
                       bundle_id, exc, retries + 1, self.max_retries, delay)
        raise self.retry(exc=exc, countdown=delay) from exc
    return dataclasses.asdict(outcome)


def as_sync_list(sync_results: Any) -> list[dict[str, Any]]:
    """The group's results as a list (Celery unrolls a one-task group into one result)."""
    if isinstance(sync_results, dict):
        return [sync_results]
    return list(sync_results or [])


def bundles_to_enhance(db: Session, sync_results: list[dict[str, Any]]) -> list[int]:
    """Pending bundles of the collections this run synced, in a stable order."""
    ids: set[int] = set()
    for report in sync_results:
        if report.get("status") in SYNCED:
            ids.update(store.pending_bundle_ids(db, report["collection"]))
    return sorted(ids)


@celery_safe.task(app, name="registry.launch_enhancements", bind=True, resources={"db": open_db})
def launch_enhancements(self: Any, sync_results: Any, *, db: Session) -> Any:
    """Once every sync is done, replace this task with a chord over the pending bundles.

    The number of bundles is only known now, so the chord is built here and this
    task *becomes* it (``self.replace``): the run's later steps wait for the chord
    without anything joining. With nothing pending, the run goes straight on.
    """
    from registry.once import already_replaced, replace_once
    from registry.pipeline import enhancement_chord

    if already_replaced(self):  # a redelivery: the chord is on its way already
        raise Ignore()
    results = as_sync_list(sync_results)
    bundle_ids = bundles_to_enhance(db, results)
    if not bundle_ids:
        return tally_enhancements.logic([], results)
    return replace_once(self, enhancement_chord(bundle_ids, results), {"bundles": bundle_ids})


@celery_safe.task(app, name="registry.tally_enhancements")
def tally_enhancements(
    outcomes: list[dict[str, Any]], sync_results: list[dict[str, Any]]
) -> dict[str, Any]:
    """The chord's body: the syncs and the enhancement outcomes, side by side."""
    return {"syncs": as_sync_list(sync_results), "enhancements": list(outcomes)}


@celery_safe.task(app, name="registry.summarize", resources={"db": open_db})
def summarize(
    run: dict[str, Any], source_errors: list[str], *, db: Session
) -> dict[str, Any]:
    """The run's summary: what this run did, plus the registry's totals."""
    syncs = as_sync_list(run.get("syncs"))
    outcomes = list(run.get("enhancements") or [])
    errors = [*source_errors, *(error for sync in syncs for error in sync.get("errors") or [])]
    errors.extend(
        f"bundle #{outcome['bundle_id']}: {outcome.get('message') or 'enhancement failed'}"
        for outcome in outcomes
        if outcome.get("status") == "failed"
    )
    counts = {
        key: sum(int(sync.get(key, 0)) for sync in syncs)
        for key in ("created", "updated", "unchanged", "removed")
    }
    return {
        "collections_synced": sum(1 for sync in syncs if sync.get("status") in SYNCED),
        "collections_failed": sum(1 for sync in syncs if sync.get("status") not in SYNCED)
        + len(source_errors),
        "bundles": counts,
        "enhanced": sum(
            1 for o in outcomes if o.get("status") == "completed" and not o.get("skipped")
        ),
        "enhance_skipped": sum(1 for o in outcomes if o.get("skipped")),
        "enhance_failed": sum(1 for o in outcomes if o.get("status") == "failed"),
        "enhanced_ids": [o["bundle_id"] for o in outcomes],
        "errors": errors,
        "totals": query.stats(db),
    }


@celery_safe.task(app, name="registry.health_check", resources={"db": open_db})
def health_check(*, db: Session) -> dict[str, Any]:
    """The registry's health (database reachable, counts, stale or failed items)."""
    return query.health(db)


@celery_safe.task(app, name="registry.scheduled_sync", bind=True)
def scheduled_sync(self: Any) -> Any:
    """Beat's 6-hourly job: the whole pipeline for ``$REGISTRY_HOME/collections.yaml``.

    The task *becomes* the workflow (``self.replace``): it ends at once, its id is the
    run's, and ``AsyncResult(id).get()`` (outside a task) gives the run's summary.
    Without a collections file it does nothing and returns ``None``.
    """
    from registry.once import already_replaced, replace_once
    from registry.pipeline import build_workflow
    from registry.sources import CollectionsFileError, read_collections_text

    if already_replaced(self):  # a redelivery: the run is on its way already
        raise Ignore()
    path = current_settings().collections_file
    if not path.is_file():
        logger.warning("scheduled sync skipped: %s does not exist", path)
        return None
    try:
        text = read_collections_text(path)
    except CollectionsFileError as exc:
        logger.warning("scheduled sync skipped: %s", exc)
        return None
    workflow = build_workflow(text)
    return replace_once(self, workflow, {"collections_file": str(path)})


@celery_safe.task(app, name="registry.scheduled_task_growth", bind=True,
                  resources={"db": open_db})
def scheduled_task_growth(self: Any, *, db: Session) -> Any:
    """Beat's daily analytics: the task-growth ``map_reduce`` over the stored collections
    that have a repository; the task *becomes* the workflow, like :func:`scheduled_sync`.
    With no such collection it does nothing and returns ``None``."""
    from registry.once import already_replaced, replace_once
    from registry.pipeline import task_growth_workflow

    if already_replaced(self):  # a redelivery: the run is on its way already
        raise Ignore()
    slugs = list(db.scalars(select(Collection.slug).where(Collection.git_url != "")
                            .order_by(Collection.slug)))
    if not slugs:
        logger.warning("scheduled task growth skipped: no collection stored yet")
        return None
    return replace_once(self, task_growth_workflow(slugs), {"collections": slugs})


@celery_safe.task(app, name="registry.collection_task_growth", resources={"db": open_db})
def collection_task_growth(
    slug: str, *, db: Session, workdir: str | None = None
) -> dict[str, Any]:
    """The analytics map: one collection's tasks added/removed per month, from git."""
    checkouts = Path(workdir) if workdir else current_settings().workdir
    return analytics.collection_growth(db, slug, checkouts)


@celery_safe.task(app, name="registry.merge_task_growth", resources={"db": open_db})
def merge_task_growth(reports: list[dict[str, Any]], *, db: Session) -> dict[str, Any]:
    """The analytics reduce: merge the collections' months, store and return the report."""
    merged = analytics.merge_growth(as_sync_list(reports))
    analytics.save_report(db, merged)
    return merged
