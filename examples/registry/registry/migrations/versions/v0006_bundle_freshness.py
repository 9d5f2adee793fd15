"""Fresher data: each bundle's task count, last commit date and source URL; analytics.

``task_count`` and ``source_url`` are filled here from what is stored (``tasks``; the
collection's URL and ref through ``registry.links.source_url``). ``last_commit_at``
comes from git, so it stays empty until the bundle's collection is synced again.
``task_growth_reports`` holds the analytics runs' merged results.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from registry.links import source_url

revision = "0006_bundle_freshness"
down_revision = "0005_pipeline_runs"
branch_labels = None
depends_on = None

_bundles = sa.table("codebundles", sa.column("id", sa.Integer()),
                    sa.column("collection_id", sa.Integer()), sa.column("slug", sa.String()),
                    sa.column("tasks", sa.JSON()), sa.column("task_count", sa.Integer()),
                    sa.column("source_url", sa.String()))
_collections = sa.table("collections", sa.column("id", sa.Integer()),
                        sa.column("git_url", sa.String()), sa.column("git_ref", sa.String()))


def upgrade() -> None:
    with op.batch_alter_table("codebundles") as batch:
        batch.add_column(sa.Column("task_count", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("last_commit_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("source_url", sa.String(1000), nullable=True))
        batch.create_index("ix_codebundles_last_commit_at", ["last_commit_at"])
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_bundles.c.id, _bundles.c.slug, _bundles.c.tasks, _collections.c.git_url,
                  _collections.c.git_ref)
        .join(_collections, _collections.c.id == _bundles.c.collection_id)
    ).all()
    values = [{"bundle": bundle_id, "count": len(tasks or []),
               "url": source_url(git_url, git_ref, slug)}
              for bundle_id, slug, tasks, git_url, git_ref in rows]
    if values:  # one executemany, not a statement per bundle
        bind.execute(
            sa.update(_bundles).where(_bundles.c.id == sa.bindparam("bundle"))
            .values(task_count=sa.bindparam("count"), source_url=sa.bindparam("url")),
            values,
        )
    op.create_table(
        "task_growth_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("task_growth_reports")
    with op.batch_alter_table("codebundles") as batch:
        batch.drop_index("ix_codebundles_last_commit_at")
        batch.drop_column("source_url")
        batch.drop_column("last_commit_at")
        batch.drop_column("task_count")
