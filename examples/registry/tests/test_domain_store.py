from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from registry.db import session_scope
from registry.models import CodeBundle, Collection
from registry.parsing import BundleError, ParsedBundle, ParseResult, parse_collection
from registry.sources import CollectionSpec, load_collections
from registry.store import (
    UnknownCollectionError,
    UpsertStats,
    pending_bundle_ids,
    record_collection_error,
    upsert_bundles,
    upsert_collection,
)
from sqlalchemy import func, select, update
from tags_support import migrated_memory_engine


@pytest.fixture
def spec_and_parse(shared_samples: Path) -> tuple[CollectionSpec, ParseResult]:
    spec = load_collections(shared_samples).collections[0]
    return spec, parse_collection(Path(spec.git_url.removeprefix("file://")))


def _count(db_url: str) -> int:
    with session_scope(db_url) as session:
        return session.scalar(select(func.count()).select_from(CodeBundle)) or 0


def test_upsert_is_idempotent(db_url: str, spec_and_parse: tuple) -> None:
    spec, parsed = spec_and_parse
    with session_scope(db_url) as session:
        upsert_collection(session, spec, commit="abc")
        assert upsert_bundles(session, spec.slug, parsed) == UpsertStats(created=4)
    with session_scope(db_url) as session:
        upsert_collection(session, spec, commit="abc")
        assert upsert_bundles(session, spec.slug, parsed) == UpsertStats(unchanged=4)
    assert _count(db_url) == 4
    with session_scope(db_url) as session:
        collection = session.scalar(select(Collection))
        assert (collection.slug, collection.status, collection.last_commit) == (
            spec.slug, "synced", "abc")


def test_changed_bundle_goes_back_to_pending(db_url: str, spec_and_parse: tuple) -> None:
    spec, parsed = spec_and_parse
    with session_scope(db_url) as session:
        upsert_collection(session, spec)
        upsert_bundles(session, spec.slug, parsed)
        for bundle in session.scalars(select(CodeBundle)):
            bundle.enhancement_status = "completed"
    changed = [dataclasses.replace(parsed.bundles[0], content_hash="new", doc="New doc."),
               *parsed.bundles[1:]]
    with session_scope(db_url) as session:
        stats = upsert_bundles(session, spec.slug, changed)
        assert stats == UpsertStats(updated=1, unchanged=3)
        ids = pending_bundle_ids(session)
        [pending] = [session.get(CodeBundle, i) for i in ids]
        assert (pending.slug, pending.doc) == (parsed.bundles[0].slug, "New doc.")
        assert pending_bundle_ids(session, spec.slug) == ids
        assert pending_bundle_ids(session, "other") == []


def test_removed_bundles_deleted_but_failed_ones_kept(db_url: str, spec_and_parse: tuple) -> None:
    spec, parsed = spec_and_parse
    with session_scope(db_url) as session:
        upsert_collection(session, spec)
        upsert_bundles(session, spec.slug, parsed)
    gone, second, *rest = parsed.bundles
    # `gone` disappeared from the checkout; `second` broke (a parse error): keep it.
    broken = ParseResult(rest, [BundleError(second.slug, "runbook.robot: line 1: bad")])
    with session_scope(db_url) as session:
        assert upsert_bundles(session, spec.slug, broken) == UpsertStats(unchanged=2, removed=1)
        slugs = set(session.scalars(select(CodeBundle.slug)))
    assert slugs == {second.slug, *(b.slug for b in rest)} and gone.slug not in slugs
    # A collection-wide failure (no codebundles/ at all) removes nothing.
    with session_scope(db_url) as session:
        nothing = ParseResult([], [BundleError("(all)", "no codebundles/ directory")])
        assert upsert_bundles(session, spec.slug, nothing) == UpsertStats()
    assert _count(db_url) == 3


