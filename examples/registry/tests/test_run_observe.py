"""``runs.observe_run``: a reader finishes a run whose workflow is over, once.

The workflow is frozen, not sent; its tasks' outcomes are written straight into an
in-memory result backend, as a worker would store them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from registry import pipeline, runs
from registry.once import REPLACED
from registry.samples import generate_sample_collections


@pytest.fixture
def sent(tmp_path: Path, db_url: str) -> tuple[Celery, dict[str, Any], list[str]]:
    """A recorded 2-collection run, its backend, and its task ids in workflow order."""
    text = generate_sample_collections(tmp_path / "two", collections=2).read_text()
    workflow = pipeline.build_workflow(text)
    result = workflow.freeze()
    run_id = runs.record_run(db_url, workflow, result, ["a", "b"], action="sync-all")
    app = Celery("observe-test", backend="cache+memory://")
    run = runs.get_run(db_url, run_id)
    assert run is not None
    ids = [step.id for step in runs.run_trace(run, app).steps]
    return app, run, ids


def test_a_run_going_stays_running(db_url: str, sent: tuple[Celery, dict[str, Any], list[str]]
                                   ) -> None:
    app, run, ids = sent
    for task_id in ids[:3]:  # store_yaml and both syncs
        app.backend.store_result(task_id, {"ok": True}, "SUCCESS")
    launch = ids[3]
    parts = ["part-1", "part-2", "part-3"]
    app.backend.store_result(launch, {"bundles": [1, 2, 3], "parts": parts}, REPLACED)
    app.backend.store_result("part-2", {"ok": True}, "SUCCESS")
    observed = runs.observe_run(db_url, run, app)
    view = observed.as_json()
    # half done and no worker to do the rest: Celery says STARTED, explain says stuck
    assert (view["status"], view["state"], view["run_state"]) == ("running", "STARTED",
                                                                   "stuck")
    assert (view["trace"][3]["state"], view["trace"][3]["state_word"]) == ("REPLACED",
                                                                           "replaced")
    assert view["progress"] == {"done": 3, "total": 5}
    assert view["trace"][3]["progress"] == {"current": 1, "total": 3}
    assert view["result"] is None and view["finished_at"] is None
    stored = runs.get_run(db_url, run["id"])
    assert stored is not None and stored["status"] == "running"


def test_a_failed_step_fails_the_run_with_its_error(
    db_url: str, sent: tuple[Celery, dict[str, Any], list[str]]
) -> None:
    app, run, ids = sent
    app.backend.store_result(ids[0], {"ok": True}, "SUCCESS")
    app.backend.mark_as_failure(ids[1], ValueError("clone of https://u:secret@h/x failed"))
    view = runs.observe_run(db_url, run, app).as_json()
    assert view["status"] == "failed" and view["state"] == "FAILURE"
    assert view["run_state"] == "failed"
    assert view["errors"][0] == (
        "registry.sync_collection: ValueError: clone of https://***@h/x failed")
    assert "secret" not in str(view)
    stored = runs.get_run(db_url, run["id"])
    assert stored is not None and stored["status"] == "failed"


def test_a_finished_run_is_stored_once_and_kept(
    db_url: str, sent: tuple[Celery, dict[str, Any], list[str]]
) -> None:
    app, run, ids = sent
    summary = {"collections_synced": 2, "errors": ["one bundle refused"]}
    for task_id in ids:
        app.backend.store_result(task_id, summary if task_id == run["id"] else {}, "SUCCESS")
    first = runs.observe_run(db_url, run, app).as_json()
    assert (first["status"], first["result"]) == ("finished", summary)
    assert first["errors"] == ["one bundle refused"]
    assert first["seconds"] is not None and first["seconds"] >= 0
    # The backend forgets the run (results expire): what was stored stays.
    app.backend.forget(run["id"])
    again = runs.get_run(db_url, run["id"])
    assert again is not None
    second = runs.observe_run(db_url, again, app).as_json()
    assert (second["status"], second["result"], second["finished_at"]) == (
        "finished", summary, first["finished_at"])
