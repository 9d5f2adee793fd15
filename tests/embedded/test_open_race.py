"""Several processes opening a new broker file at once: kombu checks for its tables,
then creates them, under a lock of its own process only. Another process creating them
in between made the loser crash ("table kombu_queue already exists"), which hung the
6,000-message test when it was a producer (its consumers waited for it forever)."""

from __future__ import annotations

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
    with app.connection_for_write() as connection:
        box = connection.SimpleQueue("race")
        box.put({"n": 1})
        message = box.get(timeout=5)
        assert message.payload == {"n": 1}
        message.ack()
        box.close()
    assert len(calls) == 2
