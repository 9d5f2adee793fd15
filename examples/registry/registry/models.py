"""SQLAlchemy 2 models: collections, their code bundles, and the enhancement log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "ENHANCEMENT_STATUSES",
    "TAG_KINDS",
    "Base",
    "BundleSearch",
    "BundleTag",
    "CodeBundle",
    "Collection",
    "EnhancementLog",
    "TaskGrowthReport",
    "TaskGrowthState",
    "utcnow",
]

ENHANCEMENT_STATUSES = ("pending", "completed", "failed")
#: ``task``: a ``[Tags]`` / ``Force Tags`` entry of any task; ``support``: a
#: ``Metadata Supports`` entry (what the ``tag`` and ``platform`` filters match).
TAG_KINDS = ("task", "support")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


class Collection(Base):
    """A git repository of code bundles, as declared in ``collections.yaml``."""

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    git_url: Mapped[str] = mapped_column(String(500))
    git_ref: Mapped[str] = mapped_column(String(200), default="main")
    owner: Mapped[str] = mapped_column(String(200), default="")
    owner_email: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    last_synced_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_commit: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="new")  # new | synced | partial | error
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    bundles: Mapped[list[CodeBundle]] = relationship(
        back_populates="collection", cascade="all, delete-orphan", order_by="CodeBundle.slug"
    )


class CodeBundle(Base):
    """One ``codebundles/<slug>/`` directory: parsed fields plus the enhancer's output."""

    __tablename__ = "codebundles"
    __table_args__ = (UniqueConstraint("collection_id", "slug", name="uq_bundle_collection_slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    doc: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(300), default="")
    support_tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    kinds: Mapped[list[str]] = mapped_column(JSON, default=list)  # "runbook", "sli"
    tasks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    user_variables: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    readme: Mapped[str] = mapped_column(Text, default="")
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    access_level: Mapped[str] = mapped_column(String(20), default="unknown")
    #: What Robot reports but still runs the bundle with (``ParsedBundle.diagnostics``).
    diagnostics: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list,
                                                              server_default="[]")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    #: ``len(tasks)``, kept with it: what the API sorts by (``?sort=tasks``).
    task_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The committer date of the latest commit touching ``codebundles/<slug>/`` (from git,
    #: at sync); ``None`` until the bundle's collection is synced by this version.
    last_commit_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), index=True)
    #: The bundle's folder on its host's web UI (``registry.links.source_url``), or ``None``.
    source_url: Mapped[str | None] = mapped_column(String(1000))
    enhancement_status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    ai_description: Mapped[str | None] = mapped_column(Text)
    ai_access_level: Mapped[str | None] = mapped_column(String(20))
    iam_hints: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    enhanced_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    collection: Mapped[Collection] = relationship(back_populates="bundles")
    enhancement_logs: Mapped[list[EnhancementLog]] = relationship(
        back_populates="bundle", cascade="all, delete-orphan", order_by="EnhancementLog.id"
    )
    tag_rows: Mapped[list[BundleTag]] = relationship(
        back_populates="bundle", cascade="all, delete-orphan", passive_deletes=True
    )
    search_row: Mapped[BundleSearch | None] = relationship(
        back_populates="bundle", cascade="all, delete-orphan", passive_deletes=True
    )


class EnhancementLog(Base):
    """One enhancement attempt for a bundle: who ran it, how it ended, and why."""

    __tablename__ = "enhancement_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_id: Mapped[int] = mapped_column(
        ForeignKey("codebundles.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    #: The Celery task id of the attempt (``None`` outside Celery). A message delivered
    #: again after its worker died carries the same id: see ``enhance.enhance_bundle``.
    task_id: Mapped[str | None] = mapped_column(String(155), index=True, default=None)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    bundle: Mapped[CodeBundle] = relationship(back_populates="enhancement_logs")


class BundleTag(Base):
    """One normalised tag of a bundle: the exact-match index behind the tag filters.

    Derived from ``CodeBundle.tasks`` and ``support_tags`` (see ``registry.tags``) and
    rewritten with them in the same transaction; ``tag`` is trimmed and lower-cased.
    """

    __tablename__ = "bundle_tags"
    __table_args__ = (Index("ix_bundle_tags_kind_tag", "kind", "tag"),)

    bundle_id: Mapped[int] = mapped_column(
        ForeignKey("codebundles.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    tag: Mapped[str] = mapped_column(String, primary_key=True)

    bundle: Mapped[CodeBundle] = relationship(back_populates="tag_rows")


class BundleSearch(Base):
    """A bundle's searchable text by field (see ``registry.search``), one row per bundle.

    Rewritten with the bundle in the same transaction; the database's triggers keep its
    full-text index (``bundle_search_fts``, made by the revision) in step with it.
    """

    __tablename__ = "bundle_search"

    bundle_id: Mapped[int] = mapped_column(
        ForeignKey("codebundles.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(Text, default="")
    platforms: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    tasks: Mapped[str] = mapped_column(Text, default="")

    bundle: Mapped[CodeBundle] = relationship(back_populates="search_row")


class TaskGrowthReport(Base):
    """One analytics run's merged task growth (see ``registry.analytics``), newest last."""

    __tablename__ = "task_growth_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    report: Mapped[dict[str, Any]] = mapped_column(JSON)


class TaskGrowthState(Base):
    """Where a collection's last history walk ended (``registry.history.GrowthState`` as
    JSON), so the next analytics run walks only the commits after it."""

    __tablename__ = "task_growth_states"

    slug: Mapped[str] = mapped_column(String(200), primary_key=True)
    commit: Mapped[str] = mapped_column(String(64))
    walked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                   onupdate=utcnow)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
