"""The registry's real workflow run in-process by ``celery_safe.workflows.run_workflow``:
``launch_enhancements`` replaces itself with the enhancement chord (``Task.replace``),
which the runner follows as a worker does, and the result equals the plain-Python
reference run (``service.run_in_process``) on the same samples."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry import pipeline, tasks
from registry.db import create_schema, make_engine
from registry.service import run_in_process

from celery_safe.workflows import run_workflow

KEYS = ("collections", "bundles", "tasks", "enhanced", "failed", "pending")


def test_the_workflow_in_process_matches_the_reference(
    sample_yaml: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    db_url = f"sqlite:///{tmp_path / 'workflow.db'}"
    monkeypatch.setenv("REGISTRY_HOME", str(home))
    monkeypatch.setenv("REGISTRY_DB_URL", db_url)
    tasks.current_settings.cache_clear()
    try:
        create_schema(make_engine(db_url))
        run = run_workflow(pipeline.build_workflow(sample_yaml.read_text()))
    finally:
        tasks.current_settings.cache_clear()
    reference_dir = tmp_path / "reference"
    reference_dir.mkdir()
    reference = run_in_process(f"sqlite:///{tmp_path / 'ref.db'}", sample_yaml, reference_dir)
    totals = run.result["totals"]  # the store's counts after the run, as summarize reads them
    assert {k: totals[k] for k in KEYS} == {k: reference[k] for k in KEYS}
    assert run.result["enhanced"] == reference["enhanced"]
    replaced = [step.task for step in run.trace if step.replaced]
    assert replaced == ["registry.launch_enhancements"]
    enhanced = [step for step in run.trace if step.task == "registry.enhance_bundle"]
    assert len(enhanced) == reference["enhanced"] > 0
