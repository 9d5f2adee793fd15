"""The whole pipeline on the embedded default (SQLite broker and results), real workers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pipeline_support import RegistryHome, bundle_rows, completed_logs
from registry import query
from registry.samples import modify_bundle

pytestmark = pytest.mark.worker

COLLECTIONS, BUNDLES = 3, 3


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RegistryHome, Path]]:
    home = RegistryHome(tmp_path_factory.mktemp("registry-sqlite"))
    with home.serving(COLLECTIONS, BUNDLES) as served:
        yield served


def test_full_pipeline_stores_and_enhances_every_bundle(
    registry: tuple[RegistryHome, Path],
) -> None:
    home, samples = registry
    summary = home.populate(samples)

    assert summary["collections_synced"] == COLLECTIONS
    assert summary["collections_failed"] == 0
    assert summary["errors"] == []
    parsed = summary["bundles"]
    assert parsed["created"] + parsed["updated"] + parsed["unchanged"] == COLLECTIONS * BUNDLES
    with home.session() as session:
        totals = query.stats(session)
        rows = bundle_rows(session)
        logs = completed_logs(session)
    assert summary["totals"] == totals
    assert totals["collections"] == COLLECTIONS
    assert totals["bundles"] == len(rows) == COLLECTIONS * BUNDLES
    assert totals["pending"] == totals["failed"] == 0
    assert totals["tasks"] > totals["bundles"]  # every sample bundle has robot tasks
    assert {status for _, _, status in rows.values()} == {"completed"}
    assert set(logs) == {bundle_id for bundle_id, _, _ in rows.values()}


def test_rerun_changes_nothing_and_reenhances_only_a_changed_bundle(
    registry: tuple[RegistryHome, Path],
) -> None:
    home, samples = registry
    home.populate(samples)  # whatever ran before, the registry is now up to date
    with home.session() as session:
        before_rows, before_logs = bundle_rows(session), completed_logs(session)

    again = home.populate(samples)
    assert again["bundles"] == {
        "created": 0, "updated": 0, "unchanged": COLLECTIONS * BUNDLES, "removed": 0
    }
    assert again["enhanced"] == 0 and again["enhanced_ids"] == []
    with home.session() as session:
        assert bundle_rows(session) == before_rows
        assert completed_logs(session) == before_logs

    first = yaml.safe_load(samples.read_text())["codecollections"][0]
    repo = Path(first["git_url"].removeprefix("file://"))
    changed_slug = sorted(p.name for p in (repo / "codebundles").iterdir())[0]
    changed_key = f"{first['slug']}/{changed_slug}"
    modify_bundle(repo, changed_slug, note=f"Rerun{len(before_logs)}")

    changed = home.populate(samples)
    changed_id = before_rows[changed_key][0]
    assert changed["bundles"]["updated"] == 1
    assert changed["bundles"]["created"] == changed["bundles"]["removed"] == 0
    assert changed["enhanced"] == 1 and changed["enhanced_ids"] == [changed_id]
    with home.session() as session:
        after_rows, after_logs = bundle_rows(session), completed_logs(session)
    assert after_rows.keys() == before_rows.keys()  # no duplicate, nothing lost
    assert after_rows[changed_key][1] != before_rows[changed_key][1]
    assert after_rows[changed_key][2] == "completed"
    assert after_logs[changed_id] == before_logs[changed_id] + 1
    assert {k: v for k, v in after_logs.items() if k != changed_id} == {
        k: v for k, v in before_logs.items() if k != changed_id
    }
