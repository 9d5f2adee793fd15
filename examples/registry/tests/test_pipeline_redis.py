"""The whole pipeline on real workers with Redis as broker and result backend, and with
RabbitMQ as broker and Redis for results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_support import RegistryHome, bundle_rows, completed_logs, redis_database

pytestmark = [pytest.mark.worker, pytest.mark.redis]

REDIS_DB = 7
COLLECTIONS, BUNDLES = 3, 3


@pytest.fixture(
    scope="module", params=["redis", pytest.param("amqp", marks=pytest.mark.amqp)]
)
def registry(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    celery_safe_redis_url: str,
) -> Iterator[tuple[RegistryHome, Path]]:
    # The database is shared with other runs: each home uses a queue of its own instead.
    results = redis_database(celery_safe_redis_url, REDIS_DB)
    broker = results
    if request.param == "amqp":
        broker = request.getfixturevalue("celery_safe_amqp_url")
    home = RegistryHome(
        tmp_path_factory.mktemp(f"registry-{request.param}"), broker,
        REGISTRY_RESULT_BACKEND=results,
    )
    with home.serving(COLLECTIONS, BUNDLES) as served:
        yield served


def test_full_pipeline_then_an_idempotent_rerun(
    registry: tuple[RegistryHome, Path],
) -> None:
    home, samples = registry
    first = home.populate(samples)
    assert first["collections_synced"] == COLLECTIONS and first["errors"] == []
    assert first["bundles"]["created"] == COLLECTIONS * BUNDLES
    assert first["enhanced"] == COLLECTIONS * BUNDLES
    with home.session() as session:
        rows, logs = bundle_rows(session), completed_logs(session)
    assert len(rows) == COLLECTIONS * BUNDLES
    assert {status for _, _, status in rows.values()} == {"completed"}
    assert sorted(first["enhanced_ids"]) == sorted(bundle_id for bundle_id, _, _ in rows.values())
    assert set(logs.values()) == {1}

    second = home.populate(samples)
    assert second["bundles"]["unchanged"] == COLLECTIONS * BUNDLES
    assert second["enhanced"] == 0
    with home.session() as session:
        assert bundle_rows(session) == rows
        assert completed_logs(session) == logs
