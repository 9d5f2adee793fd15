from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from registry.config import load_settings
from registry.db import create_schema, make_engine, session_scope
from registry.models import Collection
from sqlalchemy import inspect, select, text


def test_defaults_use_home_for_database(tmp_path: Path) -> None:
    settings = load_settings(environ={"REGISTRY_HOME": str(tmp_path / "home")})
    assert settings.home == tmp_path / "home"
    assert settings.db_url == f"sqlite:///{tmp_path / 'home'}/registry.db"
    assert settings.broker_url is None and settings.result_backend is None
    assert settings.enhancer == "local"
    assert settings.workdir == tmp_path / "home" / "checkouts"


def test_environment_and_overrides(tmp_path: Path) -> None:
    env = {
        "REGISTRY_HOME": str(tmp_path),
        "REGISTRY_DB_URL": "postgresql+psycopg://u@db/registry",
        "REGISTRY_BROKER_URL": "redis://localhost:6379/3",
        "REGISTRY_RESULT_BACKEND": "redis://localhost:6379/4",
        "REGISTRY_ENHANCER": "fail:x",
    }
    settings = load_settings(environ=env, broker_url="redis://other:6379/0")
    assert settings.db_url == env["REGISTRY_DB_URL"]
    assert settings.broker_url == "redis://other:6379/0"
    assert settings.result_backend == env["REGISTRY_RESULT_BACKEND"]
    assert settings.enhancer == "fail:x"


def test_unknown_override_is_refused() -> None:
    with pytest.raises(TypeError, match="brokr_url"):
        load_settings(environ={}, brokr_url="x")


def test_session_scope_commits_on_success_and_rolls_back_on_error(db_url: str) -> None:
    with session_scope(db_url) as session:
        session.add(Collection(slug="kept", name="Kept", git_url="file:///k"))
    with pytest.raises(RuntimeError), session_scope(db_url) as session:
        session.add(Collection(slug="dropped", name="Dropped", git_url="file:///d"))
        session.flush()
        raise RuntimeError("boom")
    with session_scope(db_url) as session:
        assert session.scalars(select(Collection.slug)).all() == ["kept"]


def test_make_engine_creates_folder_and_schema_is_idempotent(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'deep' / 'dir' / 'r.db'}")
    create_schema(engine)
    create_schema(engine)
    assert (tmp_path / "deep" / "dir" / "r.db").exists()
    with session_scope(engine) as session:
        assert session.scalars(select(Collection)).all() == []


def test_a_missing_required_column_is_named_not_guessed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'odd.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE collections (id INTEGER PRIMARY KEY)"))
    with pytest.raises(RuntimeError, match=r"'collections' lacks the required column 'slug'"):
        create_schema(engine)
    with engine.begin() as conn:
        assert inspect(conn).get_table_names() == ["collections"]  # nothing half-done


def test_an_engine_opens_a_new_file_another_process_is_writing(tmp_path: Path) -> None:
    """SQLite refuses the switch to WAL at once while another connection writes in the
    old mode (an API and workers opening a new database together): asked again."""
    path = tmp_path / "registry.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE other_process (n INTEGER)")
    threading.Timer(0.3, other.execute, ("COMMIT",)).start()
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
    other.close()
