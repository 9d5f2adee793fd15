"""Every bad input gets its own clear error; the rest of the run completes, stored data stays."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pipeline_support import RegistryHome, bundle_rows
from registry.models import CodeBundle, Collection
from registry.samples import BadInputs, add_bad_inputs, generate_sample_collections
from sqlalchemy import select

pytestmark = pytest.mark.worker


@pytest.fixture(scope="module")
def bad_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RegistryHome, BadInputs, dict[str, Any], dict[str, tuple[int, str, str]]]]:
    """A good run, then the same collections with every bad input planted, on one worker."""
    home = RegistryHome(tmp_path_factory.mktemp("registry-bad"))
    samples = generate_sample_collections(home.home / "samples", bundles_per_collection=3)
    worker = home.worker()
    try:
        good = home.populate(samples)
        assert good["errors"] == [], good["errors"]
        with home.session() as session:
            before = bundle_rows(session)
        bad = add_bad_inputs(samples)
        yield home, bad, home.populate(samples), before
    finally:
        worker.stop()


def _errors_about(summary: dict[str, Any], *needles: str) -> list[str]:
    return [e for e in summary["errors"] if all(needle in e for needle in needles)]


def test_malformed_entries_are_each_reported(bad_run: Any) -> None:
    _, bad, summary, _ = bad_run
    for label in bad.malformed_entries:
        assert len(_errors_about(summary, f"collection {label}")) == 1, label
    assert _errors_about(summary, "missing-url", "git_url", "is required")
    assert _errors_about(summary, "must be a mapping")


@pytest.mark.parametrize("index", [0, 1])
def test_option_injection_urls_are_refused_before_git_runs(bad_run: Any, index: int) -> None:
    home, bad, summary, _ = bad_run
    url = bad.injection_urls[index]
    assert len(_errors_about(summary, url)) == 1
    assert not Path("/tmp/registry-pwned").exists()
    with home.session() as session:
        stored_urls = set(session.scalars(select(Collection.git_url)))
    assert url not in stored_urls


@pytest.mark.parametrize(
    ("slug", "words"),
    [("unreachable-repo", ("does not appear to be a git repository",)),
     ("missing-ref", ("no-such-branch", "does not exist"))],
)
def test_unusable_repositories_are_recorded_on_their_collection(
    bad_run: Any, slug: str, words: tuple[str, ...]
) -> None:
    home, _, summary, _ = bad_run
    assert len(_errors_about(summary, f"collection {slug!r}", *words)) == 1
    with home.session() as session:
        collection = session.scalar(select(Collection).where(Collection.slug == slug))
        assert collection is not None and collection.status == "error"
        assert all(word in (collection.last_error or "") for word in words)
        assert collection.bundles == []


def test_bad_bundles_are_reported_and_the_outside_file_is_never_read(bad_run: Any) -> None:
    home, bad, summary, _ = bad_run
    host = bad.host_collection
    assert _errors_about(summary, host, bad.malformed_bundle, "Tsks")
    assert _errors_about(summary, host, bad.undecodable_bundle, "UTF-8")
    assert _errors_about(summary, host, bad.escaping_symlink_bundle, "outside the checkout")
    secret = bad.outside_file.read_text().strip()
    with home.session() as session:
        slugs = set(session.scalars(select(CodeBundle.slug)))
        texts = [repr(row) for row in session.execute(
            select(CodeBundle.doc, CodeBundle.readme, CodeBundle.tasks, CodeBundle.description)
        ).all()]
    assert {bad.malformed_bundle, bad.undecodable_bundle, bad.escaping_symlink_bundle}.isdisjoint(
        slugs
    )
    assert not any(secret in text for text in texts)


def test_the_rest_completes_and_stored_data_stays_intact(bad_run: Any) -> None:
    home, _, summary, before = bad_run
    assert summary["collections_synced"] == 3  # the three good ones, host included
    assert summary["collections_failed"] == 7  # 5 refused entries, unreachable, missing ref
    assert summary["bundles"]["removed"] == 0
    with home.session() as session:
        after = bundle_rows(session)
    assert after == before  # same ids, same content, still enhanced
    assert {status for _, _, status in after.values()} == {"completed"}


def test_a_stored_collection_that_breaks_keeps_its_bundles(bad_run: Any) -> None:
    home, _, _, before = bad_run
    data = yaml.safe_load((home.home / "samples" / "collections.yaml").read_text())
    broken = data["codecollections"][1]
    broken["git_ref"] = "branch-deleted-upstream"
    path = home.home / "broken-ref.yaml"
    path.write_text(yaml.safe_dump({"codecollections": [broken]}))

    summary = home.populate(path)

    assert summary["collections_failed"] == 1
    assert _errors_about(summary, broken["slug"], "branch-deleted-upstream", "does not exist")
    with home.session() as session:
        after = bundle_rows(session)
        status = session.scalar(select(Collection.status).where(Collection.slug == broken["slug"]))
    assert status == "error"
    kept = {key: row for key, row in before.items() if key.startswith(broken["slug"] + "/")}
    assert kept and all(after[key] == row for key, row in kept.items())
