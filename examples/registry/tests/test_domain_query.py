from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from registry import query
from registry.db import session_scope
from registry.service import run_in_process


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory, shared_samples: Path) -> str:
    tmp = tmp_path_factory.mktemp("query")
    url = f"sqlite:///{tmp / 'r.db'}"
    run_in_process(url, shared_samples, tmp / "work", enhancer="fail:vacuum")
    return url


def _slugs(url: str, **filters: object) -> list[str]:
    with session_scope(url) as session:
        return [b["slug"] for b in query.list_bundles(session, **filters)["items"]]


def test_filters(populated: str) -> None:
    assert _slugs(populated, platform="aws") == ["aws-ec2-instance-health",
                                                 "aws-s3-bucket-policy-fix"]
    assert "gcp-gke-node-pool-check" in _slugs(populated, platform="KUBERNETES")
    assert _slugs(populated, tag="remediation", collection="infra-cloud-collection") == [
        "azure-vm-restart"]
    read_write = _slugs(populated, access_level="read-write")
    assert len(read_write) == 6 and "azure-vm-restart" in read_write
    assert _slugs(populated, search="vacuum analyze") == ["postgres-vacuum-maintenance"]
    assert _slugs(populated, tag="data") == []  # whole tags only, never substrings
    assert _slugs(populated, search="100%_") == []  # LIKE wildcards are escaped


def test_pagination_and_totals(populated: str) -> None:
    with session_scope(populated) as session:
        page1 = query.list_bundles(session, limit=5)
        page3 = query.list_bundles(session, limit=5, offset=10)
    assert page1["total"] == page3["total"] == 12
    assert len(page1["items"]) == 5 and len(page3["items"]) == 2
    with pytest.raises(ValueError, match="limit"), session_scope(populated) as session:
        query.list_bundles(session, limit=0)
    with pytest.raises(ValueError, match="access_level"), session_scope(populated) as session:
        query.list_bundles(session, access_level="admin")


def test_detail_stats_health(populated: str) -> None:
    with session_scope(populated) as session:
        detail = query.get_bundle(session, "rw-cli-codecollection", "k8s-namespace-restart")
        assert detail is not None
        assert detail["access_level"] == "read-write"
        assert detail["iam_hints"]["kubernetes"]["rules"]
        assert [v["name"] for v in detail["user_variables"]] == ["NAMESPACE", "CONTEXT"]
        assert query.get_bundle(session, "rw-cli-codecollection", "nope") is None
        assert query.stats(session) == {
            "collections": 3, "collections_with_errors": 0, "bundles": 12, "tasks": 28,
            "enhanced": 11, "failed": 1, "pending": 0,
        }
        health = query.health(session)
        assert health["status"] == "degraded" and health["failed"] == 1
        info = query.get_collection_info(session, "data-platform-collection")
        assert info is not None and info["bundle_count"] == 4
        assert [c["bundle_count"] for c in query.list_collections(session)] == [4, 4, 4]
        assert query.collection_exists(session, "data-platform-collection")
        assert not query.collection_exists(session, "nope")


def test_timestamps_are_utc_iso(populated: str) -> None:
    with session_scope(populated) as session:
        stamps = [query.health(session)["last_synced_at"],
                  *(c["last_synced_at"] for c in query.list_collections(session)),
                  query.get_bundle(session, "rw-cli-codecollection", "k8s-namespace-restart")[
                      "enhanced_at"]]
    for stamp in stamps:
        parsed = dt.datetime.fromisoformat(stamp)
        assert parsed.utcoffset() == dt.timedelta(0)
        assert abs(dt.datetime.now(dt.timezone.utc) - parsed) < dt.timedelta(minutes=10)
