"""A redelivered ``launch_enhancements`` (or ``enhance_again``) sends no second chord,
and a redelivered ``scheduled_sync`` no second run (registry.once).

The redelivery is made exact rather than provoked by a kill: the same message (same
task id) is queued twice, as the broker does when the worker that ran it died before
its ack. One worker with one pool process takes messages in order (the embedded broker
is first in, first out), so the second delivery runs after the first sent its chord and
before any bundle of that chord is enhanced: without the guard it finds them all still
pending and sends a second chord.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pipeline_support import RegistryHome, completed_logs
from registry import service, store
from registry.db import session_scope
from registry.samples import generate_sample_collections

pytestmark = pytest.mark.worker

SEND_TWICE = """
import json, sys
from registry import operations, tasks
task, args, task_id = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
sender = {"launch": tasks.launch_enhancements, "again": operations.enhance_again,
          "scheduled": tasks.scheduled_sync}[task]
for _ in range(2):
    sender.apply_async(args=args, task_id=task_id)
"""
# After the run's result, one more task: FIFO, so every message queued before it has run.
COLLECT = """
import json, sys
from celery.result import AsyncResult
from registry import tasks
from registry.celery_app import app
outcome = AsyncResult(sys.argv[1], app=app).get(timeout=120)
tasks.health_check.delay().get(timeout=120)
print(json.dumps(outcome))
"""


def _delivered_twice(home: RegistryHome, task: str, args: list[Any]) -> tuple[Any, Counter[str]]:
    """Queue ``task``'s message twice under one id, run one worker until the run's result
    is in; the result and how many times each task ran."""
    task_id = str(uuid.uuid4())
    home.python(SEND_TWICE, task, json.dumps(args), task_id)
    timings = home.home / "timings.tsv"
    worker = home.worker(concurrency=1, REGISTRY_TASK_TIMINGS=str(timings))
    try:
        outcome = json.loads(home.python(COLLECT, task_id))
    finally:
        worker.stop()
    return outcome, Counter(line.split("\t")[0] for line in timings.read_text().splitlines())

@pytest.mark.parametrize("task", ["launch", "again"],
                         ids=["launch_enhancements", "enhance_again"])
def test_a_redelivered_launch_sends_no_second_chord(tmp_path: Path, task: str) -> None:
    home = RegistryHome(tmp_path / "home")
    samples = generate_sample_collections(tmp_path / "samples", collections=2,
                                          bundles_per_collection=3)
    reports: list[dict[str, Any]] = []
    with session_scope(home.db_url) as session:  # synced in-process, nothing enhanced yet
        stored = service.store_sources(session, samples)
    for data in stored.collections:
        with session_scope(home.db_url) as session:
            spec = service.spec_from_dict(data)
            reports.append(service.ingest_collection(session, spec, tmp_path / "work").as_dict())
    with session_scope(home.db_url) as session:
        pending = store.pending_bundle_ids(session)
    assert len(pending) == 6

    outcome, ran = _delivered_twice(home, task, [reports] if task == "launch" else [])
    launcher = "registry.launch_enhancements" if task == "launch" else "registry.enhance_again"
    assert ran[launcher] == 2  # both deliveries ran
    assert ran["registry.enhance_bundle"] == len(pending)  # one chord: once per bundle
    assert ran["registry.tally_enhancements"] == 1
    enhancements = outcome["enhancements"]
    assert sorted(e["bundle_id"] for e in enhancements) == pending
    assert {(e["status"], e["skipped"]) for e in enhancements} == {("completed", False)}
    with session_scope(home.db_url) as session:
        assert completed_logs(session) == dict.fromkeys(pending, 1)


def test_a_redelivered_scheduled_sync_sends_no_second_run(tmp_path: Path) -> None:
    """``scheduled_sync`` replaces itself with the whole pipeline: a second delivery of
    its message must not send the pipeline again (two syncs of every collection)."""
    home = RegistryHome(tmp_path / "home")
    samples = generate_sample_collections(tmp_path / "samples", collections=2,
                                          bundles_per_collection=2)
    shutil.copy(samples, home.home / "collections.yaml")
    summary, ran = _delivered_twice(home, "scheduled", [])
    assert ran["registry.scheduled_sync"] == 2  # both deliveries ran
    assert ran["registry.summarize"] == 1  # one pipeline
    assert ran["registry.sync_collection"] == 2 and ran["registry.enhance_bundle"] == 4
    assert summary["collections_synced"] == 2 and summary["bundles"]["created"] == 4
