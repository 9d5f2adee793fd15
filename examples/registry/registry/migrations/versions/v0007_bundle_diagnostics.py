"""What Robot reports about a stored bundle without refusing it: ``diagnostics``.

Before this revision such a bundle was refused, so every stored row starts with none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_bundle_diagnostics"
down_revision = "0006_bundle_freshness"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("codebundles") as batch:
        batch.add_column(sa.Column("diagnostics", sa.JSON(), nullable=False,
                                   server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("codebundles") as batch:
        batch.drop_column("diagnostics")
