"""Git history (real repositories, commits at fixed dates): last commit dates, task growth,
the analytics' merge, and the chart drawn from it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from history_support import DatedRepo, growth_collections, robot_with_tasks
from registry import analytics, history, web
from registry.charts import growth_svg
from registry.db import session_scope
from registry.gitsync import GitSyncError
from registry.models import Collection
from registry.service import run_in_process

UTC = dt.timezone.utc


def test_last_commit_of_each_bundle_is_its_folders_latest_commit(tmp_path: Path) -> None:
    repo = DatedRepo(tmp_path / "repo")
    repo.bundle("a", "One")
    repo.bundle("b", "Two")
    repo.commit("2023-01-10T09:00:00Z")
    repo.write("codebundles/a/README.md", "# a\n")
    repo.commit("2023-04-02T01:30:00+03:00")  # 2023-04-01 22:30 UTC
    repo.write("README.md", "# not a bundle\n")
    head = repo.commit("2023-06-01T00:00:00Z")
    assert history.bundle_last_commits(repo.path, head) == {
        "a": dt.datetime(2023, 4, 1, 22, 30, tzinfo=UTC),
        "b": dt.datetime(2023, 1, 10, 9, 0, tzinfo=UTC),
    }
    first = repo.git("rev-list", "--max-parents=0", "HEAD")
    assert history.bundle_last_commits(repo.path, first) == {
        "a": dt.datetime(2023, 1, 10, 9, 0, tzinfo=UTC),
        "b": dt.datetime(2023, 1, 10, 9, 0, tzinfo=UTC),
    }


def test_task_growth_counts_tasks_added_and_removed_per_month(tmp_path: Path) -> None:
    repo = DatedRepo(tmp_path / "repo")
    repo.bundle("a", "One", "Two")
    repo.commit("2023-01-31T23:30:00-02:00")  # 2023-02-01 01:30 UTC: February
    repo.bundle("a", "One", "Three")  # Two renamed to Three: +1 -1
    repo.bundle("b", "Four", kind="sli")
    repo.commit("2023-02-15T00:00:00Z")
    repo.write("codebundles/a/runbook.robot", b"\xff\xfe not utf-8")  # unreadable: no change
    repo.commit("2023-03-01T00:00:00Z")
    repo.remove("codebundles/b/sli.robot")
    head = repo.commit("2023-05-01T00:00:00Z")
    growth = history.task_growth(repo.path, head)
    assert growth.commit == head and growth.commits == 4 and growth.unreadable == 1
    assert growth.as_dict()["months"] == {
        "2023-02": {"added": 4, "removed": 1},
        "2023-03": {"added": 0, "removed": 0},
        "2023-05": {"added": 0, "removed": 1},
    }


def test_task_growth_follows_the_first_parent_through_a_merge(tmp_path: Path) -> None:
    repo = DatedRepo(tmp_path / "repo")
    repo.bundle("a", "One")
    repo.commit("2023-01-05T00:00:00Z")
    repo.git("checkout", "--quiet", "-b", "feature")
    repo.bundle("a", "One", "Two", "Three")
    repo.commit("2023-02-05T00:00:00Z")
    repo.git("checkout", "--quiet", "main")
    repo.write("codebundles/a/README.md", "# a\n")
    repo.commit("2023-03-05T00:00:00Z")
    repo.git("merge", "--quiet", "--no-ff", "-m", "merge feature", "feature",
             date="2023-04-05T00:00:00Z")
    months = history.task_growth(repo.path, "HEAD").as_dict()["months"]
    # The branch's tasks arrive on main with the merge, in April, not February.
    assert months == {"2023-01": {"added": 1, "removed": 0},
                      "2023-04": {"added": 2, "removed": 0}}


def test_an_unknown_commit_is_a_git_sync_error_and_has_commit_says_no(tmp_path: Path) -> None:
    repo = DatedRepo(tmp_path / "repo")
    repo.bundle("a", "One")
    head = repo.commit("2023-01-05T00:00:00Z")
    assert history.has_commit(repo.path, head)
    assert not history.has_commit(repo.path, "1" * 40)
    assert not history.has_commit(tmp_path / "nowhere", head)
    with pytest.raises(GitSyncError, match="history"):
        history.task_growth(repo.path, "1" * 40)


def test_merge_fills_the_months_between_and_keeps_a_running_total() -> None:
    reports = [
        {"collection": "b", "commit": "c2", "commits": 1, "unreadable": 0, "error": None,
         "months": {"2023-11": {"added": 2, "removed": 0}}},
        {"collection": "a", "commit": "c1", "commits": 2, "unreadable": 1, "error": None,
         "months": {"2023-10": {"added": 3, "removed": 1}, "2024-02": {"added": 1,
                                                                       "removed": 0}}},
        {"collection": "c", "commit": None, "commits": 0, "unreadable": 0, "months": {},
         "error": "GitSyncError: gone"},
    ]
    merged = analytics.merge_growth(reports)
    assert [row["month"] for row in merged["months"]] == [
        "2023-10", "2023-11", "2023-12", "2024-01", "2024-02"]
    assert [row["total"] for row in merged["months"]] == [2, 4, 4, 4, 5]
    assert (merged["added"], merged["removed"], merged["total"]) == (6, 1, 5)
    assert [c["collection"] for c in merged["collections"]] == ["a", "b", "c"]
    assert merged["errors"] == ["c: GitSyncError: gone"]
    assert analytics.merge_growth(list(reversed(reports))) == merged  # order of arrival
    assert analytics.merge_growth([])["months"] == []


def test_only_the_newest_reports_are_kept(tmp_path: Path) -> None:
    from registry.db import create_schema, make_engine
    from registry.models import TaskGrowthReport
    from sqlalchemy import select

    url = f"sqlite:///{tmp_path / 'r.db'}"
    create_schema(make_engine(url))
    with session_scope(url) as session:
        assert analytics.latest_report(session) is None
        for n in range(analytics.KEEP_REPORTS + 3):
            analytics.save_report(session, {"total": n})
    with session_scope(url) as session:
        kept = list(session.scalars(select(TaskGrowthReport.report)))
        latest = analytics.latest_report(session)
    assert [r["total"] for r in kept] == list(range(3, analytics.KEEP_REPORTS + 3))
    assert latest is not None and latest["total"] == analytics.KEEP_REPORTS + 2
    assert latest["computed_at"].endswith("+00:00")


def test_growth_of_collections_matches_their_known_history(tmp_path: Path) -> None:
    collections_yaml, expected = growth_collections(tmp_path / "repos")
    url, workdir = f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "work"
    summary = run_in_process(url, collections_yaml, workdir)
    assert summary["tasks"] == expected["total"]  # what git says == what is stored
    with session_scope(url) as session:
        reports = [analytics.collection_growth(session, slug, workdir)
                   for slug in ("alpha", "beta")]
    merged = analytics.merge_growth(reports)
    assert {k: merged[k] for k in expected} == expected
    assert merged["errors"] == []


def test_growth_clones_a_collection_whose_checkout_is_gone(tmp_path: Path) -> None:
    collections_yaml, expected = growth_collections(tmp_path / "repos")
    url, workdir = f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "work"
    run_in_process(url, collections_yaml, workdir)
    other = tmp_path / "elsewhere"  # a worker on another machine: no checkout yet
    with session_scope(url) as session:
        report = analytics.collection_growth(session, "alpha", other)
        missing = analytics.collection_growth(session, "nope", other)
        stored = session.query(Collection.last_commit).filter_by(slug="alpha").scalar()
    assert report["error"] is None and report["commit"] == stored
    assert (other / "alpha" / ".git").is_dir()
    assert missing["error"] == "collection 'nope' is not stored (sync it first)"


def test_a_failing_collection_is_reported_not_raised(tmp_path: Path) -> None:
    collections_yaml, _ = growth_collections(tmp_path / "repos")
    url, workdir = f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "work"
    run_in_process(url, collections_yaml, workdir)
    with session_scope(url) as session:
        session.query(Collection).filter_by(slug="beta").update(
            {"git_url": (tmp_path / "gone").as_uri(), "last_commit": "2" * 40})
    with session_scope(url) as session:
        report = analytics.collection_growth(session, "beta", tmp_path / "fresh")
    assert report["months"] == {} and report["error"].startswith("GitSyncError: collection 'beta'")


def test_the_chart_is_allowed_inline_and_escapes_its_text() -> None:
    months = analytics.merge_growth([{"collection": "a", "commit": "c", "months": {
        "2023-01": {"added": 3, "removed": 0}, "2023-03": {"added": 1, "removed": 2}}}])["months"]
    svg = growth_svg(months, title="<script>alert(1)</script>")
    inlined = web.inline_svg(svg)
    assert inlined is not None  # only allow-listed elements and attributes
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert len(re.findall(r"<rect ", svg)) == 3
    assert "2023-02: 3 tasks (+0, -0)" in svg and "2023-03: 2 tasks (+1, -2)" in svg
    empty = growth_svg([])
    assert web.inline_svg(empty) is not None and "no history yet" in empty


def test_sample_collections_have_months_of_history(tmp_path: Path) -> None:
    from registry.samples import generate_sample_collections

    samples = generate_sample_collections(tmp_path / "s", collections=1, bundles_per_collection=3)
    repo = Path(samples.parent / "repos" / "rw-cli-codecollection")
    months = history.task_growth(repo).as_dict()["months"]
    assert len(months) == 3 and list(months) == sorted(months)


def test_robot_with_tasks_is_read_by_robots_parser() -> None:
    from registry.robot import parse_robot

    assert [t.name for t in parse_robot(robot_with_tasks("A", "B")).tasks] == ["A", "B"]


def test_task_names_agree_with_the_full_parser() -> None:
    from registry.robot import RobotSyntaxError, parse_robot, task_names
    from registry.samples import TEMPLATES, render_robot

    for template in TEMPLATES:
        for tasks in (template.runbook, template.sli):
            if not tasks:
                continue
            text = render_robot(doc=template.doc, author="a", display_name=template.display_name,
                                supports=template.supports, tasks=tasks,
                                variables=template.variables)
            assert task_names(text) == [t.name for t in parse_robot(text).tasks]
    for unreadable in ("*** Tasks ***\n", "*** Settings ***\nLibrary    X\n", "x\x00y"):
        with pytest.raises(RobotSyntaxError):
            task_names(unreadable)


_NAMES = st.lists(st.sampled_from(["Check Pods", "List Events", "Restart", "Vacuum", "Scale"]),
                  min_size=1, max_size=4, unique=True)
#: One commit: days after the previous one, and per file (bundle, kind) its new task
#: names or None (deleted); files left out are unchanged.
_COMMIT = st.tuples(
    st.integers(min_value=0, max_value=70),
    st.dictionaries(st.tuples(st.sampled_from(["a", "b"]), st.sampled_from(["runbook", "sli"])),
                    st.one_of(st.none(), _NAMES), max_size=3),
)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commits=st.lists(_COMMIT, min_size=1, max_size=5), split=st.integers(0, 4))
def test_task_growth_follows_a_model_of_the_history(
    tmp_path_factory: pytest.TempPathFactory, commits: list[tuple[int, dict[Any, Any]]],
    split: int,
) -> None:
    repo = DatedRepo(tmp_path_factory.mktemp("model") / "repo")
    files: dict[tuple[str, str], list[str]] = {}
    expected: dict[str, dict[str, int]] = {}
    when = dt.datetime(2022, 12, 20, tzinfo=UTC)
    ids = []
    for days, changes in commits:
        when += dt.timedelta(days=days)
        added = removed = 0
        changed = False
        for (bundle, kind), names in sorted(changes.items(), key=str):
            before = files.get((bundle, kind), [])
            path = f"codebundles/{bundle}/{kind}.robot"
            if names is None:
                if (bundle, kind) not in files:
                    continue
                repo.remove(path)
                del files[(bundle, kind)]
            else:
                if names == before:
                    continue
                repo.write(path, robot_with_tasks(*names))
                files[(bundle, kind)] = names
            after = names or []
            added += len(set(after) - set(before))
            removed += len(set(before) - set(after))
            changed = True
        ids.append(repo.commit(when.isoformat()))
        if changed:
            month = expected.setdefault(f"{when:%Y-%m}", {"added": 0, "removed": 0})
            month["added"] += added
            month["removed"] += removed
    full = history.task_growth(repo.path)
    assert full.as_dict()["months"] == expected
    # A walk resumed from where an earlier one stopped (issue 23) gives the same report.
    earlier = history.task_growth(repo.path, ids[min(split, len(ids) - 1)]).state
    resumed = history.task_growth(repo.path, since=earlier)
    assert resumed.as_dict() | {"walked": full.walked} == full.as_dict()


def test_the_analytics_workflow_is_a_validated_map_reduce() -> None:
    from celery_safe.workflows import validate
    from registry.pipeline import task_growth_workflow

    workflow = task_growth_workflow(["beta", "alpha"])
    assert validate(workflow) == []
    assert [(s.task, s.args) for s in workflow.tasks] == [
        ("registry.collection_task_growth", ("alpha",)),
        ("registry.collection_task_growth", ("beta",))]
    assert workflow.body.task == "registry.merge_task_growth"


def test_blobs_are_read_in_bounded_chunks_and_oversized_ones_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = DatedRepo(tmp_path / "repo")
    repo.bundle("a", "One")
    repo.bundle("b", "Two", "Three")
    repo.commit("2023-01-05T00:00:00Z")
    repo.bundle("a", "One", "Four")
    head = repo.commit("2023-02-05T00:00:00Z")
    whole = history.task_growth(repo.path, head)
    monkeypatch.setattr(history, "CHUNK_BYTES", 1)  # one blob per git call
    assert history.task_growth(repo.path, head) == whole
    assert whole.as_dict()["months"] == {"2023-01": {"added": 3, "removed": 0},
                                         "2023-02": {"added": 1, "removed": 0}}
    limit = len(robot_with_tasks("Two", "Three")) - 1  # only b's file is over it
    assert len(robot_with_tasks("One", "Four")) <= limit
    monkeypatch.setattr(history, "MAX_FILE_BYTES", limit)
    smaller = history.task_growth(repo.path, head)
    assert smaller.unreadable == 1
    assert smaller.as_dict()["months"] == {"2023-01": {"added": 1, "removed": 0},
                                           "2023-02": {"added": 1, "removed": 0}}
