"""Fresher data: last commit dates and source URLs recorded at sync, and the sorts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_support import serving
from history_support import growth_collections
from registry import query
from registry.api import create_app
from registry.db import session_scope
from registry.gitsync import sync_collection
from registry.models import CodeBundle
from registry.service import bundle_freshness, run_in_process
from registry.sources import CollectionSpec
from sqlalchemy import select, update

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory, shared_samples: Path) -> str:
    """The shared samples plus the two dated collections, synced and enhanced."""
    tmp = tmp_path_factory.mktemp("freshness")
    url = f"sqlite:///{tmp / 'r.db'}"
    run_in_process(url, shared_samples, tmp / "work")
    dated, _ = growth_collections(tmp / "dated")
    run_in_process(url, dated, tmp / "work")
    return url


def _items(url: str, **filters: Any) -> list[dict[str, Any]]:
    with session_scope(url) as session:
        return list(query.list_bundles(session, limit=200, **filters)["items"])


def test_sync_records_each_bundles_last_commit_date_from_git(populated: str) -> None:
    dates = {b["slug"]: b["last_commit_at"] for b in _items(populated)}
    assert dates["k8s-a"] == dates["k8s-b"] == "2023-03-20T09:00:00+00:00"
    assert dates["pg-b"] == "2023-05-05T12:00:00+00:00"
    # samples: bundle b of n in collection c was committed at 2023-01-01 + c*5 + b*330//n days
    assert dates["k8s-deployment-healthcheck"] == "2023-01-01T12:00:00+00:00"
    # data-platform-collection (c=2), its second bundle (b=1): 10 + 82 days
    assert dates["postgres-vacuum-maintenance"] == "2023-04-03T12:00:00+00:00"
    assert all(b["source_url"] is None for b in _items(populated))  # file:// URLs: no link


def test_the_source_url_follows_the_web_pages_rule(tmp_path: Path) -> None:
    collections_yaml, _ = growth_collections(tmp_path / "repos")
    local = CollectionSpec(name="Alpha", slug="alpha", git_url=(tmp_path / "repos" / "alpha")
                           .as_uri(), git_ref="main")
    synced = sync_collection(local, tmp_path / "work")
    github = CollectionSpec(name="Alpha", slug="alpha", git_ref="release/1.0",
                            git_url="https://github.com/org/alpha.git")
    secret = CollectionSpec(name="Alpha", slug="alpha", git_ref="main",
                            git_url="https://user:token@github.com/org/alpha.git")
    fresh = bundle_freshness(github, synced, ["k8s-a", "missing"])
    assert fresh["k8s-a"].source_url == (
        "https://github.com/org/alpha/tree/release/1.0/codebundles/k8s-a")
    assert fresh["k8s-a"].last_commit_at == dt.datetime(2023, 3, 20, 9, tzinfo=UTC)
    assert fresh["missing"].last_commit_at is None
    assert bundle_freshness(secret, synced, ["k8s-a"])["k8s-a"].source_url is None


def test_a_date_filled_in_later_is_not_a_content_change(tmp_path: Path,
                                                        shared_samples: Path) -> None:
    url, work = f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "work"
    run_in_process(url, shared_samples, work)
    with session_scope(url) as session:  # as a database upgraded to v0006 has them
        session.execute(update(CodeBundle).values(last_commit_at=None))
    again = run_in_process(url, shared_samples, work)
    assert {r["unchanged"] for r in again["collection_reports"]} == {4}
    assert (again["pending"], again["enhanced"]) == (0, 12)  # nothing re-enhanced
    with session_scope(url) as session:
        assert None not in set(session.scalars(select(CodeBundle.last_commit_at)))


def _shown(item: dict[str, Any]) -> str:
    return str(item["display_name"] or item["slug"]).lower()


def _ties(item: dict[str, Any]) -> tuple[str, str]:
    return item["collection"], item["slug"]


def test_sorts_and_their_tie_breaks(populated: str) -> None:
    everything = _items(populated)
    by_name = _items(populated, sort="name")
    assert by_name == sorted(everything, key=lambda b: (_shown(b), *_ties(b)))
    assert _items(populated, sort="-name") == sorted(
        sorted(everything, key=_ties), key=_shown, reverse=True)
    by_tasks = _items(populated, sort="tasks")
    assert by_tasks == sorted(everything, key=lambda b: (b["task_count"], *_ties(b)))
    most = _items(populated, sort="-tasks")
    assert most == sorted(sorted(everything, key=_ties), key=lambda b: b["task_count"],
                          reverse=True)
    assert len({b["task_count"] for b in everything}) < len(everything)  # ties are tested
    newest = _items(populated, sort="-date")
    assert newest == sorted(sorted(everything, key=_ties), key=lambda b: b["last_commit_at"],
                            reverse=True)
    assert _items(populated, sort="date") == sorted(
        everything, key=lambda b: (b["last_commit_at"], *_ties(b)))


def test_bundles_without_a_date_sort_last_both_ways(populated: str) -> None:
    with session_scope(populated) as session:
        row = session.scalars(select(CodeBundle).where(CodeBundle.slug == "pg-b")).one()
        kept, row.last_commit_at = row.last_commit_at, None
    try:
        assert _items(populated, sort="date")[-1]["slug"] == "pg-b"
        assert _items(populated, sort="-date")[-1]["slug"] == "pg-b"
    finally:
        with session_scope(populated) as session:
            session.execute(update(CodeBundle).where(CodeBundle.slug == "pg-b")
                            .values(last_commit_at=kept))


def test_a_bad_sort_is_refused_naming_the_allowed_ones(populated: str) -> None:
    with session_scope(populated) as session, pytest.raises(query.QueryInputError) as refused:
        query.list_bundles(session, sort="date desc")
    assert refused.value.parameter == "sort"
    assert refused.value.message == (
        "must be one of name, -name, date, -date, tasks, -tasks, got 'date desc'")


@pytest.fixture(scope="module")
def api(populated: str) -> Iterator[str]:
    with serving(create_app(populated)) as url:
        yield url


def test_the_api_sorts_and_answers_422_for_a_bad_sort(api: str, populated: str) -> None:
    for sort in query.SORTS:
        page = httpx.get(f"{api}/bundles", params={"sort": sort, "limit": 200}, timeout=30)
        assert page.status_code == 200
        assert [b["slug"] for b in page.json()["items"]] == [
            b["slug"] for b in _items(populated, sort=sort)]
        assert page.json()["sort"] == sort
    bad = httpx.get(f"{api}/bundles", params={"sort": "newest"}, timeout=30)
    assert bad.status_code == 422
    [detail] = bad.json()["detail"]
    assert detail["loc"] == ["query", "sort"]
    assert all(value in detail["msg"] for value in query.SORTS)


def test_before_any_analytics_run_the_api_and_page_say_how_to_make_one(api: str) -> None:
    missing = httpx.get(f"{api}/analytics/task-growth", timeout=30)
    assert missing.status_code == 404
    assert "python -m registry analytics" in missing.json()["detail"]
    page = httpx.get(f"{api}/analytics", headers={"accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and "No task-growth report yet" in page.text
    assert "<svg" not in page.text


def test_analytics_with_no_collection_stores_an_empty_report(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env["REGISTRY_HOME"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "registry", "analytics", "--json"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"months": []' in done.stdout and '"total": 0' in done.stdout
