"""Retries on real workers: a flaky provider, a broken one, a time limit and a kill.

The provider's failures are injected deterministically (``REGISTRY_ENHANCER_FAULTS``,
counted per bundle across every worker process), the backoff is made short
(``REGISTRY_ENHANCE_BACKOFF``), and every run goes through the real CLI client. The kill
runs on the embedded default, whose chord counting is per task id (a message delivered
twice is counted once).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
import yaml
from pipeline_support import (
    RegistryHome,
    bundle_rows,
    crashing_run,
    finish,
    kill_and_rescue,
    redis_database,
    wait_for_file,
)
from registry import pipeline, tasks
from registry.db import create_schema, make_engine
from registry.faults import FaultPlan
from registry.models import EnhancementLog
from registry.samples import generate_sample_collections
from sqlalchemy import select

from celery_safe.workflows import run_workflow

REDIS_DB = 9
COLLECTIONS, BUNDLES = 2, 3
FLAKY = "rw-cli-codecollection/k8s-deployment-healthcheck"
BROKEN = "infra-cloud-collection/gcp-cloudsql-backup-verify"
SLOW = "infra-cloud-collection/aws-s3-bucket-policy-fix"
RETRIED = re.compile(r"registry\.enhance_bundle\[([0-9a-f-]{36})\] retry: Retry in")


def _samples(home: Path) -> Path:
    samples = generate_sample_collections(
        home / "samples", collections=COLLECTIONS, bundles_per_collection=BUNDLES
    )
    slugs = {
        f"{entry['slug']}/{path.name}"
        for entry in yaml.safe_load(samples.read_text())["codecollections"]
        for path in (Path(entry["git_url"].removeprefix("file://")) / "codebundles").iterdir()
    }
    assert {FLAKY, BROKEN, SLOW} <= slugs  # the sample generator still makes these
    return samples


def _calls(home: Path, bundle: str) -> int:
    return FaultPlan([], home / "faults").calls(*bundle.split("/"))


def _logs(home: RegistryHome) -> dict[str, list[tuple[str, str, str | None]]]:
    """``collection/bundle`` -> its enhancement log rows (status, message, task id)."""
    with home.session() as session:
        names = {bundle_id: name for name, (bundle_id, _, _) in bundle_rows(session).items()}
        rows = session.execute(select(EnhancementLog.bundle_id, EnhancementLog.status,
                                      EnhancementLog.message, EnhancementLog.task_id)).all()
    logs: dict[str, list[tuple[str, str, str | None]]] = {name: [] for name in names.values()}
    for bundle_id, status, message, task_id in rows:
        logs[names[bundle_id]].append((status, message, task_id))
    return logs


@pytest.mark.worker
@pytest.mark.parametrize("broker", ["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def test_flaky_succeeds_broken_and_slow_end_failed_each_logged_once(
    request: pytest.FixtureRequest, tmp_path: Path, broker: str
) -> None:
    """Flaky fails twice then passes; broken fails on every call and ends ``failed`` with
    its error after 3 retries; slow is cut by the soft time limit and ends ``failed``.
    A retry keeps its task id, so each bundle has exactly one log row, under that id."""
    redis_url = (
        redis_database(request.getfixturevalue("celery_safe_redis_url"), REDIS_DB)
        if broker == "redis" else None
    )
    home = RegistryHome(
        tmp_path / "home", redis_url,
        REGISTRY_ENHANCER_FAULTS=f"{FLAKY}:2,{BROKEN}:always",
        REGISTRY_ENHANCE_MAX_RETRIES="3", REGISTRY_ENHANCE_BACKOFF="0.05",
        REGISTRY_ENHANCE_SOFT_TIME_LIMIT="4", REGISTRY_SLOW_ENHANCE=f"{SLOW.split('/')[1]}:60",
    )
    samples = _samples(home.home)
    worker = home.worker()
    try:
        summary = finish(home.client(samples, timeout=60), 75, worker)
    finally:
        worker.stop()
    with home.session() as session:
        rows = bundle_rows(session)
    statuses = {name: status for name, (_, _, status) in rows.items()}
    assert statuses == {name: "failed" if name in (BROKEN, SLOW) else "completed"
                        for name in rows}
    assert (_calls(home.home, FLAKY), _calls(home.home, BROKEN)) == (3, 4)

    broken_error = (f"ProviderUnavailable: local provider unavailable for {BROKEN} "
                    "(injected fault, call 4)")
    slow_error = "SoftTimeLimitExceeded: no answer within the soft time limit (4 s)"
    assert summary["enhanced"] == COLLECTIONS * BUNDLES - 2
    assert summary["enhance_failed"] == 2
    assert sorted(summary["errors"]) == sorted([
        f"bundle #{rows[BROKEN][0]}: {broken_error}", f"bundle #{rows[SLOW][0]}: {slow_error}",
    ])

    logs = _logs(home)
    assert {name: len(entries) for name, entries in logs.items()} == {name: 1 for name in rows}
    assert logs[BROKEN][0][:2] == ("failed", broken_error)
    assert logs[SLOW][0][:2] == ("failed", slow_error)
    retried = RETRIED.findall(worker.log_text())
    # every retry of a bundle ran under the id its one log row carries
    assert sorted(retried.count(entries[0][2]) for entries in logs.values()) == [
        0, 0, 0, 0, 2, 3,
    ]
    assert retried.count(logs[FLAKY][0][2]) == 2 and retried.count(logs[BROKEN][0][2]) == 3

    # The run's page fills its Retries column (the registry keeps result_extended off:
    # the counts are the guard's records), and says how the run ended, in its own words.
    view = json.loads(home.python(
        "import json\nfrom registry import runs\nfrom registry.celery_app import app\n"
        "from registry.config import load_settings\n"
        "db = load_settings().db_url\n"
        "print(json.dumps(runs.observe_run(db, runs.latest_runs(db)[0], app).as_json()))"))
    by_id = {step["id"]: step for step in view["trace"]}
    assert by_id[logs[FLAKY][0][2]]["retries"] == 2
    assert by_id[logs[BROKEN][0][2]]["retries"] == 3
    assert view["headline"] == "finished with 2 errors"
    assert any(step["task"] == "registry.tally_enhancements" for step in view["trace"])


def test_in_process_a_retry_runs_at_once_under_the_same_task_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run_workflow`` follows Celery's eager retry: no waiting, one log row per bundle."""
    home = RegistryHome(tmp_path / "home")
    samples = _samples(home.home)
    for name, value in {**home.env, "REGISTRY_ENHANCER_FAULTS": f"{FLAKY}:2"}.items():
        monkeypatch.setenv(name, value)
    tasks.current_settings.cache_clear()
    try:
        create_schema(make_engine(home.db_url))
        run = run_workflow(pipeline.build_workflow(samples.read_text()))
    finally:
        tasks.current_settings.cache_clear()
    assert run.result["enhanced"] == COLLECTIONS * BUNDLES and run.result["errors"] == []
    assert _calls(home.home, FLAKY) == 3
    logs = _logs(home)
    assert {len(entries) for entries in logs.values()} == {1}
    assert len({entries[0][2] for entries in logs.values()}) == COLLECTIONS * BUNDLES


