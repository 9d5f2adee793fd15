"""Hostile histories and bundle trees (issue 23 items 2-5): one bad bundle or commit fails
alone, an unreadable or absurd commit date is unknown (never fatal, never a month in the
year 5138), and the analytics' history walk has a budget."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from history_support import DatedRepo, growth_collections
from registry import analytics, history
from registry.db import create_schema, make_engine, session_scope
from registry.parsing import parse_collection
from registry.samples import commit_all
from registry.service import run_in_process
from test_hostile_inputs import ROBOT, ingest, make_repo, stored

UTC = dt.timezone.utc


# --- item 2: a symlink loop is one bad bundle ------------------------------------------------


def test_a_bundle_that_is_a_symlink_loop_fails_alone(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"good": {"runbook.robot": ROBOT}})
    (repo / "codebundles" / "x").symlink_to("x")
    (repo / "codebundles" / "y").symlink_to("z")
    (repo / "codebundles" / "z").symlink_to("y")
    (repo / "codebundles" / "good" / "README.md").symlink_to("README.md")
    (repo / "codebundles" / "ok").mkdir()
    (repo / "codebundles" / "ok" / "runbook.robot").write_text(ROBOT)
    (repo / "codebundles" / "ok" / "loop").symlink_to("loop")
    result = parse_collection(repo)
    errors = {e.bundle: e.message for e in result.errors}
    assert set(errors) == {"x", "y", "z", "good", "ok"}
    assert all("symlink loop" in message for message in errors.values()), errors
    assert errors["ok"].startswith("loop is a symlink loop")


def test_the_good_bundles_beside_a_symlink_loop_are_stored(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"good": {"runbook.robot": ROBOT}})
    (repo / "codebundles" / "x").symlink_to("x")
    commit_all(repo, "a loop")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    report = ingest(url, tmp_path / "work", repo)
    assert set(stored(url)) == {"good"}
    assert any("bundle x: is a symlink loop" in error for error in report.errors), report.errors


# --- item 3: unreadable dates are unknown ----------------------------------------------------


def _odd_dates(path: Path) -> tuple[DatedRepo, str]:
    repo = DatedRepo(path)
    repo.bundle("a", "One")
    repo.bundle("b", "Two")
    repo.commit("2023-01-10T00:00:00Z")
    repo.bundle("a", "One", "Three")
    repo.commit_raw("1700000000 +9959")  # 2023-11-14 22:13 UTC, printed as +99:59
    repo.bundle("b", "Two", "Four")
    repo.commit_raw("300000000000 +0000")  # the year 11476
    repo.bundle("a", "One", "Three", "Five")
    head = repo.commit_raw("99000000000 +0000")  # the year 5107
    return repo, head


def test_odd_zones_and_years_never_break_the_history(tmp_path: Path) -> None:
    repo, head = _odd_dates(tmp_path / "repo")
    now = dt.datetime.now(UTC)
    last = history.bundle_last_commits(repo.path, head)
    assert last["a"] == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # 5107: unknown
    assert last["b"] == dt.datetime(2023, 1, 10, tzinfo=UTC)  # 11476: unknown
    growth = history.task_growth(repo.path, head)
    assert growth.commits == 4 and growth.undated == 2
    months = growth.as_dict()["months"]
    assert months == {  # an undated commit counts in the month of the one before it
        "2023-01": {"added": 2, "removed": 0},
        "2023-11": {"added": 3, "removed": 0},
    }
    assert max(months) <= now.strftime("%Y-%m")


def test_a_collection_with_odd_dates_syncs(tmp_path: Path) -> None:
    repo, _ = _odd_dates(tmp_path / "repo")
    url = f"sqlite:///{tmp_path / 'r.db'}"
    report = ingest(url, tmp_path / "work", repo.path)
    assert report.errors == [] and set(stored(url)) == {"a", "b"}


def test_dates_outside_the_window_are_unknown() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=UTC)
    assert history.commit_date("1700000000", now=now) == dt.datetime.fromtimestamp(
        1700000000, UTC)
    assert history.commit_date(str(int(now.timestamp()) + 3600), now=now) is not None  # skew
    for stamp in ("300000000000", "99000000000", "1", "-5", "", "x", "1e9", "9" * 400):
        assert history.commit_date(stamp, now=now) is None, stamp
    assert history.commit_date("1112832000", now=now) is None  # 2005-04-07: before git
    assert history.commit_date("1112918400", now=now) is not None  # 2005-04-08


# --- item 4: months in a sane window, rows capped --------------------------------------------


def test_merge_drops_months_outside_the_window_and_caps_rows() -> None:
    report = {"collection": "old", "commit": "c", "commits": 2, "unreadable": 0,
              "months": {"2023-01": {"added": 2, "removed": 0},
                         "5138-03": {"added": 1, "removed": 0},
                         "1999-12": {"added": 1, "removed": 0},
                         "2023-1": {"added": 1, "removed": 0}},
              "error": None}
    merged = analytics.merge_growth([report])
    assert [row["month"] for row in merged["months"]] == ["2023-01"]
    assert merged["errors"] == ["old: 3 month(s) outside 2005-04..now dropped: "
                                "1999-12, 2023-1, 5138-03"]
    assert len(analytics.month_range("2005-04", "5138-03")) == analytics.MAX_MONTHS
    assert analytics.month_range("2005-04", "5138-03")[-1] == "5138-03"  # the newest kept


def test_a_stored_report_of_thousands_of_months_is_read_capped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    create_schema(make_engine(url))
    rows = [{"month": month, "added": 1, "removed": 0, "total": 1}
            for month in analytics.month_range("2005-04", "2005-04")] * 40_000
    with session_scope(url) as session:
        analytics.save_report(session, {"months": rows, "collections": [], "errors": []})
    with session_scope(url) as session:
        report = analytics.latest_report(session)
    assert report is not None and len(report["months"]) == analytics.MAX_MONTHS


# --- item 5: a budget per walk, and a re-run walks only new commits -------------------------


def _linear(path: Path, commits: int) -> DatedRepo:
    repo = DatedRepo(path)
    for n in range(commits):
        repo.bundle(f"b{n % 3}", *(f"Task {n}-{k}" for k in range(n % 4 + 1)))
        repo.commit(f"2023-{n % 12 + 1:02d}-15T00:00:00Z")
    return repo


def test_each_part_of_the_budget_stops_the_walk(tmp_path: Path) -> None:
    repo = _linear(tmp_path / "repo", 4)
    full = history.task_growth(repo.path)
    assert history.task_growth(repo.path, budget=history.WalkBudget(commits=4)).commits == 4
    with pytest.raises(history.WalkBudgetExceeded) as stopped:
        history.task_growth(repo.path, budget=history.WalkBudget(commits=3))
    assert str(stopped.value) == ("4 commits to walk change a robot file, over the budget of 3 "
                                  "per walk; walked 3 of 4, the next walk continues from there")
    assert stopped.value.state is not None and stopped.value.state.commits == 3
    rest = history.task_growth(repo.path, since=stopped.value.state,
                               budget=history.WalkBudget(commits=3))
    assert rest.walked == 1 and rest.as_dict() | {"walked": 4} == full.as_dict()
    with pytest.raises(history.WalkBudgetExceeded) as stopped:
        history.task_growth(repo.path, budget=history.WalkBudget(bytes=100))
    assert str(stopped.value) == ("the robot file versions to read hold more than the budget "
                                  "of 100 bytes; no commit walked")
    assert stopped.value.state is None
    with pytest.raises(history.WalkBudgetExceeded, match="longer than its budget of 0 s"):
        history.task_growth(repo.path, budget=history.WalkBudget(seconds=0))


def test_a_walk_stopped_mid_way_keeps_the_slices_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = DatedRepo(tmp_path / "repo")
    for n in range(5):  # two small versions, then three of about 60 kB
        names = [f"Task {n}-{k}" for k in range(1 if n < 2 else 1500)]
        repo.bundle(f"b{n}", *names)
        repo.commit(f"2023-{n + 1:02d}-01T00:00:00Z")
    full = history.task_growth(repo.path)
    monkeypatch.setattr(history, "_SLICE", 2)
    with pytest.raises(history.WalkBudgetExceeded, match="walked 2 of 5") as stopped:
        history.task_growth(repo.path, budget=history.WalkBudget(bytes=20_000))
    state = stopped.value.state
    assert state is not None and state.commits == 2 and sorted(state.months) == [
        "2023-01", "2023-02"]
    rest = history.task_growth(repo.path, since=state)
    assert rest.walked == 3 and rest.as_dict() | {"walked": 5} == full.as_dict()


def test_an_exceeded_budget_is_that_collections_error(tmp_path: Path) -> None:
    collections_yaml, _ = growth_collections(tmp_path / "repos")
    url, workdir = f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "work"
    run_in_process(url, collections_yaml, workdir)
    one = history.WalkBudget(commits=1)
    with session_scope(url) as session:
        tight = analytics.collection_growth(session, "alpha", workdir, budget=one)
        fine = analytics.collection_growth(session, "beta", workdir)
    assert tight["months"] == {}
    assert tight["error"] == (
        "WalkBudgetExceeded: 2 commits to walk change a robot file, over the budget of 1 per "
        "walk; walked 1 of 2, the next walk continues from there")
    merged = analytics.merge_growth([tight, fine])
    assert merged["errors"] == [f"alpha: {tight['error']}"] and merged["total"] == 2
    with session_scope(url) as session:  # the next run goes on from there, and finishes
        rest = analytics.collection_growth(session, "alpha", workdir, budget=one)
    assert rest["error"] is None and (rest["walked"], rest["commits"]) == (1, 2)
    assert analytics.merge_growth([rest, fine])["total"] == 6


def test_a_resumed_walk_reads_only_new_commits_and_agrees_with_a_full_one(
    tmp_path: Path,
) -> None:
    repo = _linear(tmp_path / "repo", 5)
    first = history.task_growth(repo.path)
    assert first.walked == 5 and first.state is not None
    again = history.task_growth(repo.path, since=first.state)
    assert again.walked == 0 and again.as_dict() | {"walked": 5} == first.as_dict()
    repo.bundle("b1", "Only")
    repo.write("codebundles/b2/runbook.robot", b"\xff not utf-8")
    repo.commit("2023-11-01T00:00:00Z")
    repo.remove("codebundles/b0/runbook.robot")
    repo.commit_raw("300000000000 +0000")  # undated: counts in November
    stored = history.GrowthState.from_json(json.loads(json.dumps(first.state.as_json())))
    resumed = history.task_growth(repo.path, since=stored)
    full = history.task_growth(repo.path)
    assert resumed.walked == 2 and full.walked == 7
    assert resumed.as_dict() | {"walked": 7} == full.as_dict()
    assert full.undated == 1 and full.unreadable == 1


def test_a_rewritten_history_is_walked_in_full(tmp_path: Path) -> None:
    repo = _linear(tmp_path / "repo", 3)
    first = history.task_growth(repo.path)
    repo.git("reset", "--hard", "HEAD~1")
    repo.bundle("b9", "New")
    repo.commit("2023-06-01T00:00:00Z")
    assert first.state is not None
    resumed = history.task_growth(repo.path, since=first.state)
    assert resumed.walked == 3 and resumed.as_dict() == history.task_growth(repo.path).as_dict()
    for broken in ({}, {"commit": "x"}, [1], None, {**first.state.as_json(), "files": 3}):
        assert history.GrowthState.from_json(broken) is None


def test_analytics_re_runs_walk_only_the_new_commits(tmp_path: Path) -> None:
    collections_yaml, _ = growth_collections(tmp_path / "repos")
    url, workdir = f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "work"
    run_in_process(url, collections_yaml, workdir)

    def alpha() -> dict[str, Any]:
        with session_scope(url) as session:
            return analytics.collection_growth(session, "alpha", workdir)

    first, second = alpha(), alpha()
    assert (first["walked"], second["walked"]) == (2, 0)
    assert second["months"] == first["months"] and second["error"] is None
    source = DatedRepo.existing(tmp_path / "repos" / "alpha")
    source.bundle("k8s-c", "Drain Node")
    source.commit("2023-07-01T00:00:00Z")
    run_in_process(url, collections_yaml, workdir)
    third = alpha()
    assert third["walked"] == 1 and third["commits"] == 3
    assert third["months"]["2023-07"] == {"added": 1, "removed": 0}
