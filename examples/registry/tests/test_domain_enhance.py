from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from registry.db import session_scope
from registry.enhance import (
    BundleView,
    Enhancement,
    EnhancementError,
    LocalProvider,
    SelectiveFailureProvider,
    enhance_bundle,
    get_provider,
    iam_hints,
)
from registry.models import CodeBundle, EnhancementLog
from registry.parsing import parse_collection
from registry.sources import load_collections
from registry.store import pending_bundle_ids, upsert_bundles, upsert_collection
from sqlalchemy import select
from sqlalchemy.engine import make_url


def _view(**changes: object) -> BundleView:
    base = dict(
        id=1, collection="c", slug="b", display_name="Bundle", doc="Checks things.",
        support_tags=("Kubernetes",), tasks=({"name": "List Pods", "doc": "", "tags": []},),
        user_variables=(), access_level="unknown",
    )
    return BundleView(**{**base, **changes})


@pytest.fixture
def stored(db_url: str, shared_samples: Path) -> str:
    for spec in load_collections(shared_samples).collections:
        parsed = parse_collection(Path(spec.git_url.removeprefix("file://")))
        with session_scope(db_url) as session:
            upsert_collection(session, spec, commit="x")
            upsert_bundles(session, spec.slug, parsed)
    return db_url


def test_local_provider_is_deterministic() -> None:
    view = _view()
    assert LocalProvider().enhance(view) == LocalProvider().enhance(view)
    result = LocalProvider().enhance(view)
    assert result.description == "Checks things. It runs 1 task: List Pods. Supports Kubernetes."
    assert result.access_level == "read-only"


@pytest.mark.parametrize(
    ("tasks", "level"),
    [
        (({"name": "A", "tags": ["access:read-write"]},), "read-write"),
        (({"name": "Restart Pods", "tags": ["access:read-only"]},), "read-only"),
        (({"name": "Restart Pods", "tags": []},), "read-write"),
        (({"name": "List", "tags": ["access:read-only"]},
          {"name": "Delete stale jobs", "doc": "", "tags": []}), "read-write"),
        (({"name": "Show Pods", "tags": []},), "read-only"),
    ],
)
def test_access_level_from_tags_then_keywords(tasks: tuple, level: str) -> None:
    assert LocalProvider.access_level(_view(tasks=tasks)) == level


def test_iam_hints_per_platform() -> None:
    k8s = iam_hints(_view(doc="Restart the deployment and its pods."), "read-write")
    rules = k8s["kubernetes"]["rules"]
    assert {"apiGroups": ["apps"], "resources": ["deployments"],
            "verbs": ["get", "list", "watch", "patch", "update"]} in rules
    aws = iam_hints(_view(support_tags=("AWS", "S3"), doc="Bucket policy."), "read-only")
    assert "s3:GetBucketPolicy" in aws["aws"]["actions"]
    assert "s3:PutBucketPublicAccessBlock" not in aws["aws"]["actions"]
    gcp = iam_hints(_view(support_tags=("GCP", "CloudSQL")), "read-write")
    assert gcp["gcp"]["roles"] == ["roles/cloudsql.editor"]
    azure = iam_hints(_view(support_tags=("Azure", "AKS")), "read-only")
    assert azure["azure"]["roles"] == ["Azure Kubernetes Service Cluster User Role"]
    assert set(azure) == {"azure", "kubernetes"}
    pg = iam_hints(_view(support_tags=("PostgreSQL",)), "read-only")
    assert pg == {"postgresql": {"kind": "PostgreSQL roles", "roles": ["pg_monitor"]}}
    assert iam_hints(_view(support_tags=("Linux",)), "read-only") == {}


def test_enhance_pending_bundles_and_log(stored: str) -> None:
    provider = get_provider("local")
    with session_scope(stored) as session:
        ids = pending_bundle_ids(session)
    assert len(ids) == 12
    outcomes = []
    for bundle_id in ids:
        with session_scope(stored) as session:
            outcomes.append(enhance_bundle(session, bundle_id, provider))
    assert {o.status for o in outcomes} == {"completed"}
    with session_scope(stored) as session:
        assert pending_bundle_ids(session) == []
        bundle = session.scalar(select(CodeBundle).where(CodeBundle.slug == "azure-vm-restart"))
        assert bundle.ai_access_level == "read-write"
        assert bundle.iam_hints["azure"]["roles"] == ["Virtual Machine Contributor"]
        assert bundle.ai_description.startswith("Restarts Azure virtual machines")
        assert bundle.enhanced_at is not None
        logs = session.scalars(select(EnhancementLog)).all()
        assert len(logs) == 12 and {log.status for log in logs} == {"completed"}


def test_redelivered_enhancement_is_skipped(stored: str) -> None:
    with session_scope(stored) as session:
        bundle_id = pending_bundle_ids(session)[0]
    provider = LocalProvider()
    with session_scope(stored) as session:
        first = enhance_bundle(session, bundle_id, provider)
    with session_scope(stored) as session:
        second = enhance_bundle(session, bundle_id, provider)
        logs = session.scalars(select(EnhancementLog).where(EnhancementLog.bundle_id == bundle_id))
        assert len(logs.all()) == 1
    assert (first.status, first.skipped) == ("completed", False)
    assert (second.status, second.skipped) == ("completed", True)


