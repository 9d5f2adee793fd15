"""The domain pipeline end to end, in process: bad inputs, re-runs, stored data intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from registry import service
from registry.db import session_scope
from registry.models import CodeBundle, Collection, EnhancementLog
from registry.samples import BadInputs, commit_all, modify_bundle
from registry.service import run_in_process
from registry.sources import CollectionSpec, load_collections
from sqlalchemy import func, select
from sqlalchemy.engine import make_url


def test_full_run_with_every_bad_input(
    bad_samples: tuple[Path, BadInputs], db_url: str, workdir: Path
) -> None:
    collections_yaml, bad = bad_samples
    summary = run_in_process(db_url, collections_yaml, workdir)
    assert (summary["bundles"], summary["enhanced"], summary["failed"], summary["pending"]) == (
        12, 12, 0, 0)
    assert summary["tasks"] == 28
    # 5 malformed YAML entries (incl. both injections) refused by name.
    assert len(summary["source_errors"]) == 5
    joined = "\n".join(summary["source_errors"])
    for url in bad.injection_urls:
        assert repr(url) in joined
    reports = {r["collection"]: r for r in summary["collection_reports"]}
    assert reports[bad.unreachable_slug]["status"] == "error"
    assert "does not appear to be a git repository" in reports[bad.unreachable_slug]["errors"][0]
    assert reports[bad.missing_ref_slug]["status"] == "error"
    assert "'no-such-branch' does not exist" in reports[bad.missing_ref_slug]["errors"][0]
    host = reports[bad.host_collection]
    assert host["status"] == "partial" and host["created"] == 4
    assert len(host["errors"]) == 3
    assert not Path("/tmp/registry-pwned").exists()


def test_rerun_is_idempotent_and_reenhances_changed(
    sample_yaml: Path, db_url: str, workdir: Path
) -> None:
    first = run_in_process(db_url, sample_yaml, workdir)
    second = run_in_process(db_url, sample_yaml, workdir)
    assert {r["unchanged"] for r in second["collection_reports"]} == {4}
    assert second["bundles"] == first["bundles"] == 12
    with session_scope(db_url) as session:
        assert session.scalar(select(func.count()).select_from(EnhancementLog)) == 12

    spec = load_collections(sample_yaml).collections[1]
    modify_bundle(Path(spec.git_url.removeprefix("file://")), "azure-vm-restart")
    third = run_in_process(db_url, sample_yaml, workdir)
    report = next(r for r in third["collection_reports"] if r["collection"] == spec.slug)
    assert (report["updated"], report["unchanged"]) == (1, 3)
    assert third["tasks"] == first["tasks"] + 1 and third["enhanced"] == 12
    with session_scope(db_url) as session:
        bundle = session.scalar(select(CodeBundle).where(CodeBundle.slug == "azure-vm-restart"))
        assert len(bundle.enhancement_logs) == 2
        assert "Updated Check" in bundle.ai_description


def test_broken_later_keeps_last_good_version(
    sample_yaml: Path, db_url: str, workdir: Path
) -> None:
    run_in_process(db_url, sample_yaml, workdir)
    spec = load_collections(sample_yaml).collections[0]
    repo = Path(spec.git_url.removeprefix("file://"))
    (repo / "codebundles" / "aws-ec2-instance-health" / "runbook.robot").write_text("*** Oops\n")
    commit_all(repo, "break a bundle")
    summary = run_in_process(db_url, sample_yaml, workdir)
    report = next(r for r in summary["collection_reports"] if r["collection"] == spec.slug)
    assert report["status"] == "partial" and report["removed"] == 0
    assert summary["bundles"] == 12
    with session_scope(db_url) as session:
        bundle = session.scalar(
            select(CodeBundle).where(CodeBundle.slug == "aws-ec2-instance-health"))
        assert bundle.display_name == "AWS EC2 Instance Health"


def test_later_failures_keep_stored_data(sample_yaml: Path, db_url: str, workdir: Path) -> None:
    """A good run, then every collection goes bad in its own way: nothing stored is lost."""
    first = run_in_process(db_url, sample_yaml, workdir)
    assert (first["bundles"], first["enhanced"]) == (12, 12)
    with session_scope(db_url) as session:
        before = {(b.collection.slug, b.slug): (b.content_hash, b.ai_description)
                  for b in session.scalars(select(CodeBundle))}
        commits = {c.slug: c.last_commit for c in session.scalars(select(Collection))}
    data = yaml.safe_load(sample_yaml.read_text())
    missing_ref, moved, injected = data["codecollections"]
    missing_ref["git_ref"] = "deleted-branch"
    moved_repo = Path(moved["git_url"].removeprefix("file://"))
    moved_repo.rename(moved_repo.with_name(moved_repo.name + "-moved"))
    old_url, injected["git_url"] = injected["git_url"], "--upload-pack=touch /tmp/registry-pwned"
    sample_yaml.write_text(yaml.safe_dump(data, sort_keys=False))

    second = run_in_process(db_url, sample_yaml, workdir)

    [source_error] = second["source_errors"]
    assert f"('{injected['slug']}'): git_url" in source_error and "option" in source_error
    reports = {r["collection"]: r for r in second["collection_reports"]}
    assert set(reports) == {missing_ref["slug"], moved["slug"]}
    assert "'deleted-branch' does not exist" in reports[missing_ref["slug"]]["errors"][0]
    assert "does not appear to be a git repository" in reports[moved["slug"]]["errors"][0]
    assert (second["bundles"], second["enhanced"], second["pending"]) == (12, 12, 0)
    with session_scope(db_url) as session:
        after = {(b.collection.slug, b.slug): (b.content_hash, b.ai_description)
                 for b in session.scalars(select(CodeBundle))}
        rows = {c.slug: c for c in session.scalars(select(Collection))}
        assert session.scalar(select(func.count()).select_from(EnhancementLog)) == 12
    assert after == before
    assert {slug: row.last_commit for slug, row in rows.items()} == commits
    assert [rows[s["slug"]].status for s in (missing_ref, moved, injected)] == [
        "error", "error", "synced"]
    assert rows[injected["slug"]].git_url == old_url  # the refused entry changed nothing
    for slug in (missing_ref["slug"], moved["slug"]):  # the checkouts were not disturbed
        assert (workdir / slug / "codebundles").is_dir()
    assert not Path("/tmp/registry-pwned").exists()


def test_no_write_lock_is_held_while_git_runs(
    sample_yaml: Path, db_url: str, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow clone must not keep other workers from writing (SQLite's lock is global)."""
    run_in_process(db_url, sample_yaml, workdir)  # the schema and a first sync
    real_sync = service.sync_collection
    written: list[str] = []

    def sync_while_another_worker_writes(spec: CollectionSpec, *args: Any, **kw: Any) -> Any:
        connection = sqlite3.connect(make_url(db_url).database or "", timeout=0.2,
                                     isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")  # "database is locked" if the lock is held
            connection.execute("UPDATE collections SET description = 'x' WHERE slug = ?",
                               (spec.slug,))
            connection.execute("COMMIT")
            written.append(spec.slug)
        finally:
            connection.close()
        return real_sync(spec, *args, **kw)

    monkeypatch.setattr(service, "sync_collection", sync_while_another_worker_writes)
    spec = load_collections(sample_yaml).collections[0]
    with session_scope(db_url) as session:
        session.scalar(select(Collection).where(Collection.slug == spec.slug))  # as the task does
        report = service.ingest_collection(session, spec, workdir)
    assert written == [spec.slug] and report.status == "synced"
