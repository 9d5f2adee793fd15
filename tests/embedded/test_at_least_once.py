"""The embedded broker on real workers: acked messages go away, unacked ones come back."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from celery import Celery

from celery_safe.testing import WorkerProcess

HERE = Path(__file__).parent
DEADLINE = 30.0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def broker_rows(directory: Path) -> tuple[int, int]:
    """(message rows, delivery records) in the broker file."""
    with sqlite3.connect(directory / "broker.sqlite", timeout=30) as db:
        messages = db.execute("SELECT count(*) FROM kombu_message").fetchone()[0]
        deliveries = db.execute("SELECT count(*) FROM kombu_message_delivery").fetchone()[0]
    return int(messages), int(deliveries)


def worker(directory: Path, *, visibility: float = 3600, concurrency: int = 2) -> WorkerProcess:
    env = {"ACK_TEST_DIR": str(directory), "ACK_TEST_VISIBILITY": str(visibility)}
    return WorkerProcess("ack_app", concurrency=concurrency, cwd=HERE, env=env)


@pytest.mark.worker
def test_acked_messages_are_deleted(tmp_path: Path, client: Celery) -> None:
    with worker(tmp_path):
        results = [client.send_task("ack_app.add", args=(i, i)) for i in range(20)]
        sums = [result.get(timeout=DEADLINE, interval=0.05) for result in results]
        assert sums == [2 * i for i in range(20)]
        wait_for(lambda: broker_rows(tmp_path) == (0, 0), "acked messages deleted")


@pytest.mark.worker
def test_task_of_a_sigkilled_worker_runs_on_another_after_the_timeout(
    tmp_path: Path, client: Celery
) -> None:
    marker = tmp_path / "started"
    with worker(tmp_path, concurrency=1) as doomed:
        result = client.send_task("ack_app.mark_then_sleep", args=(str(marker),))
        wait_for(marker.exists, "the task to start")
        doomed.kill()  # main process and pool: no clean shutdown, nothing restored
    assert broker_rows(tmp_path) == (1, 1)  # still hidden, still claimed
    with worker(tmp_path, visibility=2, concurrency=1):
        assert result.get(timeout=DEADLINE, interval=0.05) == "rerun"
        wait_for(lambda: broker_rows(tmp_path) == (0, 0), "the rerun acked")


@pytest.mark.worker
def test_rejected_message_is_requeued_and_delivered_again(tmp_path: Path, client: Celery) -> None:
    marker = tmp_path / "rejected"
    with worker(tmp_path, concurrency=1):
        result = client.send_task("ack_app.reject_once", args=(str(marker),))
        assert result.get(timeout=DEADLINE, interval=0.05) == "redelivered"
        assert marker.exists()
        wait_for(lambda: broker_rows(tmp_path) == (0, 0), "the redelivery acked")
