"""Enhancement log: the Celery task id of each attempt (a redelivery carries the same)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_log_task_id"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enhancement_logs") as batch:
        batch.add_column(sa.Column("task_id", sa.String(155), nullable=True))
        batch.create_index("ix_enhancement_logs_task_id", ["task_id"])


def downgrade() -> None:
    with op.batch_alter_table("enhancement_logs") as batch:
        batch.drop_index("ix_enhancement_logs_task_id")
        batch.drop_column("task_id")
