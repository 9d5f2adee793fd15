"""Task-growth analytics on a real worker (embedded default broker; Redis) and in-process.

The collections are git repositories with commits at fixed dates, so the report is
known in advance: the map_reduce on a worker, and the same workflow run in-process by
``celery_safe.workflows.run_workflow`` (``analytics --in-process``), must both give it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from history_support import growth_collections
from pipeline_support import RegistryHome, redis_database
from registry import analytics
from registry.models import TaskGrowthReport
from sqlalchemy import func, select

from celery_safe.testing import WorkerProcess

pytestmark = pytest.mark.worker


REDIS_DB = 7  # shared with the pipeline's Redis tests: each home has a queue of its own


@pytest.fixture(scope="module",
                params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RegistryHome, WorkerProcess, Path, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp(f"analytics-{request.param}")
    if request.param == "redis":
        redis = redis_database(request.getfixturevalue("celery_safe_redis_url"), REDIS_DB)
        home = RegistryHome(tmp, redis, REGISTRY_RESULT_BACKEND=redis)
    else:
        home = RegistryHome(tmp)
    collections_yaml, expected = growth_collections(home.home / "repos")
    worker = home.worker()
    try:
        yield home, worker, collections_yaml, expected
    finally:
        worker.stop()


def analytics_cli(home: RegistryHome, *options: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "registry", "analytics", "--json", "--timeout", "60", *options],
        env={**os.environ, **home.env}, cwd=home.home, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_one_collection_then_all_on_a_worker_and_in_process(
    served: tuple[RegistryHome, WorkerProcess, Path, dict[str, Any]],
) -> None:
    home, worker, collections_yaml, expected = served
    only_alpha = collections_yaml.with_name("alpha-only.yaml")
    entries = yaml.safe_load(collections_yaml.read_text())["codecollections"]
    only_alpha.write_text(yaml.safe_dump({"codecollections": entries[:1]}))
    home.populate(only_alpha)
    alone = analytics_cli(home)  # a chord with one header task
    assert [c["collection"] for c in alone["collections"]] == ["alpha"]
    assert [(m["month"], m["total"]) for m in alone["months"]] == [
        ("2023-01", 2), ("2023-02", 2), ("2023-03", 4)]

    summary = home.populate(collections_yaml)
    on_worker = analytics_cli(home)
    assert {key: on_worker[key] for key in expected} == expected
    assert on_worker["errors"] == [] and summary["totals"]["tasks"] == expected["total"]
    assert [c["collection"] for c in on_worker["collections"]] == ["alpha", "beta"]
    assert "registry.collection_task_growth" in worker.log_text()
    assert "registry.merge_task_growth" in worker.log_text()

    in_process = analytics_cli(home, "--in-process")
    assert in_process == on_worker

    with home.session() as session:
        assert session.scalar(select(func.count()).select_from(TaskGrowthReport)) == 3
        latest = analytics.latest_report(session)
    assert latest is not None
    assert {k: v for k, v in latest.items() if k != "computed_at"} == in_process
