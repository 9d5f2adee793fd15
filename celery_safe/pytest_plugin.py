"""pytest plugin (entry point ``pytest11``): fixtures that catch joins inside tasks.

    def test_store(celery_safe_app, celery_safe_worker):
        assert store.delay([1, 2]).get(timeout=10) == 2   # a real worker thread pool

Fixtures:

- ``celery_safe_config`` — settings of the test app (memory broker, in-memory cache
  result backend); override it in a ``conftest.py`` to change them.
- ``celery_safe_app`` — a fresh Celery app with :func:`celery_safe.guard` on. Override
  it to return your own app (the guard is switched on for it by the worker fixtures).
- ``celery_safe_eager_app`` — the same app running tasks eagerly (``task_always_eager``).
- ``celery_safe_worker`` — a real worker for ``celery_safe_app`` (threads pool, in a
  thread of the test process, via Celery's ``start_worker``). Register tasks before
  requesting it: the worker only consumes tasks it knew at start.
- ``celery_safe_start_worker`` — the same as a context-manager factory, for tests that
  define tasks first or need another pool or concurrency.
- ``celery_safe_worker_process`` — a factory starting ``celery -A module worker``
  subprocesses (:class:`celery_safe.testing.WorkerProcess`), stopped after the test.
- ``celery_safe_redis_url`` — ``redis://host:port`` of a live Redis
  (``$CELERY_SAFE_REDIS_URL``, loopback by default); append ``/N`` for a database.
  A test using it is skipped when Redis does not answer, and fails instead when the
  ``CI`` environment variable is set, so CI never passes by skipping.
- ``celery_safe_amqp_url`` — the same for RabbitMQ: ``$CELERY_SAFE_AMQP_URL``
  (``amqp://guest:guest@127.0.0.1:5672//`` by default), skipped or failed alike.

Celery itself lets ``.get()`` inside a task through in all of these; with the guard it
raises :class:`celery_safe.JoinInTaskError`, so a suite catches it before production.
Tasks defined inside a test should pass ``shared=False``: Celery otherwise registers
them on every app created later (one per test here).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from celery import Celery
    from celery.worker import WorkController

    from celery_safe.testing import WorkerProcess
    from celery_safe.testing.servers import Server

__all__ = [
    "celery_safe_amqp_url",
    "celery_safe_app",
    "celery_safe_config",
    "celery_safe_eager_app",
    "celery_safe_redis_url",
    "celery_safe_start_worker",
    "celery_safe_worker",
    "celery_safe_worker_process",
]

StartWorker = Callable[..., contextlib.AbstractContextManager["WorkController"]]


@pytest.fixture
def celery_safe_config() -> dict[str, Any]:
    """Settings of ``celery_safe_app``: in-process broker and result backend."""
    return {
        "broker_url": "memory://",
        "result_backend": "cache+memory://",
        # The memory transport polls every second by default.
        "broker_transport_options": {"polling_interval": 0.01},
        "broker_connection_retry_on_startup": False,
        "worker_hijack_root_logger": False,
    }


def _make_app(name: str, config: dict[str, Any]) -> Celery:
    from celery import Celery

    from celery_safe import guard

    app = Celery(name, set_as_current=False)
    app.conf.update(config)
    return guard(app)


@pytest.fixture
def celery_safe_app(celery_safe_config: dict[str, Any]) -> Iterator[Celery]:
    """A fresh Celery app with the join guard on (tasks run on a worker)."""
    app = _make_app("celery_safe_test", celery_safe_config)
    yield app
    app.close()


@pytest.fixture
def celery_safe_eager_app(celery_safe_config: dict[str, Any]) -> Iterator[Celery]:
    """A fresh Celery app with the join guard on, running every task eagerly."""
    config = {**celery_safe_config, "task_always_eager": True, "task_eager_propagates": True}
    app = _make_app("celery_safe_eager_test", config)
    yield app
    app.close()


@pytest.fixture
def celery_safe_start_worker() -> StartWorker:
    """``with celery_safe_start_worker(app, pool="threads", concurrency=2) as worker:``."""
    from celery_safe.testing import start_guarded_worker

    return start_guarded_worker


@pytest.fixture
def celery_safe_worker(celery_safe_app: Celery) -> Iterator[WorkController]:
    """A real worker (threads pool, 2 threads) consuming ``celery_safe_app``'s tasks."""
    from celery_safe.testing import start_guarded_worker

    with start_guarded_worker(celery_safe_app) as worker:
        yield worker


@pytest.fixture
def celery_safe_worker_process() -> Iterator[Callable[..., WorkerProcess]]:
    """Start ``celery -A module worker`` processes: ``celery_safe_worker_process("proj")``.

    Keywords go to :class:`celery_safe.testing.WorkerProcess` (``pool``, ``concurrency``,
    ``cwd``, ``env``...). The app needs a broker both processes reach (Redis, or
    :mod:`celery_safe.embedded`); every worker started is stopped after the test.
    """
    from celery_safe.testing import WorkerProcess

    started: list[WorkerProcess] = []

    def start(app: str, **options: Any) -> WorkerProcess:
        worker = WorkerProcess(app, **options)
        started.append(worker)
        return worker.start()

    yield start
    for worker in reversed(started):
        worker.stop()


def _live_server(server: Server) -> str:
    url = server.url_from_env()
    if not server.reachable(url):
        message = f"{server.name} not reachable at {url} (set {server.env})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def celery_safe_redis_url() -> str:
    """``redis://host:port`` of a live Redis; skips, or fails under ``CI``, without one."""
    from celery_safe.testing.servers import REDIS

    return _live_server(REDIS)


@pytest.fixture(scope="session")
def celery_safe_amqp_url() -> str:
    """``amqp://...`` of a live RabbitMQ; skips, or fails under ``CI``, without one."""
    from celery_safe.testing.servers import AMQP

    return _live_server(AMQP)
