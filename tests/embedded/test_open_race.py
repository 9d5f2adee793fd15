"""Several processes opening a new broker file at once: kombu checks for its tables,
then creates them, under a lock of its own process only. Another process creating them
in between made the loser crash ("table kombu_queue already exists"), which hung the
6,000-message test when it was a producer (its consumers waited for it forever)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from kombu.transport import sqlalchemy as kombu_sqla
from sqlalchemy.exc import OperationalError

from celery_safe import embedded


def test_a_channel_opens_when_another_process_made_the_tables_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = kombu_sqla.metadata.create_all
    calls: list[int] = []

    def create_all_losing_the_race(engine: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            real(engine)  # the other process, between kombu's check and its create
            raise OperationalError(
                "CREATE TABLE kombu_queue", {}, Exception("table kombu_queue already exists")
            )
        real(engine, *args, **kwargs)

    monkeypatch.setattr(kombu_sqla.metadata, "create_all", create_all_losing_the_race)
    app = embedded.configure(Celery("race", set_as_current=False), tmp_path)
    _round_trip(app)
    assert len(calls) == 2


def test_a_channel_opens_while_another_process_writes_the_new_file_in_its_old_mode(
    tmp_path: Path,
) -> None:
    """Switching to WAL needs the file to itself, and SQLite refuses it at once ("database
    is locked"), busy timeout or not, while another connection writes in the old mode:
    several workers opening a fresh broker file together crashed one (CI, Python 3.10:
    the 6,000-message test's consumers then waited for that producer until timed out)."""
    app = embedded.configure(Celery("race", set_as_current=False), tmp_path)
    other = sqlite3.connect(
        tmp_path / "broker.sqlite", isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")  # another process, making its tables
    other.execute("CREATE TABLE other_process (n INTEGER)")
    refused = sqlite3.connect(tmp_path / "broker.sqlite", timeout=5, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):  # SQLite's premise
        refused.execute("PRAGMA journal_mode=WAL")
    refused.close()
    threading.Timer(0.3, other.execute, ("COMMIT",)).start()
    _round_trip(app)
    other.close()
    after = sqlite3.connect(tmp_path / "broker.sqlite")
    assert after.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    after.close()


def _round_trip(app: Celery) -> None:
    """Put one message on the broker and take it back."""
    with app.connection_for_write() as connection:
        box = connection.SimpleQueue("race")
        box.put({"n": 1})
        message = box.get(timeout=5)
        assert message.payload == {"n": 1}
        message.ack()
        box.close()
