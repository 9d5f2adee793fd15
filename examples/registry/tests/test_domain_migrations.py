"""Alembic migrations: a new database, databases of older releases with rows in them,
the CLI's ``init`` upgrading one, and the scripts shipped inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from legacy_schema import create_legacy_database
from migration_support import (
    OLD_BUNDLES,
    V0004_COLLECTIONS,
    assert_freshness_backfilled,
    assert_upgraded_with_rows,
    database_at_0004,
    schema_differences,
)
from registry import runs
from registry.db import create_schema, make_engine, session_scope
from registry.migrate import alembic_config, head_revision
from registry.models import CodeBundle, EnhancementLog
from sqlalchemy import Engine, inspect, select


@pytest.mark.parametrize(
    ("with_task_id", "with_tag_index"),
    [(True, True), (True, False), (False, False)],
    ids=["main-before-alembic", "before-tag-index", "before-task-id"],
)
def test_an_older_database_with_rows_is_upgraded_to_head(
    tmp_path: Path, with_task_id: bool, with_tag_index: bool
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    create_legacy_database(engine, "old", OLD_BUNDLES, with_task_id=with_task_id,
                           with_tag_index=with_tag_index, log_message="first try")
    assert create_schema(engine) == head_revision()
    assert_upgraded_with_rows(engine)
    with session_scope(engine) as session:  # the new column takes values
        log = session.scalars(select(EnhancementLog)).one()
        log.task_id = "celery-task-1"
    assert create_schema(engine) == head_revision()  # a second opening changes nothing
    with session_scope(engine) as session:
        assert session.scalars(select(EnhancementLog.task_id)).one() == "celery-task-1"
    engine.dispose()


def test_a_database_at_0004_gets_the_freshness_columns_filled(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'v0004.db'}")
    database_at_0004(engine)
    assert create_schema(engine) == head_revision()
    assert_freshness_backfilled(engine)
    engine.dispose()


def _downgraded(path: Path, revision: str) -> Engine:
    """A database at 0004 with rows, upgraded to head, then downgraded to ``revision``."""
    from alembic import command

    engine = make_engine(f"sqlite:///{path}")
    database_at_0004(engine)
    create_schema(engine)
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)
    return engine


def test_v0006_downgrades_and_upgrades_again_keeping_rows(tmp_path: Path) -> None:
    engine = _downgraded(tmp_path / "v0004.db", "0004_drop_schema_migrations")
    assert create_schema(engine) == head_revision()
    assert_freshness_backfilled(engine)
    engine.dispose()


def test_v0007_gives_stored_bundles_no_diagnostics_and_downgrades(tmp_path: Path) -> None:
    """Before 0007 a bundle with Robot problems was refused: every stored row has none."""
    engine = _downgraded(tmp_path / "v0006.db", "0006_bundle_freshness")
    with engine.connect() as conn:
        assert "diagnostics" not in {c["name"] for c in inspect(conn).get_columns("codebundles")}
    assert create_schema(engine) == head_revision()
    with session_scope(engine) as session:
        stored = session.execute(select(CodeBundle.slug, CodeBundle.diagnostics)).all()
    assert sorted(stored) == sorted((f"{slug}-bundle", []) for slug in V0004_COLLECTIONS)
    assert_freshness_backfilled(engine)
    engine.dispose()


def test_a_new_database_gets_the_models_schema(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert create_schema(engine) == head_revision()
    with engine.connect() as conn:
        assert schema_differences(conn) == []
    engine.dispose()


def test_init_on_the_command_line_upgrades_an_older_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    create_legacy_database(engine, "old", OLD_BUNDLES, log_message="first try")
    engine.dispose()
    done = subprocess.run(
        [sys.executable, "-m", "registry", "init", "--home", str(tmp_path / "home"),
         "--db", url, "--collections", "1", "--bundles", "1"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    engine = make_engine(url)
    assert_upgraded_with_rows(engine)
    engine.dispose()


def test_the_revisions_form_one_line_from_the_baseline() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    revisions = [r.revision for r in script.walk_revisions()]
    assert revisions[-1] == "0001_baseline" and revisions[0] == head_revision()
    assert script.get_heads() == [head_revision()]


def test_the_wheel_ships_the_migration_scripts(tmp_path: Path) -> None:
    """An installed registry can upgrade: the scripts are package data of the wheel."""
    project = Path(__file__).resolve().parents[1]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps",
         "--quiet", "--wheel-dir", str(tmp_path), str(project)],
        check=True, timeout=300, capture_output=True)
    [wheel] = tmp_path.glob("celery_safe_registry-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {name for name in names if name.startswith("registry/migrations/")}
    in_tree = {path.relative_to(project).as_posix()
               for path in (project / "registry" / "migrations").rglob("*")
               if path.is_file() and "__pycache__" not in path.parts}
    assert in_tree and shipped == in_tree


def test_run_records_made_before_the_revision_are_kept(tmp_path: Path) -> None:
    """``pipeline_runs`` was created on demand before revision 0005: its rows stay, and
    the table gains the admin API's columns and indexes."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    create_legacy_database(engine, "old", OLD_BUNDLES, log_message="first try")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE pipeline_runs (id VARCHAR(155) NOT NULL PRIMARY KEY, "
            "started_at DATETIME NOT NULL, finished_at DATETIME, status VARCHAR(20) NOT NULL, "
            "collections JSON NOT NULL, result_graph JSON NOT NULL, task_names JSON NOT NULL, "
            "summary JSON, error TEXT, seconds FLOAT)")
        conn.exec_driver_sql(
            "INSERT INTO pipeline_runs VALUES ('run-1', '2026-01-02 03:04:05', NULL, "
            "'finished', '[\"old\"]', '[]', '{}', '{\"enhanced\": 2}', NULL, 1.5)")
    assert create_schema(engine) == head_revision()
    assert_upgraded_with_rows(engine)
    run = runs.get_run(engine, "run-1")
    assert run is not None
    assert (run["action"], run["request_key"], run["summary"]) == ("populate", None,
                                                                   {"enhanced": 2})
    engine.dispose()
