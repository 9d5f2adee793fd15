"""The HTTP API through real requests: uvicorn on 127.0.0.1 (free port) in a thread, httpx."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_support import serving
from registry.api import create_app
from registry.config import load_settings
from registry.service import run_in_process


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory, shared_samples: Path) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("api")
    settings = load_settings(environ={}, home=str(tmp))
    run_in_process(settings.db_url, shared_samples, settings.workdir, enhancer="fail:vacuum")
    with serving(create_app(settings)) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as http:
        yield http


def test_health_and_stats(client: httpx.Client) -> None:
    health = client.get("/health").json()
    assert health["database"] == "ok" and health["status"] == "degraded"
    assert health["bundles"] == 12 and health["failed"] == 1
    stats = client.get("/stats").json()
    assert stats == {"collections": 3, "collections_with_errors": 0, "bundles": 12,
                     "tasks": 28, "enhanced": 11, "failed": 1, "pending": 0}


def test_collections(client: httpx.Client) -> None:
    listed = client.get("/collections").json()
    assert [c["slug"] for c in listed] == ["data-platform-collection", "infra-cloud-collection",
                                            "rw-cli-codecollection"]
    assert all(c["status"] == "synced" and len(c["last_commit"]) == 40 for c in listed)
    one = client.get("/collections/infra-cloud-collection").json()
    assert one["owner"] == "cloud-ops" and len(one["bundles"]) == 4
    missing = client.get("/collections/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


def test_bundle_filters_and_pagination(client: httpx.Client) -> None:
    page = client.get("/bundles", params={"limit": 5, "offset": 10}).json()
    assert (page["total"], len(page["items"]), page["offset"]) == (12, 2, 10)
    aws = client.get("/bundles", params={"platform": "aws"}).json()
    assert [b["slug"] for b in aws["items"]] == ["aws-ec2-instance-health",
                                                 "aws-s3-bucket-policy-fix"]
    combined = client.get("/bundles", params={
        "tag": "access:read-write", "platform": "kubernetes", "access_level": "read-write",
    }).json()
    assert {b["slug"] for b in combined["items"]} == {"k8s-namespace-restart"}
    assert combined["total"] == 2  # the same bundle in two collections
    search = client.get("/bundles", params={"search": "replication lag"}).json()
    assert [b["slug"] for b in search["items"]] == ["postgres-replication-lag"]
    by_collection = client.get("/bundles", params={"collection": "rw-cli-codecollection"})
    assert by_collection.json()["total"] == 4


def test_tag_filters_are_exact_and_repeatable(client: httpx.Client) -> None:
    def found(params: list[tuple[str, str]]) -> set[str]:
        page = client.get("/bundles", params=params)
        assert page.status_code == 200, page.text
        return {f"{b['collection']}/{b['slug']}" for b in page.json()["items"]}

    assert found([("tag", "S3")]) == {"rw-cli-codecollection/aws-s3-bucket-policy-fix"}
    assert found([("tag", "data")]) == found([("tag", "access:read")]) == set()
    assert found([("platform", "aws")]) == found([("platform", "AWS"), ("platform", "aws")])
    assert found([("tag", "remediation"), ("tag", "restart")]) == {
        "infra-cloud-collection/azure-vm-restart",
        "data-platform-collection/k8s-namespace-restart",
        "rw-cli-codecollection/k8s-namespace-restart",
    }
    assert found([("tag", "remediation"), ("tag", "restart"), ("platform", "azure")]) == {
        "infra-cloud-collection/azure-vm-restart"}
    assert found([("tag", "remediation"), ("tag", "s3"), ("tag", "restart")]) == set()
    assert len(found([("tag", "")])) == 12  # an empty value filters nothing


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1000}, {"limit": "ten"}, {"offset": -1}, {"offset": "1.5"},
     {"access_level": "admin"}],
)
def test_bad_query_parameters_are_422(client: httpx.Client, params: dict) -> None:
    response = client.get("/bundles", params=params)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", next(iter(params))] and error["msg"]


def test_pages_cover_every_bundle_once(client: httpx.Client) -> None:
    seen: list[tuple[str, str]] = []
    offset = 0
    while True:
        page = client.get("/bundles", params={"limit": 5, "offset": offset}).json()
        assert page["total"] == 12 and len(page["items"]) <= 5
        if not page["items"]:
            break
        seen += [(b["collection"], b["slug"]) for b in page["items"]]
        offset += 5
    assert len(seen) == len(set(seen)) == 12 and seen == sorted(seen)
    past_end = client.get("/bundles", params={"offset": 100}).json()
    assert (past_end["total"], past_end["items"]) == (12, [])
    nothing = client.get("/bundles", params={"collection": "nope", "search": "x"}).json()
    assert (nothing["total"], nothing["items"]) == (0, [])


def test_unknown_route_is_json_404(client: httpx.Client) -> None:
    response = client.get("/no-such-route")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": "Not Found"}
    assert client.post("/bundles").status_code == 405  # the API is read-only


def test_bundle_detail(client: httpx.Client) -> None:
    detail = client.get("/bundles/infra-cloud-collection/aws-s3-bucket-policy-fix")
    assert detail.status_code == 404  # that bundle lives in rw-cli-codecollection
    assert detail.json() == {"detail": "bundle 'aws-s3-bucket-policy-fix' not found in "
                                       "collection 'infra-cloud-collection'"}
    unknown = client.get("/bundles/no-such-collection/aws-s3-bucket-policy-fix")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "collection 'no-such-collection' not found"}
    body = client.get("/bundles/rw-cli-codecollection/aws-s3-bucket-policy-fix").json()
    assert body["display_name"] == "AWS S3 Public Bucket Remediation"
    assert body["access_level"] == "read-write" and body["enhancement_status"] == "completed"
    assert "s3:PutBucketPublicAccessBlock" in body["iam_hints"]["aws"]["actions"]
    assert [t["tags"][0] for t in body["tasks"]] == ["access:read-only", "access:read-write"]
    failed = client.get("/bundles/data-platform-collection/postgres-vacuum-maintenance").json()
    assert failed["enhancement_status"] == "failed" and failed["ai_description"] is None


def test_database_outage_is_json_503_and_health_reports_it(tmp_path: Path) -> None:
    db_file = tmp_path / "data" / "registry.db"
    app = create_app(f"sqlite:///{db_file}")
    shutil.rmtree(db_file.parent)
    db_file.parent.write_text("no longer a folder")  # the database cannot be opened now
    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        stats = http.get("/stats")
        assert stats.status_code == 503
        assert stats.json() == {"detail": "database unavailable: unable to open database file"}
        health = http.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "error"
        assert "unable to open database file" in health.json()["database"]
