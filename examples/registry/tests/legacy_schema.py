"""The registry's schema before it used Alembic, frozen as main created it (2026-12-01).

``Base.metadata.create_all`` made these tables and ``create_schema`` then added
missing nullable columns by hand and recorded the tag backfill in
``schema_migrations``. Migration tests build such databases, fill them, and upgrade.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.tags import bundle_tag_pairs
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
)


def legacy_tables(*, with_task_id: bool = True, with_tag_index: bool = True) -> MetaData:
    """Main's tables; ``with_task_id=False`` / ``with_tag_index=False`` give the releases
    before ``enhancement_logs.task_id`` / ``bundle_tags`` + ``schema_migrations``."""
    meta = MetaData()
    stamps = ("created_at", "updated_at")
    Table("collections", meta,
          Column("id", Integer, primary_key=True),
          Column("slug", String(100), nullable=False, unique=True, index=True),
          Column("name", String(200), nullable=False),
          Column("git_url", String(500), nullable=False),
          Column("git_ref", String(200), nullable=False),
          Column("owner", String(200), nullable=False),
          Column("owner_email", String(200), nullable=False),
          Column("description", Text, nullable=False),
          Column("last_synced_at", DateTime(timezone=True)),
          Column("last_commit", String(64)),
          Column("status", String(20), nullable=False),
          Column("last_error", Text),
          *(Column(name, DateTime(timezone=True), nullable=False) for name in stamps))
    Table("codebundles", meta,
          Column("id", Integer, primary_key=True),
          Column("collection_id", ForeignKey("collections.id", ondelete="CASCADE"),
                 nullable=False, index=True),
          Column("slug", String(200), nullable=False),
          *(Column(name, String(300), nullable=False) for name in ("display_name", "author")),
          *(Column(name, Text, nullable=False) for name in ("description", "doc", "readme")),
          *(Column(name, JSON, nullable=False)
            for name in ("support_tags", "kinds", "tasks", "user_variables", "meta")),
          Column("access_level", String(20), nullable=False),
          Column("content_hash", String(64), nullable=False),
          Column("enhancement_status", String(20), nullable=False, index=True),
          Column("ai_description", Text),
          Column("ai_access_level", String(20)),
          Column("iam_hints", JSON),
          Column("enhanced_at", DateTime(timezone=True)),
          *(Column(name, DateTime(timezone=True), nullable=False) for name in stamps),
          UniqueConstraint("collection_id", "slug", name="uq_bundle_collection_slug"))
    Table("enhancement_logs", meta,
          Column("id", Integer, primary_key=True),
          Column("bundle_id", ForeignKey("codebundles.id", ondelete="CASCADE"),
                 nullable=False, index=True),
          Column("status", String(20), nullable=False),
          Column("provider", String(100), nullable=False),
          Column("message", Text, nullable=False),
          Column("content_hash", String(64), nullable=False),
          *([Column("task_id", String(155), index=True)] if with_task_id else []),
          Column("started_at", DateTime(timezone=True), nullable=False),
          Column("finished_at", DateTime(timezone=True)))
    if with_tag_index:
        Table("bundle_tags", meta,
              Column("bundle_id", ForeignKey("codebundles.id", ondelete="CASCADE"),
                     primary_key=True),
              Column("kind", String(20), primary_key=True),
              Column("tag", String, primary_key=True),
              Index("ix_bundle_tags_kind_tag", "kind", "tag"))
        Table("schema_migrations", meta,
              Column("name", String(100), primary_key=True),
              Column("applied_at", DateTime(timezone=True), nullable=False))
    return meta


NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
_COLLECTION = {"name": "Old", "git_ref": "main", "owner": "", "owner_email": "",
               "description": "", "status": "synced", "created_at": NOW, "updated_at": NOW}
_BUNDLE = {"display_name": "", "author": "", "description": "", "doc": "", "readme": "",
           "support_tags": [], "kinds": ["runbook"], "tasks": [], "user_variables": [],
           "meta": {}, "access_level": "unknown", "content_hash": "",
           "enhancement_status": "pending", "created_at": NOW, "updated_at": NOW}


def create_legacy_database(
    engine: Engine, collection: str, bundles: list[dict[str, Any]], *,
    with_task_id: bool = True, with_tag_index: bool = True, log_message: str = "",
) -> MetaData:
    """Create a pre-Alembic database holding one collection, ``bundles`` (column values
    over the defaults) and, with ``log_message``, an enhancement log row of the first."""
    meta = legacy_tables(with_task_id=with_task_id, with_tag_index=with_tag_index)
    meta.create_all(engine)
    tables = meta.tables
    with engine.begin() as conn:
        [collection_id] = conn.execute(insert(tables["collections"]).values(
            slug=collection, git_url=f"file:///{collection}", **_COLLECTION,
        ).returning(tables["collections"].c.id)).one()
        bundle_ids = [conn.execute(insert(tables["codebundles"]).values(
            collection_id=collection_id, **{**_BUNDLE, **values},
        ).returning(tables["codebundles"].c.id)).scalar_one() for values in bundles]
        if log_message and bundle_ids:
            conn.execute(insert(tables["enhancement_logs"]).values(
                bundle_id=bundle_ids[0], status="completed", provider="local",
                message=log_message, content_hash="", started_at=NOW))
        if with_tag_index:  # main kept the index up to date and recorded its backfill
            rows = [{"bundle_id": bundle_id, "kind": kind, "tag": tag}
                    for bundle_id, values in zip(bundle_ids, bundles, strict=True)
                    for kind, tag in bundle_tag_pairs(values.get("support_tags"),
                                                      values.get("tasks"))]
            if rows:
                conn.execute(insert(tables["bundle_tags"]), rows)
            conn.execute(insert(tables["schema_migrations"]).values(
                name="bundle_tags_backfill", applied_at=NOW))
    return meta
