"""Baseline: collections, their code bundles, the enhancement log (first release).

A database made before the registry used Alembic is stamped at the revision its
tables match (``registry.db``) instead of running this.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision: str | None = None
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column[object]]:
    return [sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("git_url", sa.String(500), nullable=False),
        sa.Column("git_ref", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("owner_email", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("last_synced_at", sa.DateTime(timezone=True)),
        sa.Column("last_commit", sa.String(64)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("last_error", sa.Text()),
        *_timestamps(),
    )
    op.create_index("ix_collections_slug", "collections", ["slug"], unique=True)
    op.create_table(
        "codebundles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("collection_id", sa.Integer(),
                  sa.ForeignKey("collections.id", ondelete="CASCADE"), nullable=False),
        sa.Column("slug", sa.String(200), nullable=False),
        sa.Column("display_name", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.Column("author", sa.String(300), nullable=False),
        sa.Column("support_tags", sa.JSON(), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("tasks", sa.JSON(), nullable=False),
        sa.Column("user_variables", sa.JSON(), nullable=False),
        sa.Column("readme", sa.Text(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("access_level", sa.String(20), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("enhancement_status", sa.String(20), nullable=False),
        sa.Column("ai_description", sa.Text()),
        sa.Column("ai_access_level", sa.String(20)),
        sa.Column("iam_hints", sa.JSON()),
        sa.Column("enhanced_at", sa.DateTime(timezone=True)),
        *_timestamps(),
        sa.UniqueConstraint("collection_id", "slug", name="uq_bundle_collection_slug"),
    )
    op.create_index("ix_codebundles_collection_id", "codebundles", ["collection_id"])
    op.create_index("ix_codebundles_enhancement_status", "codebundles", ["enhancement_status"])
    op.create_table(
        "enhancement_logs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("bundle_id", sa.Integer(),
                  sa.ForeignKey("codebundles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("provider", sa.String(100), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_enhancement_logs_bundle_id", "enhancement_logs", ["bundle_id"])


def downgrade() -> None:
    op.drop_table("enhancement_logs")
    op.drop_table("codebundles")
    op.drop_table("collections")