def test_the_same_attempt_delivered_again_reports_its_own_work(stored: str) -> None:
    """A worker died after committing, before acking: the message comes back, same id."""
    with session_scope(stored) as session:
        bundle_id = pending_bundle_ids(session)[0]
    provider = LocalProvider()
    outcomes = []
    for task_id in ("attempt-1", "attempt-1", "attempt-2", None):
        with session_scope(stored) as session:
            outcomes.append(enhance_bundle(session, bundle_id, provider, task_id=task_id))
    first, redelivered, another_task, outside_celery = outcomes
    assert (first.status, first.skipped) == ("completed", False)
    assert redelivered == first  # counted as this run's enhancement, nothing written twice
    assert (another_task.skipped, outside_celery.skipped) == (True, True)
    with session_scope(stored) as session:
        logs = session.scalars(
            select(EnhancementLog).where(EnhancementLog.bundle_id == bundle_id)
        ).all()
        assert [log.task_id for log in logs] == ["attempt-1"]


def test_a_failed_attempt_delivered_again_reports_the_failure(stored: str) -> None:
    class Down:
        name = "down"

        def enhance(self, bundle: BundleView) -> Enhancement:
            raise EnhancementError("model offline")

    with session_scope(stored) as session:
        bundle_id = pending_bundle_ids(session)[0]
    for _ in range(2):
        with session_scope(stored) as session:
            outcome = enhance_bundle(session, bundle_id, Down(), task_id="attempt-1")
        assert (outcome.status, outcome.skipped) == ("failed", False)
        assert outcome.message == "EnhancementError: model offline"


def _write_now(db_url: str, sql: str) -> None:
    """Write through a separate connection that will not wait for the write lock."""
    connection = sqlite3.connect(make_url(db_url).database or "", timeout=0.2,
                                 isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")  # "database is locked" if a writer holds it
        connection.execute(sql)
        connection.execute("COMMIT")
    finally:
        connection.close()


def test_concurrent_change_wins_over_stale_enhancement(stored: str) -> None:
    """Another worker re-parses the bundle while the provider runs: its change wins.

    This also shows that no write lock is held while the provider runs.
    """
    with session_scope(stored) as session:
        bundle_id = pending_bundle_ids(session)[0]

    class ChangesContentMidway(LocalProvider):
        def enhance(self, bundle: BundleView) -> Enhancement:
            _write_now(stored, f"UPDATE codebundles SET content_hash = 'changed' "
                               f"WHERE id = {bundle.id}")
            return super().enhance(bundle)

    with session_scope(stored) as session:
        outcome = enhance_bundle(session, bundle_id, ChangesContentMidway())
    assert outcome.skipped and outcome.status == "pending"
    with session_scope(stored) as session:
        assert bundle_id in pending_bundle_ids(session)
        assert session.scalars(select(EnhancementLog)).all() == []


def test_provider_failure_marks_only_that_bundle_failed(stored: str) -> None:
    provider = get_provider("fail:vm-restart")
    with session_scope(stored) as session:
        ids = pending_bundle_ids(session)
    outcomes = {}
    for bundle_id in ids:
        with session_scope(stored) as session:
            outcomes[bundle_id] = enhance_bundle(session, bundle_id, provider)
    failed = [o for o in outcomes.values() if o.status == "failed"]
    assert len(failed) == 1 and "EnhancementError" in failed[0].message
    assert "azure-vm-restart" in failed[0].message
    with session_scope(stored) as session:
        row = session.get(CodeBundle, failed[0].bundle_id)
        assert row.enhancement_status == "failed" and row.ai_description is None
        [log] = session.scalars(select(EnhancementLog).where(EnhancementLog.status == "failed"))
        assert log.provider == "fail:vm-restart" and log.finished_at is not None


def test_bad_provider_output_and_missing_bundle(stored: str) -> None:
    class Bad(LocalProvider):
        name = "bad"

        def enhance(self, bundle: BundleView) -> Enhancement:
            return Enhancement("x", "admin", {})

    with session_scope(stored) as session:
        bundle_id = pending_bundle_ids(session)[0]
        outcome = enhance_bundle(session, bundle_id, Bad())
        assert outcome.status == "failed" and "'admin'" in outcome.message
        assert enhance_bundle(session, 99999, Bad()).status == "missing"


def test_get_provider() -> None:
    assert isinstance(get_provider(""), LocalProvider)
    failing = get_provider("fail:abc")
    assert isinstance(failing, SelectiveFailureProvider)
    with pytest.raises(EnhancementError):
        failing.enhance(_view(slug="xabcx"))
    assert isinstance(get_provider("registry.enhance:LocalProvider"), LocalProvider)
    with pytest.raises(ValueError, match="unknown enhancer 'openai'"):
        get_provider("openai")
