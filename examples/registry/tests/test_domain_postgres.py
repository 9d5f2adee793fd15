"""The domain on PostgreSQL: a throwaway cluster (initdb + pg_ctl) and psycopg 3.

Set ``REGISTRY_TEST_PG_URL`` (``postgresql+psycopg://...``, an empty database) to use
an existing server instead. Skipped when neither that nor PostgreSQL's binaries and
psycopg are available.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from legacy_schema import create_legacy_database
from migration_support import (
    OLD_BUNDLES,
    assert_freshness_backfilled,
    assert_upgraded_with_rows,
    database_at_0004,
)
from registry import query, store
from registry.db import create_schema, make_engine, session_scope
from registry.enhance import BundleView, Enhancement, LocalProvider, enhance_bundle
from registry.migrate import current_revision, head_revision
from registry.models import BundleTag, CodeBundle, Collection
from registry.parsing import parse_collection
from registry.samples import BadInputs
from registry.service import IngestReport, ingest_collection, run_in_process
from registry.sources import load_collections
from registry.store import pending_bundle_ids
from search_support import judge
from sqlalchemy import Engine, MetaData, delete, func, select, text, update
from tags_support import (
    LOOKALIKES,
    make_bundle,
    open_at_once,
    slugs,
    store_as_previous_version,
    stored_tags,
    sync,
)

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("psycopg") is None, reason="psycopg is not installed"
)


def _binary(name: str) -> str | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return shutil.which(name) or (str(candidates[0]) if candidates else None)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    """A server URL (``.../postgres``) of a throwaway cluster, or the configured one."""
    configured = os.environ.get("REGISTRY_TEST_PG_URL")
    if configured:
        yield configured
        return
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found")
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        run_as = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="registry-pg-"))
    if run_as:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, port = base / "data", _free_port()

    def run(*args: str, check: bool = True) -> None:
        subprocess.run([*run_as, *args], check=check, timeout=120, cwd=base,
                       stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    try:
        try:
            run(initdb, "-D", str(data), "-U", "registry", "--auth=trust", "-E", "UTF8",
                "--no-sync")
            run(pg_ctl, "-D", str(data), "-w", "-l", str(base / "log"), "-o",
                f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        except (OSError, subprocess.SubprocessError) as exc:
            if os.environ.get("CI"):
                raise  # CI has PostgreSQL: a cluster that cannot start is a failure there
            pytest.skip(f"could not start a throwaway PostgreSQL cluster: {exc}")
        yield f"postgresql+psycopg://registry@127.0.0.1:{port}/postgres"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(base, ignore_errors=True)


def drop_everything(engine: Engine) -> None:
    """Drop every table, Alembic's ``alembic_version`` and older releases' included."""
    tables = MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """The server's database with fresh, empty registry tables (dropped afterwards)."""
    engine = make_engine(pg_server)
    drop_everything(engine)
    create_schema(engine)  # session_scope's engine cache has seen the schema once
    try:
        yield pg_server
    finally:
        drop_everything(engine)
        engine.dispose()


def test_pipeline_with_bad_inputs_and_rerun(
    pg_url: str, bad_samples: tuple[Path, BadInputs], workdir: Path
) -> None:
    collections_yaml, bad = bad_samples
    first = run_in_process(pg_url, collections_yaml, workdir, enhancer="fail:vacuum")
    second = run_in_process(pg_url, collections_yaml, workdir, enhancer="fail:vacuum")
    for summary in (first, second):
        counts = {k: summary[k] for k in ("bundles", "tasks", "enhanced", "failed", "pending")}
        assert counts == {"bundles": 12, "tasks": 28, "enhanced": 11, "failed": 1, "pending": 0}
        assert len(summary["source_errors"]) == 5
        statuses = {r["collection"]: r["status"] for r in summary["collection_reports"]}
        assert statuses[bad.host_collection] == "partial"
        assert statuses[bad.unreachable_slug] == statuses[bad.missing_ref_slug] == "error"
    assert {r["unchanged"] for r in second["collection_reports"] if r["status"] != "error"} == {4}
    with session_scope(pg_url) as session:
        assert query.list_bundles(session, platform="aws")["total"] == 2
        combined = query.list_bundles(session, tag="ACCESS:read-write", platform="Kubernetes",
                                      access_level="read-write")
        assert combined["total"] == 2
        found = query.list_bundles(session, search="replication lag")["items"]
        assert [b["slug"] for b in found] == ["postgres-replication-lag"]
        health = query.health(session)
        assert health["status"] == "degraded" and health["last_synced_at"].endswith("+00:00")


def test_change_by_another_connection_wins_over_stale_enhancement(
    pg_url: str, shared_samples: Path, workdir: Path
) -> None:
    """Real concurrency (no SQLite write lock here): the conditional UPDATE decides."""
    run_in_process(pg_url, shared_samples, workdir, enhancer="fail:")  # every bundle fails
    with session_scope(pg_url) as session:
        session.execute(update(CodeBundle).values(enhancement_status="pending"))
    with session_scope(pg_url) as session:
        bundle_id = pending_bundle_ids(session)[0]

    class ChangedMidway(LocalProvider):
        def enhance(self, bundle: BundleView) -> Enhancement:
            with session_scope(pg_url) as other:  # another worker re-parsed the bundle
                other.execute(update(CodeBundle).where(CodeBundle.id == bundle.id)
                              .values(content_hash="changed"))
            return super().enhance(bundle)

    with session_scope(pg_url) as session:
        outcome = enhance_bundle(session, bundle_id, ChangedMidway())
    assert outcome.skipped and outcome.status == "pending"
    with session_scope(pg_url) as session:
        row = session.get(CodeBundle, bundle_id)
        assert row is not None
        assert (row.enhancement_status, row.ai_description) == ("pending", None)
        assert len(row.enhancement_logs) == 1  # only the failed first attempt


