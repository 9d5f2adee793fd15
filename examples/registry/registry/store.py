"""Write parsed collections and bundles into the database, idempotently.

Bundles are keyed by (collection slug, bundle slug). Writing the same parse twice
changes nothing; a bundle whose ``content_hash`` changed is updated and goes back to
``enhancement_status = "pending"`` so it is enhanced again; its ``bundle_tags`` rows
are rewritten in the same transaction. Errors are recorded on the
collection and never delete what was stored before.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import CodeBundle, Collection, utcnow
from registry.parsing import ParsedBundle, ParseResult
from registry.redact import redact
from registry.search import sync_bundle_search
from registry.sources import CollectionSpec
from registry.tags import sync_bundle_tags

__all__ = [
    "Freshness",
    "UnknownCollectionError",
    "UpsertStats",
    "get_collection",
    "pending_bundle_ids",
    "record_collection_error",
    "short_error",
    "upsert_bundles",
    "upsert_collection",
]

#: The longest ``last_error`` stored (``/health`` shows it).
MAX_ERROR_CHARS = 2000

_PARSED_FIELDS = (
    "display_name", "description", "doc", "author", "support_tags", "kinds", "tasks",
    "user_variables", "readme", "meta", "access_level", "content_hash", "diagnostics",
)


class UnknownCollectionError(LookupError):
    def __init__(self, slug: str) -> None:
        self.slug = slug
        super().__init__(f"collection {slug!r} is not in the database; store it first")


@dataclasses.dataclass(frozen=True)
class UpsertStats:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    def __add__(self, other: UpsertStats) -> UpsertStats:
        return UpsertStats(*(a + b for a, b in zip(
            dataclasses.astuple(self), dataclasses.astuple(other), strict=True)))


@dataclasses.dataclass(frozen=True)
class Freshness:
    """What git says about a bundle: its latest commit's date, and its source page."""

    last_commit_at: dt.datetime | None = None
    source_url: str | None = None


def get_collection(session: Session, slug: str) -> Collection:
    found = session.scalar(select(Collection).where(Collection.slug == slug))
    if found is None:
        raise UnknownCollectionError(slug)
    return found


def upsert_collection(
    session: Session, spec: CollectionSpec, *, commit: str | None = None
) -> Collection:
    """Create or update a collection from its spec; with ``commit``, mark it synced.

    The row is locked until the transaction ends (``FOR UPDATE``; SQLite's write lock
    already does this), so two overlapping syncs of one collection take turns instead
    of both inserting its new bundles.
    """
    collection = session.scalar(
        select(Collection).where(Collection.slug == spec.slug).with_for_update()
    )
    if collection is None:
        collection = Collection(slug=spec.slug, status="new")
        session.add(collection)
    for field in ("name", "git_url", "git_ref", "owner", "owner_email", "description"):
        value = getattr(spec, field)
        if getattr(collection, field) != value:
            setattr(collection, field, value)
    if commit is not None:
        collection.last_commit = commit
        collection.last_synced_at = utcnow()
        collection.status = "synced"
        collection.last_error = None
    session.flush()
    return collection


def record_collection_error(session: Session, slug: str, message: str) -> None:
    """Note why a collection failed; its stored bundles are left untouched.

    A collection never seen before (e.g. its clone failed on the first run) is
    created as a placeholder only when it is not in the database yet.
    """
    collection = session.scalar(select(Collection).where(Collection.slug == slug))
    if collection is None:
        collection = Collection(slug=slug, name=slug, git_url="", status="error")
        session.add(collection)
    collection.status = "error"
    collection.last_error = short_error(message)
    session.flush()


def short_error(message: str) -> str:
    """What ``last_error`` keeps: credentials masked, at most :data:`MAX_ERROR_CHARS`."""
    message = redact(message)
    if len(message) <= MAX_ERROR_CHARS:
        return message
    return message[: MAX_ERROR_CHARS - 30].rstrip() + f" ... ({len(message)} characters)"


def upsert_bundles(
    session: Session, collection_slug: str, bundles: ParseResult | Iterable[ParsedBundle],
    *, remove_missing: bool = True, keep: Iterable[str] = (),
    freshness: Mapping[str, Freshness] | None = None,
) -> UpsertStats:
    """Insert new bundles, update changed ones (back to pending), count unchanged ones.

    With ``remove_missing``, stored bundles absent from the parse are deleted, except
    those named in ``keep``. Pass the whole :class:`ParseResult`: its failed bundles are
    then kept as stored (a bundle that broke keeps its last good version), and a
    collection-wide parse error removes nothing.

    ``freshness`` (by bundle slug) is written on every parsed bundle, changed or not: a
    new commit date alone is not a content change, so it neither counts as an update
    nor sends the bundle back to enhancement.
    """
    keep = set(keep)
    if isinstance(bundles, ParseResult):
        keep.update(error.bundle for error in bundles.errors)
        if any(error.bundle == "(all)" for error in bundles.errors):
            remove_missing = False
        bundles = bundles.bundles
    collection = get_collection(session, collection_slug)
    rows = session.scalars(select(CodeBundle).where(CodeBundle.collection_id == collection.id))
    existing = {row.slug: row for row in rows}
    created = updated = unchanged = removed = 0
    seen: set[str] = set()
    for parsed in bundles:
        if parsed.slug in seen:
            continue
        seen.add(parsed.slug)
        row = existing.get(parsed.slug)
        if row is None:
            row = CodeBundle(collection_id=collection.id, slug=parsed.slug,
                             enhancement_status="pending")
            _copy_parsed(row, parsed)
            session.add(row)
            created += 1
        elif row.content_hash != parsed.content_hash:
            _copy_parsed(row, parsed)
            row.enhancement_status = "pending"
            updated += 1
        else:
            unchanged += 1
        if freshness is not None:
            _set_freshness(row, freshness.get(parsed.slug, Freshness()))
    if remove_missing:
        for slug, row in existing.items():
            if slug not in seen and slug not in keep:
                session.delete(row)
                removed += 1
    session.flush()
    return UpsertStats(created, updated, unchanged, removed)


def _copy_parsed(row: CodeBundle, parsed: ParsedBundle) -> None:
    for field in _PARSED_FIELDS:
        setattr(row, field, getattr(parsed, field))
    row.task_count = len(parsed.tasks)
    sync_bundle_tags(row)
    sync_bundle_search(row)


def _same_instant(stored: dt.datetime | None, new: dt.datetime | None) -> bool:
    """SQLite hands back naive datetimes (stored as UTC): compare them as UTC."""
    if stored is None or new is None:
        return stored is new
    if stored.tzinfo is None:
        stored = stored.replace(tzinfo=dt.timezone.utc)
    return stored == new


def _set_freshness(row: CodeBundle, fresh: Freshness) -> None:
    # Written only when different, so an unchanged bundle's ``updated_at`` stays put.
    if not _same_instant(row.last_commit_at, fresh.last_commit_at):
        row.last_commit_at = fresh.last_commit_at
    if row.source_url != fresh.source_url:
        row.source_url = fresh.source_url


def pending_bundle_ids(session: Session, collection_slug: str | None = None) -> list[int]:
    """Ids of bundles waiting for enhancement, optionally in one collection, in id order."""
    query = select(CodeBundle.id).where(CodeBundle.enhancement_status == "pending")
    if collection_slug is not None:
        query = query.join(Collection).where(Collection.slug == collection_slug)
    return list(session.scalars(query.order_by(CodeBundle.id)))
