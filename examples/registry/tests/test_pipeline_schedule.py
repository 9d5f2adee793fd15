"""The schedule on real processes: ``scheduled_sync`` becomes the run, a live ``celery
beat`` starts one end to end, and beat refuses a schedule naming a missing task.

Clients are subprocesses (``python -c``) with the registry's environment, as in
``pipeline_support``: the test process never talks to the broker itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pipeline_support import RegistryHome, bundle_rows
from registry import tasks
from registry.db import create_schema, make_engine
from registry.samples import generate_sample_collections
from registry.workers import BeatProcess

from celery_safe.workflows import run_workflow

pytestmark = pytest.mark.worker

COLLECTIONS, BUNDLES = 2, 2
#: The keys of a summary that do not depend on the order rows were inserted in.
SAME = ("collections_synced", "collections_failed", "bundles", "enhanced", "enhance_skipped",
        "enhance_failed", "errors", "totals")
SEND_AND_WAIT = """
import json
from registry.tasks import scheduled_sync
sent = scheduled_sync.delay()
summary = scheduled_sync.AsyncResult(sent.id).get(timeout=60)
print(json.dumps({"id": sent.id, "summary": summary}))
"""
WAIT_FOR = """
import json, sys
from registry.celery_app import app
print(json.dumps(app.AsyncResult(sys.argv[1]).get(timeout=60)))
"""
SCHEDULED = re.compile(r"registry\.scheduled_sync\[([0-9a-f-]{36})\] received")


def _home(path: Path, **env: str) -> RegistryHome:
    """A registry home whose ``collections.yaml`` is the sample collections'."""
    home = RegistryHome(path, **env)
    samples = generate_sample_collections(
        path / "samples", collections=COLLECTIONS, bundles_per_collection=BUNDLES
    )
    shutil.copy(samples, home.home / "collections.yaml")
    return home


def _python(home: RegistryHome, code: str, *args: str, timeout: float = 75) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env={**os.environ, **home.env}, cwd=home.home,
        capture_output=True, text=True, timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _summary_in_process(home: RegistryHome, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in home.env.items():
        monkeypatch.setenv(name, value)
    tasks.current_settings.cache_clear()
    try:
        create_schema(make_engine(home.db_url))
        return run_workflow(tasks.scheduled_sync.s()).result
    finally:
        tasks.current_settings.cache_clear()


def test_scheduled_syncs_id_resolves_to_the_runs_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``scheduled_sync`` replaces itself with the workflow: its own id gives the summary,
    on a worker and through ``run_workflow`` in-process alike."""
    home = _home(tmp_path / "worker")
    worker = home.worker()
    try:
        sent = _python(home, SEND_AND_WAIT)
    finally:
        worker.stop()
    summary = sent["summary"]
    assert summary["enhanced"] == COLLECTIONS * BUNDLES and summary["errors"] == []
    assert f"registry.summarize[{sent['id']}] succeeded" in worker.log_text()

    in_process = _summary_in_process(_home(tmp_path / "in-process"), monkeypatch)
    assert {key: in_process[key] for key in SAME} == {key: summary[key] for key in SAME}
    assert len(in_process["enhanced_ids"]) == len(summary["enhanced_ids"])


def test_a_live_beat_runs_one_scheduled_sync_end_to_end(tmp_path: Path) -> None:
    home = _home(tmp_path / "home", REGISTRY_SYNC_INTERVAL="2")
    worker = home.worker()
    beat = BeatProcess(home.home / "beat-schedule", home.env).start()
    try:
        deadline = time.monotonic() + 45
        while not SCHEDULED.search(worker.log_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        found = SCHEDULED.search(worker.log_text())
        assert found, beat.log_path.read_text()[-3000:]
        summary = _python(home, WAIT_FOR, found[1])
    finally:
        beat.stop()
        worker.stop()
    assert beat.process is not None and beat.process.returncode == 0  # stopped cleanly
    beat_log = beat.log_path.read_text()
    assert "Sending due task sync-collections-every-6h (registry.scheduled_sync)" in beat_log
    assert "CSF" not in beat_log
    assert summary["collections_synced"] == COLLECTIONS
    assert summary["enhanced"] + summary["enhance_skipped"] == COLLECTIONS * BUNDLES
    with home.session() as session:  # the run's data is stored
        assert {status for _, _, status in bundle_rows(session).values()} == {"completed"}
        assert len(bundle_rows(session)) == COLLECTIONS * BUNDLES


MISSPELLED = """\
from registry.celery_app import BEAT_SCHEDULE, app

app.conf.beat_schedule = {
    **BEAT_SCHEDULE,
    "nightly-sync": {"task": "registry.scheduled_synk", "schedule": 86400.0},
}
"""


def test_beat_refuses_a_schedule_naming_a_missing_task(tmp_path: Path) -> None:
    home = RegistryHome(tmp_path / "home")
    (home.home / "misspelled.py").write_text(MISSPELLED)
    env = {**os.environ, **home.env, "PYTHONPATH": str(home.home)}
    done = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "misspelled", "beat",
         "-s", str(home.home / "beat-schedule")],
        env=env, cwd=home.home, capture_output=True, text=True, timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "CSF206" in output and "beat_schedule.nightly-sync" in output
    assert "did you mean 'registry.scheduled_sync'" in output
    assert "Sending due task" not in output
