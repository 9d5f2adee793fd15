"""``pipeline_runs``, the runs the web UI and the admin API show, under Alembic.

Registries of the previous release created the table on demand, outside the
migrations (without ``action`` and ``request_key``): such a table is kept, with its
rows, and given the new columns and indexes.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005_pipeline_runs"
down_revision = "0004_drop_schema_migrations"
branch_labels = None
depends_on = None



def _new_columns() -> list[sa.Column[Any]]:
    """The columns the table created outside the migrations lacks (fresh objects each
    time: a column belongs to one table)."""
    return [sa.Column("action", sa.String(300), nullable=False, server_default="populate"),
            sa.Column("request_key", sa.String(200))]


def _indexes() -> None:
    op.create_index("ix_pipeline_runs_request_key", "pipeline_runs", ["request_key"],
                    unique=True)
    op.create_index("ix_pipeline_runs_started_at", "pipeline_runs", ["started_at"])


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if inspector.has_table("pipeline_runs"):
        present = {column["name"] for column in inspector.get_columns("pipeline_runs")}
        with op.batch_alter_table("pipeline_runs") as batch:
            for column in _new_columns():
                if column.name not in present:
                    batch.add_column(column)
        _indexes()
        return
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.String(155), primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("collections", sa.JSON(), nullable=False),
        sa.Column("result_graph", sa.JSON(), nullable=False),
        sa.Column("task_names", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON()),
        sa.Column("error", sa.Text()),
        sa.Column("seconds", sa.Float()),
        *_new_columns(),
    )
    _indexes()


def downgrade() -> None:
    op.drop_table("pipeline_runs")
