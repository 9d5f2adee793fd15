"""What the migration tests share (SQLite and PostgreSQL): old rows and the checks."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from legacy_schema import NOW
from registry.db import session_scope
from registry.migrate import current_revision, head_revision
from registry.models import Base, CodeBundle, Collection, EnhancementLog
from sqlalchemy import Connection, Engine, inspect, select
from tags_support import slugs


def schema_differences(conn: Connection) -> list[Any]:
    """What Alembic finds different between the database and the models (the run
    records included: ``pipeline_runs`` is a revision since 0005). Tables of other
    metadata are not the migrations' business."""
    def ours(name: str | None, kind: str, _parents: Any) -> bool:
        return kind != "table" or name in Base.metadata.tables

    context = MigrationContext.configure(conn, opts={"include_name": ours})
    return list(compare_metadata(context, Base.metadata))


OLD_BUNDLES = [
    {"slug": "s3-audit", "display_name": "S3 Audit", "support_tags": ["AWS"],
     "tasks": [{"name": "List", "doc": "", "tags": ["access:read-only"], "kind": "runbook"}],
     "enhancement_status": "completed", "ai_description": "kept", "iam_hints": {"a": 1}},
    {"slug": "k8s-restart", "tasks": [{"name": "Restart", "tags": ["access:read-write"]}]},
]


def assert_upgraded_with_rows(engine: Engine) -> None:
    """The old rows are all there, the newer columns and tables exist, at head."""
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert schema_differences(conn) == []
        tables = set(inspect(conn).get_table_names())
    assert "schema_migrations" not in tables and "bundle_tags" in tables
    with session_scope(engine) as session:
        [collection] = session.scalars(select(Collection)).all()
        assert (collection.slug, collection.name, collection.status) == ("old", "Old", "synced")
        bundles = {b.slug: b for b in session.scalars(select(CodeBundle))}
        assert set(bundles) == {"s3-audit", "k8s-restart"}
        s3 = bundles["s3-audit"]
        assert (s3.display_name, s3.ai_description, s3.iam_hints) == ("S3 Audit", "kept",
                                                                       {"a": 1})
        assert s3.tasks == OLD_BUNDLES[0]["tasks"]
        [log] = session.scalars(select(EnhancementLog)).all()
        assert (log.message, log.task_id, log.bundle_id) == ("first try", None, s3.id)
    assert slugs(engine, tag="access:read-only", platform="aws") == {"s3-audit"}
    assert slugs(engine, tag="access:read-write") == {"k8s-restart"}


#: The collection rows of :func:`database_at_0004`: a GitHub URL gets source links.
V0004_COLLECTIONS = {"gh": "https://github.com/org/gh-bundles.git", "local": "file:///srv/local"}


def database_at_0004(engine: Engine) -> None:
    """A database at revision 0004 (before v0006), holding a bundle in each collection."""
    from alembic import command
    from registry.migrate import alembic_config
    from sqlalchemy import MetaData, insert

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0004_drop_schema_migrations")
    tables = MetaData()
    tables.reflect(engine)
    collections, bundles = tables.tables["collections"], tables.tables["codebundles"]
    stamp = {"created_at": NOW, "updated_at": NOW}
    with engine.begin() as conn:
        for slug, git_url in V0004_COLLECTIONS.items():
            collection_id = conn.execute(insert(collections).values(
                slug=slug, name=slug.upper(), git_url=git_url, git_ref="main", owner="",
                owner_email="", description="", status="synced", **stamp,
            ).returning(collections.c.id)).scalar_one()
            conn.execute(insert(bundles).values(
                collection_id=collection_id, slug=f"{slug}-bundle", display_name="B",
                author="", description="", doc="", readme="", support_tags=[], kinds=[],
                tasks=[{"name": "One"}, {"name": "Two"}] if slug == "gh" else [],
                user_variables=[], meta={}, access_level="unknown", content_hash="h",
                enhancement_status="completed", ai_description="kept", **stamp))


def assert_freshness_backfilled(engine: Engine) -> None:
    """After v0006: the rows kept, task counts and source URLs filled, no dates yet."""
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert schema_differences(conn) == []
    with session_scope(engine) as session:
        rows = {b.slug: b for b in session.scalars(select(CodeBundle))}
        assert set(rows) == {"gh-bundle", "local-bundle"}
        gh, local = rows["gh-bundle"], rows["local-bundle"]
        assert (gh.task_count, local.task_count) == (2, 0)
        assert gh.source_url == "https://github.com/org/gh-bundles/tree/main/codebundles/gh-bundle"
        assert local.source_url is None
        assert gh.last_commit_at is None and local.last_commit_at is None
        assert (gh.ai_description, gh.enhancement_status, gh.tasks[1]) == (
            "kept", "completed", {"name": "Two"})
