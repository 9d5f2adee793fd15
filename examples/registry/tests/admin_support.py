"""The admin API's tests: a registry home served by a real ``serve`` process with an
admin token, a client for its routes, and what the broker holds."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from api_support import serve_process
from pipeline_support import RegistryHome

TOKEN = "s3cret-admin-token-for-tests"


@dataclass(frozen=True)
class AdminClient:
    url: str
    token: str

    def post(self, path: str, *, token: str | None = None, key: str | None = None
             ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return httpx.post(f"{self.url}{path}", headers=headers, timeout=30)

    def start(self, path: str, *, key: str | None = None) -> str:
        """POST an admin action that must be accepted; its run id."""
        response = self.post(path, key=key)
        assert response.status_code == 202, response.text
        run_id = str(response.json()["run_id"])
        assert response.headers["location"] == f"/runs/{run_id}"
        return run_id

    def run(self, run_id: str) -> dict[str, Any]:
        """``GET /runs/{id}`` as an API client (no token: it is read-only)."""
        response = httpx.get(f"{self.url}/runs/{run_id}", timeout=30)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def wait(self, run_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """The run once it is no longer ``running`` (polled; the timeout only bounds a hang)."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if run["status"] != "running":
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} still running after {timeout} s: {run}")
            time.sleep(0.2)


def finish_on_a_worker(home: RegistryHome, client: AdminClient, *run_ids: str
                       ) -> list[dict[str, Any]]:
    """Start a worker, wait for each run to end, stop the worker; the runs as they ended."""
    worker = home.worker()
    try:
        return [client.wait(run_id) for run_id in run_ids]
    finally:
        worker.stop()


def server_env(home: RegistryHome, token: str | None = TOKEN) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update(home.env)
    if token is not None:
        env["REGISTRY_ADMIN_TOKEN"] = token
    return env


@contextlib.contextmanager
def admin_server(home: RegistryHome, token: str = TOKEN) -> Iterator[AdminClient]:
    """``python -m registry serve`` for ``home``, its admin routes open to ``token``."""
    with serve_process(server_env(home, token), home.home) as url:
        yield AdminClient(url, token)


def queued_messages(home: RegistryHome) -> int:
    """Messages on the home's embedded broker (acknowledged ones are deleted)."""
    path = Path(home.home) / "celery" / "broker.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM kombu_message").fetchone()[0])
