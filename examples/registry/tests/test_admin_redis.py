"""The admin actions on real workers with Redis as broker and result backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from admin_support import admin_server, finish_on_a_worker
from pipeline_support import RegistryHome, bundle_rows, redis_database
from registry.samples import generate_sample_collections

pytestmark = [pytest.mark.worker, pytest.mark.redis]

REDIS_DB = 8  # unless the run names its own database; each home has its own queue
COLLECTIONS, BUNDLES = 2, 2


def test_every_admin_action_on_redis(tmp_path: Path, celery_safe_redis_url: str) -> None:
    redis = redis_database(celery_safe_redis_url, REDIS_DB)
    home = RegistryHome(tmp_path / "home", redis, REGISTRY_RESULT_BACKEND=redis)
    generate_sample_collections(home.home, collections=COLLECTIONS,
                                bundles_per_collection=BUNDLES)
    with admin_server(home) as client:
        sync_id = client.start("/admin/sync")
        sent = client.run(sync_id)  # no worker yet: sent, not run
        assert (sent["status"], sent["state"], sent["progress"]["done"]) == ("running",
                                                                              "PENDING", 0)
        [synced] = finish_on_a_worker(home, client, sync_id)
        assert synced["status"] == "finished", synced
        assert synced["result"]["collections_synced"] == COLLECTIONS
        assert synced["result"]["enhanced"] == COLLECTIONS * BUNDLES
        slug = synced["collections"][0]
        started = [client.start(f"/admin/collections/{slug}/sync"),
                   client.start("/admin/enhance"),
                   client.start("/admin/schedules/health-check-every-5min/run")]
        one, again, health = finish_on_a_worker(home, client, *started)
        assert client.run(sync_id) == synced  # a finished run read again: unchanged
    assert one["status"] == "finished" and one["result"]["collections_synced"] == 1
    assert one["result"]["bundles"]["unchanged"] == BUNDLES
    assert again["status"] == "finished" and again["result"]["enhanced"] == 0
    assert health["status"] == "finished" and health["result"]["database"] == "ok"
    with home.session() as session:
        assert {status for _, _, status in bundle_rows(session).values()} == {"completed"}
