"""Chords in the embedded results file: fired once by the last part, failing as on Redis."""

from __future__ import annotations

import os
import re
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from celery import chord

from celery_safe.testing import WorkerProcess

HERE = Path(__file__).parent
DEADLINE = 60.0


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Setup:
    """The chord app as a client of one broker, and a worker of the same."""

    def __init__(self, broker: str, marks: Path) -> None:
        self.marks = marks
        self.env = {"CHORD_TEST_BROKER": broker, "CHORD_TEST_DIR": str(marks),
                    "CHORD_TEST_QUEUE": f"chords-{uuid.uuid4().hex}"}
        os.environ.update(self.env)
        import chord_app  # configured by the environment just set

        self.module: ModuleType = chord_app

    def worker(self) -> WorkerProcess:
        return WorkerProcess("chord_app", concurrency=2, cwd=HERE, env=self.env,
                             queues=[self.env["CHORD_TEST_QUEUE"]])

    def marks_named(self, prefix: str) -> list[Path]:
        return sorted(self.marks.glob(f"{prefix}*"))


@pytest.fixture
def fresh_chord_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, Path], Setup]]:
    monkeypatch.syspath_prepend(str(HERE))
    made: list[Setup] = []

    def make(broker: str, marks: Path) -> Setup:
        sys.modules.pop("chord_app", None)
        for key in ("CHORD_TEST_BROKER", "CHORD_TEST_DIR", "CHORD_TEST_QUEUE"):
            monkeypatch.delenv(key, raising=False)
        marks.mkdir(parents=True, exist_ok=True)
        setup = Setup(broker, marks)
        made.append(setup)
        return setup

    yield make
    for setup in made:
        setup.module.app.close()
    sys.modules.pop("chord_app", None)


def broker_rows(directory: Path) -> int:
    with sqlite3.connect(directory / "broker.sqlite", timeout=30) as db:
        return int(db.execute("SELECT count(*) FROM kombu_message").fetchone()[0])


@pytest.mark.worker
def test_a_part_redelivered_after_sigkill_fires_the_body_once(
    tmp_path: Path, fresh_chord_app: Callable[[str, Path], Setup]
) -> None:
    setup = fresh_chord_app(f"embedded:{tmp_path / 'db'}", tmp_path / "marks")
    app = setup.module
    header = [app.add.s(1, 1), app.add.s(2, 2),
              app.last_then_killed.s(3, ["add-1-1", "add-2-2"])]
    with setup.worker():
        result = chord(header, app.record_total.s())()
        assert result.get(timeout=DEADLINE) == 2 + 4 + 3
        # The killed part is delivered again (Celery 5.7 acks it without running it, as its
        # result is stored; older Celery runs it again). Once every message is acked, a
        # second body, had one been sent, would have run too.
        wait_for(lambda: broker_rows(tmp_path / "db") == 0, "every message acked")
    assert (tmp_path / "marks" / "killed-once").exists()
    assert len(setup.marks_named("body-run-")) == 1


def _chord_failure(setup: Setup) -> str:
    app = setup.module
    header = [app.add.s(1, 1), app.fails.s(2), app.add.s(3, 3)]
    with setup.worker():
        result = chord(header, app.record_total.s())()
        error = result.get(timeout=DEADLINE, propagate=False)  # the body's own state
    assert result.state == "FAILURE"
    assert result.parent is not None
    text = f"{type(error).__module__}.{type(error).__name__}: {error}"
    assert result.parent.results[1].id in text
    assert not setup.marks_named("body-run-")
    return re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", text)


@pytest.mark.worker
@pytest.mark.redis
def test_a_failed_part_fails_the_chord_as_on_redis(
    tmp_path: Path, fresh_chord_app: Callable[[str, Path], Setup], celery_safe_redis_url: str
) -> None:
    embedded = _chord_failure(fresh_chord_app(f"embedded:{tmp_path / 'db'}", tmp_path / "e"))
    redis = _chord_failure(fresh_chord_app(celery_safe_redis_url, tmp_path / "r"))
    assert embedded == redis
    assert "Dependency <id> raised ValueError('part 2 fails')" in embedded