def _wait_for_messages(broker: Path, task_id: str, count: int, timeout: float) -> None:
    """Wait until the embedded broker holds exactly ``count`` messages of ``task_id``."""
    deadline = time.monotonic() + timeout
    held = -1
    while time.monotonic() < deadline:
        with closing(sqlite3.connect(f"file:{broker}?mode=ro", uri=True, timeout=10)) as db:
            held = sum(task_id in payload
                       for (payload,) in db.execute("SELECT payload FROM kombu_message"))
        if held == count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{broker} holds {held} message(s) of task {task_id}, not {count}")


@pytest.mark.worker
def test_a_worker_killed_while_a_retry_waits_strands_nothing(tmp_path: Path) -> None:
    """The whole worker is SIGKILLed while it holds flaky's retry (its countdown not yet
    due, the message reserved and unacknowledged): the embedded broker hands it to a new
    worker after the visibility timeout, and the retry finishes the bundle once."""
    home = RegistryHome(
        tmp_path / "home", REGISTRY_ENHANCER_FAULTS=f"{FLAKY}:1",
        REGISTRY_ENHANCE_BACKOFF="8", REGISTRY_VISIBILITY_TIMEOUT="3",
    )
    samples = _samples(home.home)
    with crashing_run(home, samples) as (doomed, client):
        wait_for_file(home.home / "faults" / f"{FLAKY.replace('/', '--')}.1", 30,
                      "flaky's first call never happened")
        deadline = time.monotonic() + 30
        while not RETRIED.search(doomed.log_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        retried = RETRIED.search(doomed.log_text())
        assert retried, doomed.log_text()[-4000:]
        # The retry is sent before that log line; the failed attempt's message is deleted
        # when the worker acknowledges it: wait until only the retry's message is left.
        _wait_for_messages(home.home / "celery" / "broker.sqlite", retried.group(1), 1, 30)
        # flaky still pending: the kill lands while its retry waits for its countdown
        summary = kill_and_rescue(home, doomed, client, FLAKY)
    with home.session() as session:
        rows = bundle_rows(session)
    assert {status for _, _, status in rows.values()} == {"completed"}
    assert {len(entries) for entries in _logs(home).values()} == {1}
    assert summary["enhanced"] == COLLECTIONS * BUNDLES and summary["errors"] == []
    assert _calls(home.home, FLAKY) == 2
