"""Real workers for the liveness measurements: one per configuration, on a queue of its
own, writing what its ``note*`` tasks were called with to a file the test reads."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from wf_tasks import CONFIG_ENV, NOTES, make_app, read_notes

from celery_safe.embedded import embedded_config
from celery_safe.testing.worker_process import WorkerProcess

HERE = Path(__file__).resolve().parent
TIMEOUT = 20
#: The Redis database these tests use, broker and results both (flushed per worker).
REDIS_DB = 5


def redis_url(request: pytest.FixtureRequest) -> str:
    """The tests' Redis database, emptied."""
    import redis

    url = f"{request.getfixturevalue('celery_safe_redis_url')}/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    return url


def started_on(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, name: str
) -> Iterator[SimpleNamespace]:
    """:func:`started` on the broker and backend ``request.param`` names: ``"sqlite"``
    (the embedded default, in a temporary folder ``name``) or ``"redis"``."""
    tmp = tmp_path_factory.mktemp(name)
    if request.param == "sqlite":
        conf = embedded_config(tmp)
    else:
        url = redis_url(request)
        conf = {"broker_url": url, "result_backend": url}
    yield from started(conf, tmp / "notes.jsonl")


def started(conf: dict[str, Any], notes: Path) -> Iterator[SimpleNamespace]:
    """The test tasks of an app configured with ``conf``, a worker running them;
    ``.notes`` is the file the worker's ``note*`` tasks write to, ``.conf`` the settings."""
    conf = {
        "broker_connection_retry_on_startup": True, "worker_prefetch_multiplier": 1, **conf,
        NOTES: str(notes), "task_default_queue": f"live-{uuid.uuid4().hex[:8]}",
    }
    tasks = make_app(conf)
    tasks.notes = notes
    tasks.conf = conf
    env = {CONFIG_ENV: json.dumps(conf)}
    with WorkerProcess("wf_worker", pool="prefork", concurrency=2, cwd=HERE, env=env):
        yield tasks


def notes(tasks: SimpleNamespace, count: int, timeout: float = TIMEOUT) -> list[list[Any]]:
    """What the worker noted, once there are ``count`` notes (or at ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        found = read_notes(tasks.notes)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
