"""Incremental analytics: where each collection's last history walk ended.

``task_growth_states`` holds, per collection slug, the commit the walk reached and its
resumable state (``registry.history.GrowthState`` as JSON), so the next walk reads only
the commits after it. A new table: nothing to backfill (the first walk is a full one).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_task_growth_states"
down_revision = "0007_bundle_diagnostics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_growth_states",
        sa.Column("slug", sa.String(200), primary_key=True),
        sa.Column("commit", sa.String(64), nullable=False),
        sa.Column("walked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("task_growth_states")