def test_overlapping_syncs_of_one_collection_take_turns(
    pg_url: str, sample_yaml: Path, tmp_path: Path
) -> None:
    """A second sync waits for the first one's transaction, then finds its bundles."""
    spec = load_collections(sample_yaml).collections[0]
    with session_scope(pg_url) as session:
        store.upsert_collection(session, spec)
    parsed = parse_collection(Path(spec.git_url.removeprefix("file://")))
    reports: list[IngestReport] = []

    def second_sync() -> None:
        with session_scope(pg_url) as other:
            reports.append(ingest_collection(other, spec, tmp_path / "second"))

    with session_scope(pg_url) as first:
        store.upsert_collection(first, spec, commit="0" * 40)
        assert store.upsert_bundles(first, spec.slug, parsed).created == 4
        thread = threading.Thread(target=second_sync)
        thread.start()
        thread.join(timeout=1.0)  # it must be waiting for our lock, not inserting
        assert thread.is_alive()
    thread.join(timeout=30)
    [report] = reports
    assert (report.status, report.created, report.unchanged) == ("synced", 0, 4)


def test_exact_tag_filters_and_their_upkeep(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        sync(engine, LOOKALIKES)
        assert slugs(engine, tag="ACCESS:read") == {"exact"}
        assert slugs(engine, platform="aws") == {"exact"}
        assert slugs(engine, tag='quote:"q"') == slugs(engine, tag="ünïcode") == {"escaped"}
        assert slugs(engine, tag=["access:read", "s3"]) == {"exact"}
        assert slugs(engine, tag=["access:read", "aws"]) == set()
        sync(engine, [make_bundle("exact", ["s3"], ["GCP"])])  # re-sync; the rest removed
        assert stored_tags(engine) == {("exact", "task", "s3"), ("exact", "support", "gcp")}
        with session_scope(engine) as session:
            session.execute(delete(Collection))  # ON DELETE CASCADE down to bundle_tags
            assert session.scalar(select(func.count()).select_from(BundleTag)) == 0
    finally:
        engine.dispose()


def test_databases_of_the_previous_version_are_backfilled_once_under_a_race(
    pg_url: str,
) -> None:
    setup = make_engine(pg_url)
    drop_everything(setup)
    store_as_previous_version(setup)
    engines = [make_engine(pg_url) for _ in range(2)]
    try:
        assert open_at_once(engines) == []
        assert slugs(setup, tag="access:read") == {"exact"}
        assert slugs(setup, platform="AWS") == {"exact"}
        with setup.connect() as conn:
            assert current_revision(conn) == head_revision()
    finally:
        for engine in (setup, *engines):
            engine.dispose()


@pytest.mark.parametrize(
    ("with_task_id", "with_tag_index"), [(True, True), (False, False)],
    ids=["main-before-alembic", "before-task-id"])
def test_an_older_database_with_rows_is_upgraded_to_head(
    pg_url: str, with_task_id: bool, with_tag_index: bool
) -> None:
    engine = make_engine(pg_url)
    try:
        drop_everything(engine)
        create_legacy_database(engine, "old", OLD_BUNDLES, with_task_id=with_task_id,
                               with_tag_index=with_tag_index, log_message="first try")
        assert create_schema(engine) == head_revision()
        assert_upgraded_with_rows(engine)
    finally:
        engine.dispose()


def test_statement_timeout_stops_a_long_statement(pg_url: str) -> None:
    """The API's per-statement budget on PostgreSQL is the server's own statement_timeout."""
    from registry.db import is_statement_timeout
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    engine = make_engine(pg_url, statement_timeout=0.05)
    try:
        with engine.connect() as conn, pytest.raises(DBAPIError) as stopped:
            conn.execute(text("SELECT pg_sleep(5)"))
        assert is_statement_timeout(stopped.value)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_a_database_at_0004_gets_the_freshness_columns_filled(pg_server: str) -> None:
    engine = make_engine(pg_server)
    drop_everything(engine)
    try:
        database_at_0004(engine)
        assert create_schema(engine) == head_revision()
        assert_freshness_backfilled(engine)
    finally:
        drop_everything(engine)
        engine.dispose()


def test_full_text_search_ranks_the_judged_queries_and_follows_changes(
    pg_url: str, shared_samples: Path, workdir: Path
) -> None:
    """PostgreSQL's own full text (websearch_to_tsquery, ts_rank), kept by its trigger."""
    run_in_process(pg_url, shared_samples, workdir, enhancer="fail:vacuum")
    assert judge(pg_url) == {}
    with session_scope(pg_url) as session:
        eks = query.list_bundles(session, search="EKS", with_facets=True)
        assert eks["total"] == 4 and dict(eks["facets"]["platform"])["eks"] == 4
        assert query.list_bundles(session, search="vacuum gke")["match"] == "any"
        for hostile in ('"', "a OR b", "-vacuum", "!!", "x & y | z", "100%_"):
            assert isinstance(query.list_bundles(session, search=hostile)["total"], int)
    engine = make_engine(pg_url)
    try:
        sync(engine, [make_bundle("first", ["alpha"], ["Zebra"], doc="Restarts widgets.")])
        assert slugs(engine, search="restarting widget") == {"first"}
        sync(engine, [make_bundle("first", ["beta"], ["Yak"], doc="Other text.")])
        assert slugs(engine, search="zebra") == set() and slugs(engine, search="yak") == {"first"}
        with session_scope(engine) as session:
            session.execute(delete(Collection))  # ON DELETE CASCADE down to the index
            left = session.execute(text("SELECT count(*) FROM bundle_search_fts")).scalar()
        assert left == 0
    finally:
        engine.dispose()
