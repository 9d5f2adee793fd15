"""Exact tag filters: the ``bundle_tags`` index, its upkeep, and its backfill."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from registry import cli as registry_cli
from registry.db import create_schema, make_engine, session_scope
from registry.migrate import head_revision
from registry.models import BundleTag, Collection
from registry.tags import normalise_tag
from sqlalchemy import Engine, delete, func, select
from tags_support import (
    LOOKALIKES,
    make_bundle,
    migrated_memory_engine,
    open_at_once,
    slugs,
    store_as_previous_version,
    stored_tags,
    sync,
)


def old_database(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    store_as_previous_version(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine() -> Iterator[Engine]:
    made = make_engine("sqlite://")
    create_schema(made)
    yield made
    made.dispose()


def test_lookalike_tags_never_match(engine: Engine) -> None:
    sync(engine, LOOKALIKES)
    assert slugs(engine, tag="access:read") == {"exact"}
    assert slugs(engine, tag="access:read-only") == {"longer"}
    assert slugs(engine, tag="access") == slugs(engine, tag="read") == set()
    assert slugs(engine, tag="access_read") == slugs(engine, tag="access:%") == set()
    assert slugs(engine, tag="s3") == {"exact"}
    assert slugs(engine, platform="aws") == {"exact"}  # not aws-s3, Amazon AWS, a task tag
    assert slugs(engine, tag="aws") == {"in-text"}  # a task tag, not a support tag
    assert slugs(engine, tag='quote:"q"') == slugs(engine, tag="back\\slash") == {"escaped"}
    assert slugs(engine, tag="100%_done") == {"escaped"}
    assert slugs(engine, tag="100%") == set()


def test_case_and_surrounding_space_are_ignored(engine: Engine) -> None:
    sync(engine, LOOKALIKES)
    assert slugs(engine, tag="  ACCESS:Read ") == {"exact"}
    assert slugs(engine, tag="ÜNÏCODE") == {"escaped"}
    assert slugs(engine, platform="k8S") == {"escaped"}
    assert slugs(engine, tag="") == slugs(engine, tag="  ") == slugs(engine)  # no filter


def test_several_tags_must_all_match(engine: Engine) -> None:
    sync(engine, [
        make_bundle("both", ["access:read", "s3"], ["AWS", "EC2"]),
        make_bundle("read", ["access:read"], ["AWS"]),
        make_bundle("s3", ["s3"], ["EC2"]),
    ])
    assert slugs(engine, tag=["access:read", "s3"]) == {"both"}
    assert slugs(engine, tag=["access:read"]) == {"both", "read"}
    assert slugs(engine, tag=["ACCESS:READ", "access:read"]) == {"both", "read"}
    assert slugs(engine, tag=["access:read", "nope"]) == set()
    assert slugs(engine, platform=["aws", "ec2"]) == {"both"}
    assert slugs(engine, tag="s3", platform="aws") == {"both"}
    assert slugs(engine, tag=[]) == {"both", "read", "s3"}


def test_resync_replaces_tags_and_leaves_nothing_stale(engine: Engine) -> None:
    sync(engine, [make_bundle("b", ["old", "kept"], ["AWS"]), make_bundle("other", ["old"])])
    sync(engine, [make_bundle("b", ["KEPT", "new"], ["GCP"]), make_bundle("other", ["old"])])
    assert stored_tags(engine) == {("b", "task", "kept"), ("b", "task", "new"),
                                   ("b", "support", "gcp"), ("other", "task", "old")}
    assert slugs(engine, tag="old") == {"other"}
    assert slugs(engine, platform="aws") == set()
    assert slugs(engine, tag="new") == slugs(engine, platform="gcp") == {"b"}


def test_removed_bundles_take_their_tags_along(engine: Engine) -> None:
    sync(engine, [make_bundle("gone", ["t"], ["AWS"]), make_bundle("stays", ["t"])])
    sync(engine, [make_bundle("stays", ["t"])])  # the ORM removes "gone"
    assert stored_tags(engine) == {("stays", "task", "t")}
    with session_scope(engine) as session:  # the database's own ON DELETE CASCADE
        session.execute(delete(Collection))
        assert session.scalar(select(func.count()).select_from(BundleTag)) == 0


def test_tags_in_several_tasks_and_duplicates_are_one_row(engine: Engine) -> None:
    bundle = make_bundle("b", ["a", "A", " a "], ["X", "x"])
    bundle.tasks.append({"name": "Second", "doc": "", "tags": ["b", "a"], "kind": "sli"})
    sync(engine, [bundle])
    assert stored_tags(engine) == {("b", "task", "a"), ("b", "task", "b"),
                                   ("b", "support", "x")}


# --- property: the filter agrees with a pure-Python oracle -----------------------------

_POOL = ["a", "A", "a-b", "ab", "b", "a:b", "A:B", " b ", "c", 'c"', "%", "_", "é", "É"]
_TAGS = st.lists(st.sampled_from(_POOL), max_size=4)
_BUNDLES = st.dictionaries(
    st.sampled_from(["one", "two", "three", "four", "five"]),
    st.tuples(_TAGS, _TAGS, st.sampled_from(_POOL)),
    max_size=5,
)


@settings(max_examples=80, deadline=None)
@given(generations=st.lists(_BUNDLES, min_size=1, max_size=3),
       wanted=st.lists(st.sampled_from([*_POOL, "zz"]), min_size=1, max_size=2))
def test_filtering_returns_exactly_the_bundles_having_every_tag(
    generations: list[dict[str, tuple[list[str], list[str], str]]], wanted: list[str]
) -> None:
    """After any sequence of syncs, ``tag``/``platform`` select exactly the bundles whose
    normalised tag sets hold every wanted tag; look-alikes also sit in task names/docs."""
    engine = migrated_memory_engine()
    try:
        for generation in generations:
            sync(engine, [make_bundle(slug, tags, supports, task_name=noise, doc=noise)
                          for slug, (tags, supports, noise) in generation.items()])
        latest = generations[-1]
        wanted_set = {normalise_tag(w) for w in wanted}

        def oracle(position: int) -> set[str]:
            return {slug for slug, fields in latest.items()
                    if wanted_set <= {normalise_tag(t) for t in fields[position]}}

        assert slugs(engine, tag=wanted) == oracle(0)
        assert slugs(engine, platform=wanted) == oracle(1)
        for single in wanted:
            assert slugs(engine, tag=single) == {
                slug for slug, (tags, _, _) in latest.items()
                if normalise_tag(single) in {normalise_tag(t) for t in tags}}
    finally:
        engine.dispose()


# --- databases created before bundle_tags existed ---------------------------------------

def test_an_old_database_is_backfilled_once_and_filters_at_once(tmp_path: Path) -> None:
    url = old_database(tmp_path / "old.db")
    engine = make_engine(url)
    create_schema(engine)
    assert slugs(engine, tag="access:read") == {"exact"}
    assert slugs(engine, platform="aws") == {"exact"}
    assert len(slugs(engine)) == len(LOOKALIKES) + 1  # every stored bundle kept
    with session_scope(engine) as session:  # a row the backfill would put back
        session.execute(delete(BundleTag).where(BundleTag.tag == "s3"))
    before = stored_tags(engine)
    assert create_schema(engine) == head_revision()  # once: later openings do nothing
    assert stored_tags(engine) == before
    engine.dispose()


def test_two_processes_opening_an_old_database_at_once(tmp_path: Path) -> None:
    url = old_database(tmp_path / "old.db")
    engines = [make_engine(url) for _ in range(2)]
    assert open_at_once(engines) == []
    assert slugs(engines[0], tag="access:read") == {"exact"}
    assert len(stored_tags(engines[0])) == sum(
        len({normalise_tag(t) for t in b.tasks[0]["tags"]}) + len(b.support_tags)
        for b in LOOKALIKES)
    for engine in engines:
        engine.dispose()


# --- the CLI ----------------------------------------------------------------------------


def run_list(tmp_path: Path, *options: str,
             capsys: pytest.CaptureFixture[str] | None = None) -> set[str]:
    """``python -m registry list ... --json`` in a subprocess (with ``capsys``: the same
    entry point called in-process); the slugs it printed."""
    argv = ["list", "--home", str(tmp_path / "home"), "--db", f"sqlite:///{tmp_path / 'cli.db'}",
            "--json", *options]
    if capsys is not None:
        capsys.readouterr()
        assert registry_cli.main(argv) == 0
        out = capsys.readouterr().out
    else:
        done = subprocess.run([sys.executable, "-m", "registry", *argv], capture_output=True,
                              text=True, timeout=120, cwd=tmp_path, check=False)
        assert done.returncode == 0, done.stderr
        out = done.stdout
    return {item["slug"] for item in json.loads(out)["items"]}


def test_cli_tag_filters_are_exact_and_repeatable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sync(f"sqlite:///{tmp_path / 'cli.db'}", [
        *LOOKALIKES, make_bundle("read-s3", ["access:read", "s3"], ["GCP"])])
    # one real process for the entry point; the other filters through the same main()
    assert run_list(tmp_path, "--tag", "ACCESS:READ") == {"exact", "read-s3"}
    assert run_list(tmp_path, "--tag", "ACCESS:READ", capsys=capsys) == {"exact", "read-s3"}
    assert run_list(tmp_path, "--tag", "access:read", "--tag", "s3",
                    capsys=capsys) == {"exact", "read-s3"}
    assert run_list(tmp_path, "--tag", "access:read", "--platform", "gcp",
                    capsys=capsys) == {"read-s3"}
    assert run_list(tmp_path, "--platform", "aws", "--platform", "gcp", capsys=capsys) == set()
    assert run_list(tmp_path, "--tag", "access", capsys=capsys) == set()
