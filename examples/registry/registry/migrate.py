"""Schema migrations with Alembic: upgrade any registry database to the newest schema.

The revisions live in ``registry/migrations`` (shipped as package data, so an installed
registry can upgrade). :func:`upgrade_to_head` runs them in one transaction holding a
lock — ``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL — so processes
that start together take turns and the later ones find the work done. A database
made before the registry used Alembic (tables, no ``alembic_version``) is first
stamped at the revision its tables match (:func:`adopt_revision`), then upgraded.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

__all__ = [
    "BASELINE_COLUMNS",
    "adopt_revision",
    "alembic_config",
    "current_revision",
    "head_revision",
    "upgrade_to_head",
]

SCRIPT_LOCATION = "registry:migrations"
#: Any number: the key of PostgreSQL's advisory lock that serialises migrations.
_PG_LOCK_KEY = 0x7265_6769  # "regi"
#: The columns the baseline revision's tables have: a pre-Alembic database lacking one
#: is not a registry database this code knows how to upgrade.
BASELINE_COLUMNS = {
    "collections": ("id", "slug", "name", "git_url", "git_ref", "owner", "owner_email",
                    "description", "last_synced_at", "last_commit", "status", "last_error",
                    "created_at", "updated_at"),
    "codebundles": ("id", "collection_id", "slug", "display_name", "description", "doc",
                    "author", "support_tags", "kinds", "tasks", "user_variables", "readme",
                    "meta", "access_level", "content_hash", "enhancement_status",
                    "ai_description", "ai_access_level", "iam_hints", "enhanced_at",
                    "created_at", "updated_at"),
    "enhancement_logs": ("id", "bundle_id", "status", "provider", "message", "content_hash",
                         "started_at", "finished_at"),
}
_BACKFILL_MARKER = "bundle_tags_backfill"  # the pre-Alembic backfill's row


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the packaged scripts, bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the packaged migrations have a single head"
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (``None``: not managed by Alembic yet)."""
    return MigrationContext.configure(connection).get_current_revision()


def adopt_revision(connection: Connection) -> str | None:
    """The revision a pre-Alembic registry database matches (``None``: no tables).

    Raises ``RuntimeError`` naming a table or column the baseline needs and the
    database lacks: such a database is not guessed at.
    """
    inspector = inspect(connection)
    tables = set(inspector.get_table_names())
    if not tables & set(BASELINE_COLUMNS):
        return None
    for table, wanted in BASELINE_COLUMNS.items():
        if table not in tables:
            raise RuntimeError(f"the database lacks the table {table!r}; "
                               "start from a new database")
        present = {column["name"] for column in inspector.get_columns(table)}
        for column in wanted:
            if column not in present:
                raise RuntimeError(
                    f"the database's table {table!r} lacks the required column {column!r}; "
                    "start from a new database")
    if "bundle_tags" in tables and "schema_migrations" in tables and connection.execute(
        text("SELECT 1 FROM schema_migrations WHERE name = :name"),
        {"name": _BACKFILL_MARKER},
    ).first():
        return "0003_bundle_tags"
    log_columns = {column["name"] for column in inspector.get_columns("enhancement_logs")}
    return "0002_log_task_id" if "task_id" in log_columns else "0001_baseline"


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    # SQLite: the registry's engines begin with BEGIN IMMEDIATE (registry.db.make_engine),
    # which takes the write lock before anything is read.


def upgrade_to_head(engine: Engine) -> str:
    """Upgrade ``engine``'s database to the newest revision, keeping its rows."""
    with engine.begin() as connection:
        _lock(connection)
        config = alembic_config(connection)
        if current_revision(connection) is None and (
                adopted := adopt_revision(connection)) is not None:
            command.stamp(config, adopted)
        command.upgrade(config, "head")
        revision = current_revision(connection)
    assert revision is not None
    return revision
