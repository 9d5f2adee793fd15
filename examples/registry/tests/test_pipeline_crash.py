"""A worker dies mid-task; with ``acks_late`` the run still completes, nothing lost or doubled.

One enhancement is made slow (``REGISTRY_SLOW_ENHANCE``: the first attempt of that
bundle writes a marker holding its pid, then sleeps), so the kill lands mid-task.

- Redis: the whole worker (main process and pool) is SIGKILLed; a new worker starts and
  gets the unacknowledged message back once the visibility timeout has passed.
- RabbitMQ (Redis results): the same kill; RabbitMQ requeues the unacknowledged message
  as soon as the dead worker's connection closes, and the new worker gets it.
- Embedded SQLite: the pool process running the task is SIGKILLed; the worker's main
  process requeues the message (``task_reject_on_worker_lost``). The embedded broker
  gives a whole SIGKILLed worker's messages back after its visibility timeout too
  (``tests/embedded/test_at_least_once.py``); that kill is not run here because the
  kill can also land before ``launch_enhancements`` is acknowledged: redelivered, it
  finds nothing left to enhance, and its summary counts 0 enhanced (Redis: same race).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import yaml
from celery import Celery
from kombu.exceptions import OperationalError
from pipeline_support import (
    RegistryHome,
    bundle_rows,
    completed_logs,
    crashing_run,
    finish,
    kill_and_rescue,
    redis_database,
    wait_for_file,
)
from registry.samples import generate_sample_collections

pytestmark = pytest.mark.worker

REDIS_DB = 8
LAUNCHER = "registry.launch_enhancements"
COLLECTIONS, BUNDLES = 2, 3


def _wait_until_off_the_worker(broker_url: str, task_name: str, timeout: float) -> None:
    """Wait until no worker is running ``task_name`` (asked by remote control).

    With ``acks_late`` a worker acknowledges a task's message in the same step of its event
    loop that takes the task off its active list (``Request.on_success``/``on_failure``),
    and answers ``inspect`` in another step: once the answer omits the task, it is acked.
    """
    deadline = time.monotonic() + timeout
    while True:
        probe = Celery("crash-probe", broker=broker_url)
        try:
            active = probe.control.inspect(timeout=2.0).active()
        except (OSError, OperationalError) as exc:  # the broker dropped the probe: ask anew
            active = None
            assert time.monotonic() < deadline, f"cannot ask the workers: {exc!r}"
        finally:
            probe.close()
        if active and not any(r["name"] == task_name for rs in active.values() for r in rs):
            return
        assert time.monotonic() < deadline, f"{task_name} still active: {active}"


def _assert_complete_exactly_once(home: RegistryHome, summary: dict[str, object]) -> None:
    expected = COLLECTIONS * BUNDLES
    assert summary["collections_synced"] == COLLECTIONS and summary["errors"] == []
    with home.session() as session:
        rows, logs = bundle_rows(session), completed_logs(session)
    assert len(rows) == expected  # nothing lost, no duplicate rows
    assert {status for _, _, status in rows.values()} == {"completed"}
    assert logs == {bundle_id: 1 for bundle_id, _, _ in rows.values()}  # nothing doubled
    assert summary["enhanced"] == expected, summary


def _samples(home: RegistryHome) -> tuple[Path, str]:
    """Sample collections, and ``collection/bundle`` of the one to slow down."""
    samples = generate_sample_collections(
        home.home / "samples", collections=COLLECTIONS, bundles_per_collection=BUNDLES
    )
    first = yaml.safe_load(samples.read_text())["codecollections"][0]
    bundles = Path(first["git_url"].removeprefix("file://")) / "codebundles"
    return samples, f"{first['slug']}/{min(p.name for p in bundles.iterdir())}"


@pytest.mark.redis
@pytest.mark.parametrize("broker", ["redis", pytest.param("amqp", marks=pytest.mark.amqp)])
def test_whole_worker_killed_mid_task(
    request: pytest.FixtureRequest, tmp_path: Path, celery_safe_redis_url: str, broker: str
) -> None:
    results = redis_database(celery_safe_redis_url, REDIS_DB)
    broker_url = request.getfixturevalue("celery_safe_amqp_url") if broker == "amqp" else results
    home = RegistryHome(
        tmp_path / "home", broker_url, REGISTRY_RESULT_BACKEND=results,
        REGISTRY_VISIBILITY_TIMEOUT="3",
    )
    samples, slow = _samples(home)
    marker = home.home / f"slow-{slow.split('/')[1]}.started"
    with crashing_run(home, samples, REGISTRY_SLOW_ENHANCE=f"{slow.split('/')[1]}:60") as (
        doomed, client,
    ):
        wait_for_file(marker, 30, "the slow enhancement never started")
        # Let the worker acknowledge ``launch_enhancements`` first (the slow task sleeps
        # 60 s, so the kill still lands mid-task): redelivered, it would send a second
        # chord over the bundles still pending, whose smaller summary can win the run.
        _wait_until_off_the_worker(broker_url, LAUNCHER, 60)
        summary = kill_and_rescue(home, doomed, client, slow)
    _assert_complete_exactly_once(home, summary)


def test_pool_process_killed_mid_task_on_embedded_sqlite(tmp_path: Path) -> None:
    home = RegistryHome(tmp_path / "home")
    samples, slow = _samples(home)
    marker = home.home / f"slow-{slow.split('/')[1]}.started"
    worker = home.worker(REGISTRY_SLOW_ENHANCE=f"{slow.split('/')[1]}:60")
    client = home.client(samples, timeout=60)
    try:
        pool_pid = int(wait_for_file(marker, 30, "the slow enhancement never started"))
        assert pool_pid != worker.pid
        os.kill(pool_pid, signal.SIGKILL)
        summary = finish(client, 75, worker)
    finally:
        worker.stop()
        if client.poll() is None:
            client.kill()
    _assert_complete_exactly_once(home, summary)
    assert "WorkerLostError" in worker.log_text()
