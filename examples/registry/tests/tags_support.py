"""Helpers for the tag-filter tests (SQLite and PostgreSQL): bundles, syncs, old schemas."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence

from legacy_schema import create_legacy_database
from registry import query
from registry.db import create_schema, make_engine, session_scope
from registry.models import BundleTag, CodeBundle, Collection
from registry.parsing import ParsedBundle
from registry.store import upsert_bundles
from sqlalchemy import Engine, select

COLLECTION = "tags-collection"

_MIGRATED: list[Engine] = []  # the in-memory database the copies are taken from


def migrated_memory_engine() -> Engine:
    """A new, empty in-memory database at the newest schema, for a property test's
    example: the migrations run once per process (into a template), each example gets a
    copy (sqlite3's backup: every table, index and the Alembic revision) instead of
    running them again, which was most of an example's time."""
    if not _MIGRATED:
        template = make_engine("sqlite://")
        create_schema(template)
        _MIGRATED.append(template)
    engine = make_engine("sqlite://")  # one connection per thread: the copy stays
    source = _MIGRATED[0].raw_connection()
    target = engine.raw_connection()
    try:
        source.driver_connection.backup(target.driver_connection)  # type: ignore[union-attr]
    finally:
        target.close()
        source.close()
    return engine


def make_bundle(
    slug: str, tags: Iterable[str] = (), supports: Iterable[str] = (), *,
    task_name: str = "Check Things", doc: str = "",
) -> ParsedBundle:
    """A parsed bundle with one task carrying ``tags``; its hash follows its content."""
    tasks = [{"name": task_name, "doc": doc, "tags": list(tags), "kind": "runbook"}]
    digest = hashlib.sha256(repr((tasks, list(supports), doc)).encode()).hexdigest()
    return ParsedBundle(
        slug=slug, display_name=slug, description="", doc=doc, author="",
        support_tags=list(supports), kinds=["runbook"], tasks=tasks, user_variables=[],
        access_level="unknown", content_hash=digest,
    )


def sync(engine: Engine | str, bundles: Sequence[ParsedBundle]) -> None:
    with session_scope(engine) as session:
        if session.scalar(select(Collection).where(Collection.slug == COLLECTION)) is None:
            session.add(Collection(slug=COLLECTION, name="Tags", git_url="file:///tags"))
            session.flush()
        upsert_bundles(session, COLLECTION, bundles)


def slugs(engine: Engine | str, **filters: object) -> set[str]:
    with session_scope(engine) as session:
        page = query.list_bundles(session, limit=query.MAX_LIMIT, **filters)  # type: ignore[arg-type]
    return {b["slug"] for b in page["items"]}


def stored_tags(engine: Engine | str) -> set[tuple[str, str, str]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(CodeBundle.slug, BundleTag.kind, BundleTag.tag).join(BundleTag.bundle)
        )
        return {(slug, kind, tag) for slug, kind, tag in rows}


LOOKALIKES = [
    make_bundle("exact", ["access:read", "S3"], ["AWS"]),
    make_bundle("longer", ["access:read-only", "s3-bucket"], ["aws-s3"]),
    make_bundle("prefixed", ["x-access:read", "team:access:read"], ["Amazon AWS"]),
    make_bundle("in-text", ["ops", "aws"], ["GCP"], task_name="access:read",
                doc='Tagged "access:read" and ["aws"] in prose only.'),
    make_bundle("escaped", ['quote:"q"', "back\\slash", "Ünïcode", "100%_done"], ["K8s"]),
]


def store_as_previous_version(engine: Engine) -> None:
    """Make ``engine``'s empty database look as the release before the tag index left
    it (no ``bundle_tags``, no Alembic): the LOOKALIKES stored, plus one odd
    hand-edited row."""
    create_legacy_database(engine, COLLECTION, [
        *({"slug": b.slug, "tasks": b.tasks, "support_tags": b.support_tags,
           "content_hash": b.content_hash} for b in LOOKALIKES),
        {"slug": "odd", "tasks": [{"name": "x"}, "junk"], "support_tags": None},
    ], with_tag_index=False)


def open_at_once(engines: Sequence[Engine]) -> list[BaseException]:
    """Open one database through several engines at the same moment (``create_schema``,
    as processes starting together do); the errors they met."""
    start = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def open_database(engine: Engine) -> None:
        try:
            start.wait()
            create_schema(engine)
        except BaseException as exc:  # reported to the caller
            errors.append(exc)

    threads = [threading.Thread(target=open_database, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors
