"""Drop ``schema_migrations``: the marker table of the hand-written backfill, which
Alembic's own ``alembic_version`` replaces."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_drop_schema_migrations"
down_revision = "0003_bundle_tags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("schema_migrations"):
        op.drop_table("schema_migrations")


def downgrade() -> None:
    op.create_table(
        "schema_migrations",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )
