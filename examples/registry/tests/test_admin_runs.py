"""Every admin action on real workers, on the embedded default: the request only sends.

One registry home (its collections.yaml, repos, database and embedded broker) and one
``serve`` process with an admin token; each test starts the worker it needs, after its
requests when it shows that nothing ran inside them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from admin_support import AdminClient, admin_server, finish_on_a_worker, queued_messages
from pipeline_support import RegistryHome, bundle_rows, completed_logs, wait_for_file
from registry import query, runs
from registry.models import CodeBundle
from registry.samples import TEMPLATES, generate_sample_collections
from sqlalchemy import select, update

pytestmark = pytest.mark.worker

COLLECTIONS, BUNDLES = 2, 3
#: The bundle stored last (the last collection is synced last, its bundle folders in
#: name order): its enhancement pauses (REGISTRY_SLOW_ENHANCE) after all the others
#: ran, one at a time, in id order, on a worker with one pool process.
SLOW = max(t.slug for t in TEMPLATES[(COLLECTIONS - 1) * BUNDLES:COLLECTIONS * BUNDLES])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RegistryHome, AdminClient]]:
    home = RegistryHome(tmp_path_factory.mktemp("registry-admin"))
    generate_sample_collections(home.home, collections=COLLECTIONS,
                                bundles_per_collection=BUNDLES)  # HOME/collections.yaml
    with admin_server(home) as client:
        yield home, client


def test_a_sync_is_only_sent_then_a_worker_runs_it(
    site: tuple[RegistryHome, AdminClient],
) -> None:
    home, client = site
    run_id = client.start("/admin/sync")
    # No worker is running: the request returned, and nothing it started has run.
    sent = client.run(run_id)
    assert (sent["status"], sent["state"], sent["action"]) == ("running", "PENDING", "sync-all")
    assert sent["headline"] == ("queued — no worker is running; start one with "
                                "`python -m registry worker`"), sent
    assert sent["progress"]["done"] == 0 and sent["progress"]["total"] >= 3 + COLLECTIONS
    assert sent["result"] is None and sent["errors"] == []
    assert queued_messages(home) >= 1
    with home.session() as session:
        assert query.stats(session)["bundles"] == 0
    page = httpx.get(f"{client.url}/runs/{run_id}", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and ">sync-all<" in page.text and "running" in page.text

    worker = home.worker(concurrency=1, REGISTRY_SLOW_ENHANCE=f"{SLOW}:8")
    try:
        wait_for_file(home.home / f"slow-{SLOW}.started", 120, "the paused enhancement")
        # The syncs are done; launch_enhancements became a chord, of which every part
        # but the sleeping one is done.
        going = client.run(run_id)
        page = httpx.get(f"{client.url}/runs/{run_id}", headers={"Accept": "text/html"},
                         timeout=30).text
        done = client.wait(run_id)
    finally:
        worker.stop()
    assert going["status"] == "running" and going["state"] == "STARTED"
    chord_size = COLLECTIONS * BUNDLES
    # The trace follows launch_enhancements into its chord: the parts and the tally
    # (which inherits launch's id) are steps of the run, all but one part done.
    assert going["progress"] == {"done": 1 + COLLECTIONS + chord_size,
                                 "total": 4 + COLLECTIONS + chord_size}
    assert going["headline"] == f"running {1 + COLLECTIONS + chord_size}/" \
                                f"{4 + COLLECTIONS + chord_size}"
    launch_id = next(s["id"] for s in going["trace"]
                     if s["task"] == "registry.launch_enhancements")
    [launch, tally] = [s for s in going["trace"] if s["id"] == launch_id]
    assert tally["state"] == "PENDING" and tally["task"] == "registry.tally_enhancements"
    assert sum(s["task"] == "registry.enhance_bundle" for s in going["trace"]) == chord_size
    assert launch["state"] == "REPLACED"
    assert launch["progress"] == {"current": chord_size - 1, "total": chord_size}
    assert f"replaced ({chord_size - 1} of {chord_size} done)" in page
    assert "REPLACED" not in page and "STARTED" not in page
    assert done["status"] == "finished" and done["state"] == "SUCCESS", done
    assert done["progress"]["done"] == done["progress"]["total"]
    result = done["result"]
    assert result["collections_synced"] == COLLECTIONS and result["errors"] == []
    assert result["enhanced"] == COLLECTIONS * BUNDLES
    assert done["seconds"] > 0 and done["finished_at"] is not None
    assert {step["state"] for step in done["trace"]} == {"SUCCESS", "REPLACED"}
    assert done["headline"] == "finished"

    # Replay: reading a finished run again returns what was stored and sends nothing.
    with home.session() as session:
        rows, logs = bundle_rows(session), completed_logs(session)
    assert queued_messages(home) == 0
    again = [client.run(run_id) for _ in range(3)]
    assert all(run == done for run in again)
    assert queued_messages(home) == 0
    with home.session() as session:
        assert (bundle_rows(session), completed_logs(session)) == (rows, logs)
    stored = runs.get_run(home.db_url, run_id)
    assert stored is not None and stored["summary"] == result and stored["action"] == "sync-all"


def test_an_idempotency_key_never_starts_a_second_run(
    site: tuple[RegistryHome, AdminClient],
) -> None:
    home, client = site
    first = client.post("/admin/enhance", key="enhance-1")
    assert first.status_code == 202 and first.json()["replayed"] is False
    run_id = first.json()["run_id"]
    queued = queued_messages(home)
    second = client.post("/admin/enhance", key="enhance-1")
    assert second.status_code == 202 and second.json() == {**first.json(), "replayed": True}
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["location"] == f"/runs/{run_id}"
    other = client.post("/admin/sync", key="enhance-1")  # the key of another action
    assert other.status_code == 409 and run_id in other.json()["detail"]
    assert queued_messages(home) == queued  # nothing more was sent
    # A request cannot name the run's id: one sent with an id in its query and body is
    # a new run under a new id.
    named = httpx.post(f"{client.url}/admin/enhance?run_id={run_id}&task_id={run_id}",
                       json={"run_id": run_id, "task_id": run_id}, timeout=30,
                       headers={"Authorization": f"Bearer {client.token}"})
    assert named.status_code == 202 and named.json()["run_id"] != run_id

    finished, fresh = finish_on_a_worker(home, client, run_id, named.json()["run_id"])
    assert finished["status"] == "finished" and finished["action"] == "enhance"
    assert fresh["status"] == "finished" and fresh["id"] != finished["id"]
    # The finished run's key replayed: the same run, still finished, nothing sent.
    third = client.post("/admin/enhance", key="enhance-1")
    assert third.json()["run_id"] == run_id and third.json()["replayed"] is True
    assert queued_messages(home) == 0
    assert client.run(run_id) == finished
    with home.session() as session:
        keyed = session.execute(select(runs.runs_table.c.id)
                                .where(runs.runs_table.c.request_key == "enhance-1")).all()
    assert [row.id for row in keyed] == [run_id]


def test_one_collection_then_failed_bundles_again(
    site: tuple[RegistryHome, AdminClient],
) -> None:
    home, client = site
    missing = client.post("/admin/collections/nope/sync")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "collection 'nope' not found"}
    with home.session() as session:
        slug = query.list_collections(session)[0]["slug"]
        failed = list(session.scalars(select(CodeBundle.id).order_by(CodeBundle.id).limit(2)))
        session.execute(update(CodeBundle).where(CodeBundle.id.in_(failed))
                        .values(enhancement_status="failed"))
    sync_id = client.start(f"/admin/collections/{slug}/sync")
    enhance_id = client.start("/admin/enhance")
    synced, enhanced = finish_on_a_worker(home, client, sync_id, enhance_id)
    assert synced["status"] == "finished" and synced["action"] == f"sync-collection:{slug}"
    assert synced["collections"] == [slug]
    assert synced["result"]["collections_synced"] == 1
    assert synced["result"]["bundles"]["unchanged"] == BUNDLES
    assert enhanced["status"] == "finished"
    assert sorted(enhanced["result"]["enhanced_ids"]) == failed
    assert enhanced["result"]["enhanced"] == len(failed)
    with home.session() as session:
        assert {status for _, _, status in bundle_rows(session).values()} == {"completed"}


def test_a_schedule_entry_runs_by_name(site: tuple[RegistryHome, AdminClient]) -> None:
    home, client = site
    typo = client.post("/admin/schedules/sync-collections-every-6hours/run")
    assert typo.status_code == 404
    assert "did you mean 'sync-collections-every-6h'?" in typo.json()["detail"]
    run_id = client.start("/admin/schedules/health-check-every-5min/run")
    assert client.run(run_id)["state"] == "PENDING"
    # scheduled_sync replaces itself with the whole pipeline: its run is the pipeline's
    sync_id = client.start("/admin/schedules/sync-collections-every-6h/run")
    done, synced = finish_on_a_worker(home, client, run_id, sync_id)
    assert synced["status"] == "finished", synced
    assert synced["action"] == "schedule:sync-collections-every-6h"
    assert synced["result"]["collections_synced"] == COLLECTIONS
    assert done["status"] == "finished" and done["action"] == "schedule:health-check-every-5min"
    assert done["result"]["database"] == "ok"
    assert done["trace"][0]["task"] == "registry.health_check"
    page = httpx.get(f"{client.url}/runs/{run_id}", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and "Result" in page.text
    home_page = httpx.get(f"{client.url}/", timeout=30).text
    assert f"/runs/{run_id}" in home_page and "schedule health-check-every-5min" in home_page


def test_the_daily_task_growth_runs_from_the_admin_api(
    site: tuple[RegistryHome, AdminClient],
) -> None:
    """Beat's analytics entry, sent now over HTTP: the map_reduce over the stored
    collections runs on a worker and stores the report the /analytics page draws."""
    home, client = site
    run_id = client.start("/admin/schedules/task-growth-daily/run")
    [done] = finish_on_a_worker(home, client, run_id)
    assert done["status"] == "finished", done
    assert done["action"] == "schedule:task-growth-daily"
    stored = httpx.get(f"{client.url}/analytics/task-growth", timeout=30).json()
    assert stored["total"] == done["result"]["total"] > 0
    assert len(stored["collections"]) == COLLECTIONS
    assert not [c for c in stored["collections"] if c.get("error")]


def test_the_home_page_records_the_end_of_a_run_nobody_read(
    site: tuple[RegistryHome, AdminClient],
) -> None:
    home, client = site
    run_id = client.start("/admin/schedules/health-check-every-5min/run")
    worker = home.worker()
    try:  # a client process waits for the result (outside any task): not through the API
        home.python("import sys\nfrom registry.celery_app import app\n"
                    "app.AsyncResult(sys.argv[1]).get(timeout=120)", run_id)
    finally:
        worker.stop()
    unread = runs.get_run(home.db_url, run_id)
    assert unread is not None and unread["status"] == "running"
    page = httpx.get(f"{client.url}/", timeout=30).text
    read = runs.get_run(home.db_url, run_id)
    assert read is not None and read["status"] == "finished"
    assert read["summary"]["database"] == "ok"
    assert f"Health check {run_id[:8]}</a>" in page
    assert "an operator (admin API or `python -m registry run`): schedule " \
           "health-check-every-5min" in page


def test_a_run_the_broker_did_not_take_is_recorded_failed(tmp_path: Path) -> None:
    # A broker that refuses connections: the request answers 503 at once, and the run
    # it recorded before sending says why it never started.
    home = RegistryHome(tmp_path / "home", "redis://127.0.0.1:1/0",
                        REGISTRY_RESULT_BACKEND=f"db+sqlite:///{tmp_path / 'results.db'}")
    with admin_server(home) as client:
        response = client.post("/admin/enhance")
        assert response.status_code == 503, response.text
        run_id = response.json()["run_id"]
        assert f"the broker did not take run {run_id}: " in response.json()["detail"]
        assert "Connection refused" in response.json()["detail"]
        [run] = runs.latest_runs(home.db_url)
        assert run["id"] == run_id and run["status"] == "failed"
        assert run["error"].startswith("not sent: ")
        assert client.run(run_id)["status"] == "failed"


def test_the_same_actions_from_the_command_line(site: tuple[RegistryHome, AdminClient]) -> None:
    home, client = site

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "registry", "run", *args],
                              env={**os.environ, **home.env}, cwd=home.home,
                              capture_output=True, text=True, timeout=300, check=False)

    typo = cli("schedule", "health-check-every-5mn")
    assert typo.returncode == 1 and "did you mean 'health-check-every-5min'?" in typo.stderr
    assert cli("collection").returncode == 2  # a slug is needed
    with home.session() as session:
        slug = query.list_collections(session)[-1]["slug"]
    worker = home.worker()
    try:
        done = cli("collection", slug, "--wait", "--json")
    finally:
        worker.stop()
    assert done.returncode == 0, done.stderr
    first, *progress = done.stdout.split("\n{", 1)[0].splitlines()
    run_id = first.removeprefix(f"sent sync-collection:{slug} as run ")
    assert progress[-1].startswith(f"run {run_id[:8]}  sync-collection:{slug}  ")
    assert "  finished  in " in progress[-1] and progress[-1].endswith(" s")
    ended = json.loads("{" + done.stdout.split("\n{", 1)[1])
    assert ended["id"] == run_id and ended["result"]["collections_synced"] == 1
    assert client.run(run_id) == ended  # the API shows the CLI's run, stored once
