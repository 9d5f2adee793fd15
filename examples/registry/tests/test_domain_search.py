"""Full-text search on SQLite (FTS5): relevance, word rules, upkeep, facets, suggestions."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry import query
from registry.db import session_scope
from registry.models import CodeBundle, Collection
from registry.search import parse_query
from registry.service import run_in_process
from search_support import judge
from sqlalchemy import delete, func, select, text
from tags_support import make_bundle, sync


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory, shared_samples: Path) -> str:
    tmp = tmp_path_factory.mktemp("search")
    url = f"sqlite:///{tmp / 'r.db'}"
    run_in_process(url, shared_samples, tmp / "work", enhancer="fail:vacuum")
    return url


def _found(url: str, search: str, **filters: object) -> dict[str, object]:
    with session_scope(url) as session:
        return query.list_bundles(session, search=search, limit=50, **filters)  # type: ignore[arg-type]


def test_the_judged_queries_rank_their_bundles_in_the_top_three(populated: str) -> None:
    assert judge(populated) == {}


def test_platforms_are_searched_and_short_queries_need_every_word(populated: str) -> None:
    eks = _found(populated, "EKS")
    assert eks["total"] == 4 and eks["match"] == "all"
    both = _found(populated, "kubernetes rollout")
    assert {b["slug"] for b in both["items"]} == {"k8s-namespace-restart"}  # type: ignore[attr-defined]
    assert both["match"] == "all"


def test_a_short_query_nobody_matches_fully_falls_back_to_any_word(populated: str) -> None:
    found = _found(populated, "vacuum gke")
    assert found["match"] == "any" and found["total"] >= 3


def test_a_question_is_ranked_by_any_word_common_words_dropped(populated: str) -> None:
    assert parse_query("how do I restart a crashing pod") is not None
    assert parse_query("how do I restart a crashing pod").words == (  # type: ignore[union-attr]
        "restart", "crashing", "pod")
    found = _found(populated, "how do I restart a crashing pod")
    assert found["match"] == "any"
    assert found["items"][0]["slug"] == "k8s-namespace-restart"  # type: ignore[index]


def test_query_syntax_and_punctuation_are_plain_words(populated: str) -> None:
    for hostile in ('"', "a OR b", "NEAR(x y)", "*", "col:vacuum", "-vacuum", "100%_", "^x"):
        found = _found(populated, hostile)
        assert isinstance(found["total"], int)
    assert _found(populated, "col:vacuum")["total"] == _found(populated, "col vacuum")["total"]
    assert _found(populated, "%_")["total"] == 0


def test_an_explicit_sort_wins_over_rank(populated: str) -> None:
    found = _found(populated, "restart", sort="name")
    names = [b["display_name"].lower() for b in found["items"]]  # type: ignore[attr-defined]
    assert names == sorted(names) and len(names) >= 3


def test_facets_count_the_filtered_bundles(populated: str) -> None:
    with session_scope(populated) as session:
        found = query.list_bundles(session, search="EKS", with_facets=True)
        everything = query.list_bundles(session, with_facets=True)
    facets = found["facets"]
    assert dict(facets["platform"])["eks"] == 4 and dict(facets["platform"])["gke"] == 4
    assert sum(n for _, n in facets["collection"]) == 4
    assert sum(n for _, n in everything["facets"]["access_level"]) == 12
    assert dict(everything["facets"]["access_level"])["read-write"] == 6


def test_suggestions_name_close_known_words(populated: str) -> None:
    with session_scope(populated) as session:
        assert query.list_bundles(session, search="vacum")["total"] == 0
        assert query.suggestions(session, "vacum") == ["vacuum"]
        assert query.suggestions(session, "zzzzqqq") == []


def test_the_index_follows_every_change_of_the_bundles(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    sync(url, [make_bundle("first", ["alpha"], ["Zebra"], doc="Restarts the widgets.")])
    assert _found(url, "zebra")["total"] == 1
    assert _found(url, "restarting widget")["total"] == 1  # stemmed both ways
    sync(url, [make_bundle("first", ["beta"], ["Yak"], doc="Other text.")])  # changed
    assert _found(url, "zebra")["total"] == 0 and _found(url, "yak")["total"] == 1
    sync(url, [make_bundle("second", ["beta"], ["Yak"])])  # first removed
    assert [b["slug"] for b in _found(url, "yak")["items"]] == ["second"]  # type: ignore[attr-defined]
    with session_scope(url) as session:
        session.execute(delete(Collection))  # ON DELETE CASCADE down to the index
        assert session.scalar(select(func.count()).select_from(CodeBundle)) == 0
        left = session.execute(text("SELECT count(*) FROM bundle_search_fts WHERE "
                                    "bundle_search_fts MATCH 'yak'")).scalar()
        assert left == 0
