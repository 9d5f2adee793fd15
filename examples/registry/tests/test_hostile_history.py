"""Hostile histories and bundle trees (issue 23 items 2-5): one bad bundle or commit fails
alone, an unreadable or absurd commit date is unknown (never fatal, never a month in the
year 5138), and the analytics' history walk has a budget."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from history_support import DatedRepo
from registry import analytics, history
from registry.db import create_schema, make_engine, session_scope
from registry.parsing import parse_collection
from registry.samples import commit_all
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
