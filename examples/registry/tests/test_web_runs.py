"""Recorded pipeline runs: what the run page reads back, without sending anything.

A frozen workflow has the same result graph a sent one hands back, so these tests
record it, read it back and trace it against an in-memory result backend.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from celery import Celery
from registry import pipeline, runs
from registry.samples import generate_sample_collections


def frozen_workflow(shared_samples: Path) -> tuple[str, object, object]:
    """The text, its workflow, and the result graph of a copy frozen (as sending does)."""
    text = shared_samples.read_text()
    return text, pipeline.build_workflow(text), pipeline.build_workflow(text).freeze()


def test_task_names_follow_the_canvas(shared_samples: Path) -> None:
    text, workflow, result = frozen_workflow(shared_samples)
    names = runs.task_names(workflow, result)
    slugs = pipeline.collection_slugs(text)
    assert sorted(names.values()) == sorted([
        "registry.store_yaml", *["registry.sync_collection"] * len(slugs),
        "registry.launch_enhancements", "registry.summarize"])
    assert names[str(result.id)] == "registry.summarize"  # type: ignore[attr-defined]


def test_task_names_are_left_out_where_shapes_differ(
    shared_samples: Path, tmp_path: Path
) -> None:
    _, _, result = frozen_workflow(shared_samples)
    # One collection instead of three: the group's members cannot be paired, the rest can.
    one = generate_sample_collections(tmp_path / "one", collections=1).read_text()
    names = runs.task_names(pipeline.build_workflow(one), result)
    assert "registry.sync_collection" not in names.values()
    assert sorted(names.values()) == [
        "registry.launch_enhancements", "registry.store_yaml", "registry.summarize"]
    # No collection at all: no group, one step fewer, nothing can be paired.
    empty = pipeline.build_workflow("codecollections: []\n")
    assert runs.task_names(empty, result) == {}


def test_a_run_is_recorded_finished_and_traced(shared_samples: Path, db_url: str) -> None:
    text, workflow, result = frozen_workflow(shared_samples)
    run_id = runs.record_run(db_url, workflow, result, pipeline.collection_slugs(text))
    running = runs.get_run(db_url, run_id)
    assert running is not None and running["status"] == "running"
    assert running["collections"] == pipeline.collection_slugs(text)

    app = Celery("web-runs-test", backend="cache+memory://")
    traced = runs.run_trace(running, app)
    assert traced.state == "PENDING" and traced.done == 0
    assert traced.steps[0].task == "registry.store_yaml"
    assert traced.steps[-1].task == "registry.summarize"

    runs.finish_run(db_url, run_id, seconds=1.5,
                    error="clone of https://user:token@git.example/x.git failed")
    failed = runs.get_run(db_url, run_id)
    assert failed is not None and failed["status"] == "failed"
    assert "token" not in failed["error"] and "***@git.example" in failed["error"]
    assert [r["id"] for r in runs.latest_runs(db_url)] == [run_id]


def test_unknown_run_is_none(db_url: str) -> None:
    assert runs.get_run(db_url, "no-such-run") is None
    assert runs.latest_runs(db_url) == []


def test_a_run_that_times_out_is_recorded_failed(tmp_path: Path) -> None:
    # No worker: the client sends the workflow, records the run, waits 1 s and gives up.
    samples = generate_sample_collections(tmp_path / "samples", collections=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    db_url = f"sqlite:///{tmp_path / 'registry.db'}"
    env.update({"REGISTRY_HOME": str(tmp_path), "REGISTRY_DB_URL": db_url})
    client = subprocess.run(
        [sys.executable, "-m", "registry", "populate", "--collections-file", str(samples),
         "--timeout", "1"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    assert client.returncode == 1  # the documented "the run did not end well"
    assert "Traceback" not in client.stderr  # it timed out: said in one line, below
    assert "error: the run did not finish within 1 s (--timeout)" in client.stderr
    (run,) = runs.latest_runs(db_url)
    assert run["status"] == "failed" and run["finished_at"] is not None
    assert "Timeout" in run["error"] and run["summary"] is None
    # It said why at once, instead of waiting silently (explain: no live consumer).
    said = f"run {run['id'][:8]}: queued — no worker is running; start one with " \
           "`python -m registry worker`\n  - No worker is running"
    assert said in client.stderr, client.stderr[-2000:]


def test_task_names_of_a_workflow_frozen_in_place(tmp_path: Path) -> None:
    """The admin API records the workflow it froze itself (then sends it): freezing
    turned the chord's header list into a group, which is walked as its members."""
    text = generate_sample_collections(tmp_path / "six", collections=6).read_text()
    workflow = pipeline.build_workflow(text)
    result = workflow.freeze()
    names = runs.task_names(workflow, result)
    assert sorted(names.values()) == sorted([
        "registry.store_yaml", *["registry.sync_collection"] * 6,
        "registry.launch_enhancements", "registry.summarize"])
