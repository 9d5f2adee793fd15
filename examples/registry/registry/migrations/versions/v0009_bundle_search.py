"""Full-text search: ``bundle_search`` (each bundle's text by field) and its index.

The index, ``bundle_search_fts``, belongs to the database: an FTS5 table (Porter
stemming, BM25) on SQLite, a ``tsvector`` table with a GIN index (English stemming) on
PostgreSQL, each kept in step with ``bundle_search`` by triggers made here. The rows of
the bundles already stored are written here; the pipeline writes them from then on
(``registry.search.sync_bundle_search``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from registry.search import search_fields

revision = "0009_bundle_search"
down_revision = "0008_task_growth_states"
branch_labels = None
depends_on = None

_FIELDS = ("name", "platforms", "tags", "description", "tasks")
_bundles = sa.table(
    "codebundles", sa.column("id", sa.Integer()), sa.column("slug", sa.String()),
    sa.column("display_name", sa.String()), sa.column("description", sa.Text()),
    sa.column("doc", sa.Text()), sa.column("support_tags", sa.JSON()),
    sa.column("tasks", sa.JSON()))

_SQLITE = [
    "CREATE VIRTUAL TABLE bundle_search_fts USING fts5("
    f"{', '.join(_FIELDS)}, content='bundle_search', content_rowid='bundle_id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER bundle_search_fts_insert AFTER INSERT ON bundle_search BEGIN "
    f"INSERT INTO bundle_search_fts(rowid, {', '.join(_FIELDS)}) VALUES (new.bundle_id, "
    f"{', '.join('new.' + f for f in _FIELDS)}); END",
    "CREATE TRIGGER bundle_search_fts_delete AFTER DELETE ON bundle_search BEGIN "
    f"INSERT INTO bundle_search_fts(bundle_search_fts, rowid, {', '.join(_FIELDS)}) "
    f"VALUES ('delete', old.bundle_id, {', '.join('old.' + f for f in _FIELDS)}); END",
    "CREATE TRIGGER bundle_search_fts_update AFTER UPDATE ON bundle_search BEGIN "
    f"INSERT INTO bundle_search_fts(bundle_search_fts, rowid, {', '.join(_FIELDS)}) "
    f"VALUES ('delete', old.bundle_id, {', '.join('old.' + f for f in _FIELDS)}); "
    f"INSERT INTO bundle_search_fts(rowid, {', '.join(_FIELDS)}) VALUES (new.bundle_id, "
    f"{', '.join('new.' + f for f in _FIELDS)}); END",
]
_POSTGRESQL = [
    "CREATE TABLE bundle_search_fts (bundle_id integer PRIMARY KEY "
    "REFERENCES bundle_search (bundle_id) ON DELETE CASCADE, document tsvector NOT NULL)",
    "CREATE INDEX ix_bundle_search_fts_document ON bundle_search_fts USING gin (document)",
    "CREATE OR REPLACE FUNCTION bundle_search_fts_sync() RETURNS trigger AS $$ BEGIN "
    "INSERT INTO bundle_search_fts (bundle_id, document) VALUES (NEW.bundle_id, "
    "setweight(to_tsvector('english', coalesce(NEW.name, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(NEW.platforms, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(NEW.tags, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(NEW.description, '')), 'C') || "
    "setweight(to_tsvector('english', coalesce(NEW.tasks, '')), 'D')) "
    "ON CONFLICT (bundle_id) DO UPDATE SET document = EXCLUDED.document; "
    "RETURN NEW; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER bundle_search_fts_sync AFTER INSERT OR UPDATE ON bundle_search "
    "FOR EACH ROW EXECUTE FUNCTION bundle_search_fts_sync()",
]


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "bundle_search",
        sa.Column("bundle_id", sa.Integer(),
                  sa.ForeignKey("codebundles.id", ondelete="CASCADE"), primary_key=True),
        *(sa.Column(field, sa.Text(), nullable=False) for field in _FIELDS),
    )
    for statement in _POSTGRESQL if bind.dialect.name == "postgresql" else _SQLITE:
        bind.exec_driver_sql(statement)
    rows = [{"bundle_id": row.id, **search_fields(
                slug=row.slug, display_name=row.display_name, description=row.description,
                doc=row.doc, support_tags=row.support_tags, tasks=row.tasks)}
            for row in bind.execute(sa.select(_bundles))]
    if rows:
        search = sa.table("bundle_search", sa.column("bundle_id", sa.Integer()),
                          *(sa.column(field, sa.Text()) for field in _FIELDS))
        bind.execute(sa.insert(search), rows)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql("DROP TABLE bundle_search_fts")
        op.drop_table("bundle_search")
        bind.exec_driver_sql("DROP FUNCTION bundle_search_fts_sync()")
    else:
        op.drop_table("bundle_search")  # its triggers go with it
        bind.exec_driver_sql("DROP TABLE bundle_search_fts")