def test_record_error_keeps_data(db_url: str, spec_and_parse: tuple) -> None:
    spec, parsed = spec_and_parse
    with session_scope(db_url) as session:
        upsert_collection(session, spec, commit="abc")
        upsert_bundles(session, spec.slug, parsed)
    with session_scope(db_url) as session:
        record_collection_error(session, spec.slug, "fetch failed")
        record_collection_error(session, "never-seen", "clone failed")
    with session_scope(db_url) as session:
        rows = {c.slug: c for c in session.scalars(select(Collection))}
        assert (rows[spec.slug].status, rows[spec.slug].last_error) == ("error", "fetch failed")
        assert rows[spec.slug].last_commit == "abc"
        assert rows["never-seen"].status == "error"
    assert _count(db_url) == 4


def test_unknown_collection(db_url: str) -> None:
    with pytest.raises(UnknownCollectionError, match="'nope' is not in the database"), \
            session_scope(db_url) as session:
        upsert_bundles(session, "nope", [])


def test_collection_fields_follow_spec(db_url: str, spec_and_parse: tuple) -> None:
    spec, _ = spec_and_parse
    with session_scope(db_url) as session:
        upsert_collection(session, spec)
    with session_scope(db_url) as session:
        upsert_collection(session, dataclasses.replace(spec, git_ref="v1.0", owner="new"))
    with session_scope(db_url) as session:
        row = session.scalar(select(Collection))
        assert (row.git_ref, row.owner, row.status) == ("v1.0", "new", "new")


@pytest.fixture(scope="module")
def spec_and_template(shared_samples: Path) -> tuple[CollectionSpec, ParsedBundle]:
    spec = load_collections(shared_samples).collections[0]
    return spec, parse_collection(Path(spec.git_url.removeprefix("file://"))).bundles[0]


_SLUGS = st.sampled_from(["alpha", "beta", "gamma", "delta", "epsilon"])
_SNAPSHOT = st.lists(st.tuples(_SLUGS, st.sampled_from(["h1", "h2", "h3"])), max_size=7)


@settings(max_examples=60, deadline=None)
@given(snapshots=st.lists(_SNAPSHOT, min_size=1, max_size=4))
def test_upserts_follow_a_model_and_repeat_as_no_ops(
    snapshots: list[list[tuple[str, str]]], spec_and_template: tuple
) -> None:
    """Any sequence of parses: the stored rows equal the last parse, the counts are exact,
    only changed bundles go back to pending, and writing a parse twice changes nothing."""
    spec, template = spec_and_template
    engine = migrated_memory_engine()
    model: dict[str, str] = {}
    try:
        with session_scope(engine) as session:
            upsert_collection(session, spec)
        for snapshot in snapshots:
            parsed = [dataclasses.replace(template, slug=slug, content_hash=digest)
                      for slug, digest in snapshot]
            latest = dict(reversed(snapshot))  # the first occurrence of a slug wins
            expected = UpsertStats(
                created=sum(slug not in model for slug in latest),
                updated=sum(slug in model and model[slug] != h for slug, h in latest.items()),
                unchanged=sum(model.get(slug) == h for slug, h in latest.items()),
                removed=sum(slug not in latest for slug in model),
            )
            with session_scope(engine) as session:
                assert upsert_bundles(session, spec.slug, parsed) == expected
                pending = {session.get(CodeBundle, i).slug for i in pending_bundle_ids(session)}
                assert pending == {s for s, h in latest.items() if model.get(s) != h}
                session.execute(update(CodeBundle).values(enhancement_status="completed"))
            model = latest
            with session_scope(engine) as session:
                again = upsert_bundles(session, spec.slug, parsed)
                rows = session.execute(select(CodeBundle.slug, CodeBundle.content_hash))
                stored = {slug: digest for slug, digest in rows}
                assert pending_bundle_ids(session) == []
            assert again == UpsertStats(unchanged=len(latest))
            assert stored == model
    finally:
        engine.dispose()
