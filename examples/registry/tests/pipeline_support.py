"""Helpers for the pipeline integration tests: a registry home, its workers, its client.

Everything a test starts is a real process: ``celery worker`` processes
(``celery_safe.testing.WorkerProcess``) and the client, ``python -m registry populate``,
which sends the workflow and waits for its summary. Nothing in the test process talks
to the broker, so each module can use its own broker without reconfiguring an app.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from registry.db import session_scope
from registry.models import CodeBundle, Collection, EnhancementLog
from registry.samples import generate_sample_collections
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from celery_safe.testing import WorkerProcess


def redis_database(base_url: str, default_db: int) -> str:
    """``base_url`` with database ``default_db``, unless it names one already (a run told
    to use its own Redis database keeps it; each registry home has its own queue)."""
    if base_url.rstrip("/").rsplit("/", 1)[-1].isdigit():
        return base_url
    return f"{base_url.rstrip('/')}/{default_db}"


class RegistryHome:
    """One registry: its folder, database and broker, shared by its workers and clients."""

    def __init__(self, home: Path, broker_url: str | None = None, **extra_env: str) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.db_url = f"sqlite:///{home / 'registry.db'}"
        self.env = {
            "REGISTRY_HOME": str(home),
            "REGISTRY_DB_URL": self.db_url,
            "REGISTRY_BROKER_URL": broker_url or "",
            "REGISTRY_RESULT_BACKEND": "",
            "REGISTRY_ENHANCER": "local",
            "REGISTRY_QUEUE": f"registry-test-{uuid.uuid4().hex}",
            **extra_env,
        }

    def worker(self, concurrency: int = 2, **extra_env: str) -> WorkerProcess:
        """A started worker process on this registry."""
        return WorkerProcess(
            "registry.celery_app", pool="prefork", concurrency=concurrency,
            env={**self.env, **extra_env}, cwd=self.home,
        ).start()

    def client(self, collections_file: Path, timeout: float = 60.0) -> subprocess.Popen[str]:
        """``python -m registry populate --json`` started in the background."""
        return subprocess.Popen(
            [sys.executable, "-m", "registry", "populate", "--json",
             "--collections-file", str(collections_file), "--timeout", str(timeout)],
            env={**os.environ, **self.env}, cwd=self.home, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )

    @contextmanager
    def serving(self, collections: int, bundles: int) -> Iterator[tuple[RegistryHome, Path]]:
        """Sample collections for this home and one started worker, stopped afterwards."""
        samples = generate_sample_collections(
            self.home / "samples", collections=collections, bundles_per_collection=bundles
        )
        worker = self.worker()
        try:
            yield self, samples
        finally:
            worker.stop()

    def python(self, code: str, *args: str) -> str:
        """Run ``python -c code args`` with this home's environment; its output."""
        done = subprocess.run([sys.executable, "-c", code, *args],
                              env={**os.environ, **self.env}, cwd=self.home,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def populate(self, collections_file: Path, timeout: float = 60.0) -> dict[str, Any]:
        """Run the whole pipeline through the CLI and return its JSON summary."""
        return finish(self.client(collections_file, timeout), timeout + 15)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.db_url) as session:
            yield session


def finish(
    client: subprocess.Popen[str], timeout: float, *workers: WorkerProcess
) -> dict[str, Any]:
    """The client's JSON summary; on failure, the message carries the workers' logs."""
    out, err = client.communicate(timeout=timeout)
    if client.returncode != 0:
        logs = "".join(
            f"\n--- worker {worker.pid} log (last 6000 characters) ---\n"
            f"{worker.log_text()[-6000:]}"
            for worker in workers
        )
        raise AssertionError(f"populate exited with {client.returncode}:\n{err}{logs}")
    summary: dict[str, Any] = json.loads(out)
    return summary


def wait_for_file(path: Path, timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{what}: {path} did not appear within {timeout} s")


def bundle_rows(session: Session) -> dict[str, tuple[int, str, str]]:
    """``collection/bundle`` -> (id, content hash, enhancement status), every stored bundle."""
    rows = session.execute(
        select(Collection.slug, CodeBundle.slug, CodeBundle.id, CodeBundle.content_hash,
               CodeBundle.enhancement_status).join(Collection)
    ).all()
    return {f"{c}/{b}": (bundle_id, digest, status) for c, b, bundle_id, digest, status in rows}


def completed_logs(session: Session) -> dict[int, int]:
    """Bundle id -> number of *completed* enhancements logged for it."""
    return dict(session.execute(
        select(EnhancementLog.bundle_id, func.count())
        .where(EnhancementLog.status == "completed").group_by(EnhancementLog.bundle_id)
    ).all())


@contextmanager
def crashing_run(
    home: RegistryHome, samples: Path, **worker_env: str
) -> Iterator[tuple[WorkerProcess, subprocess.Popen[str]]]:
    """A worker meant to be killed and a client running the pipeline on it; both are
    killed on the way out, whatever happened."""
    doomed = home.worker(**worker_env)
    client = home.client(samples, timeout=60)
    try:
        yield doomed, client
    finally:
        doomed.kill()
        if client.poll() is None:
            client.kill()


def kill_and_rescue(
    home: RegistryHome, doomed: WorkerProcess, client: subprocess.Popen[str], pending: str
) -> dict[str, Any]:
    """SIGKILL ``doomed`` while bundle ``pending`` (``collection/bundle``) is unfinished,
    then let a new worker finish the run; returns the client's summary."""
    doomed.kill()
    with home.session() as session:
        assert bundle_rows(session)[pending][2] == "pending", "the kill landed too late"
    rescuer = home.worker()
    try:
        return finish(client, 75, rescuer)
    finally:
        rescuer.stop()
