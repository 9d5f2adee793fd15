"""The exact-match tag index (``bundle_tags``), filled from the bundles already stored.

A database of the last release without Alembic may hold the table already, created
before a crash stopped its backfill: it is then kept, and refilled here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from registry.tags import bundle_tag_pairs

revision = "0003_bundle_tags"
down_revision = "0002_log_task_id"
branch_labels = None
depends_on = None

_bundles = sa.table("codebundles", sa.column("id", sa.Integer()),
                    sa.column("support_tags", sa.JSON()), sa.column("tasks", sa.JSON()))


def upgrade() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("bundle_tags"):
        op.create_table(
            "bundle_tags",
            sa.Column("bundle_id", sa.Integer(),
                      sa.ForeignKey("codebundles.id", ondelete="CASCADE"), primary_key=True),
            sa.Column("kind", sa.String(20), primary_key=True),
            sa.Column("tag", sa.String(), primary_key=True),
        )
        op.create_index("ix_bundle_tags_kind_tag", "bundle_tags", ["kind", "tag"])
    tags = sa.table("bundle_tags", sa.column("bundle_id", sa.Integer()),
                    sa.column("kind", sa.String()), sa.column("tag", sa.String()))
    bind.execute(sa.delete(tags))
    rows = [{"bundle_id": bundle_id, "kind": kind, "tag": tag}
            for bundle_id, support_tags, tasks in bind.execute(sa.select(_bundles))
            for kind, tag in sorted(bundle_tag_pairs(support_tags, tasks))]
    if rows:
        bind.execute(sa.insert(tags), rows)


def downgrade() -> None:
    op.drop_table("bundle_tags")
