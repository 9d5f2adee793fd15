"""The guard in real ``celery worker`` processes: prefork, threads, solo, gevent, eventlet.

Each pool gets its own worker process and its own broker (embedded SQLite), plus
prefork workers on Redis and on RabbitMQ with Redis results (JSON) to show the error
type survives the backend.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import guarded_app
import pytest
from celery import Celery, chord

from celery_safe import JoinInTaskError
from celery_safe.testing import WorkerProcess

from .conftest import APPS_DIR, REDIS_DB_WORKERS, require_green_pool

pytestmark = pytest.mark.worker

TIMEOUT = 30


@dataclass
class Worker:
    app: Celery
    process: WorkerProcess
    pool: str


@pytest.fixture(
    scope="module",
    params=[
        "prefork", "threads", "solo", "gevent", "eventlet",
        pytest.param("redis-prefork", marks=pytest.mark.redis),
        pytest.param("amqp-prefork", marks=[pytest.mark.redis, pytest.mark.amqp]),
    ],
)
def worker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    """A test-side app whose tasks run on a real worker of the requested pool."""
    kind: str = request.param
    server, _, pool = kind.rpartition("-")
    if pool in ("gevent", "eventlet"):
        require_green_pool(pool)
    if server:
        url = f"{request.getfixturevalue('celery_safe_redis_url')}/{REDIS_DB_WORKERS}"
        import redis

        redis.Redis.from_url(url).flushdb()
        env = {"GUARDED_APP_REDIS": url}
        broker = None
        if server == "amqp":
            broker = env["GUARDED_APP_BROKER"] = request.getfixturevalue("celery_safe_amqp_url")
        app = guarded_app.create_app(redis_url=url, broker_url=broker)
        app.control.purge()  # what an earlier run left in the broker's queue
    else:
        directory = str(tmp_path_factory.mktemp(f"broker-{pool}"))
        env = {"GUARDED_APP_DIR": directory}
        app = guarded_app.create_app(directory=directory)
    concurrency = 1 if pool == "solo" else 2
    process = WorkerProcess(
        "guarded_app", pool=pool, concurrency=concurrency, cwd=APPS_DIR, env=env
    )
    with process:
        yield Worker(app, process, pool)
    app.close()


def run(app: Celery, name: str, *args: Any) -> Any:
    return app.tasks[name].delay(*args).get(timeout=TIMEOUT)


@pytest.mark.parametrize(
    "name", ["guarded.join_child", "guarded.join_unsafe_flag", "guarded.join_allowed",
             "guarded.join_group", "guarded.collect_chain"],
)
def test_a_join_inside_a_task_fails_the_task_with_join_in_task_error(
    worker: Worker, name: str
) -> None:
    with pytest.raises(JoinInTaskError) as caught:
        run(worker.app, name)
    # Rebuilt from the result backend: the same type, naming the task that joined.
    assert type(caught.value) is JoinInTaskError
    assert caught.value.task_name == name
    assert name in str(caught.value) and ".logic(" in str(caught.value)


def test_logic_calls_inside_a_task_work(worker: Worker) -> None:
    assert run(worker.app, "guarded.via_logic") == 10


def test_the_task_runs_in_the_pool_under_test(worker: Worker) -> None:
    seen = run(worker.app, "guarded.where")
    assert seen["guarded_task"] == "guarded.where"
    assert seen["hostname"].startswith(worker.process.hostname.split("@")[0])
    green = worker.pool if worker.pool in ("gevent", "eventlet") else None
    assert seen["green"] == green  # the worker monkey-patched itself, or not at all
    if worker.pool == "prefork":
        assert seen["pid"] != worker.process.pid  # a forked child
    elif green:
        assert seen["pid"] == worker.process.pid  # a greenlet of the main process
    elif worker.pool == "threads":
        assert seen["pid"] == worker.process.pid and seen["thread"] != "MainThread"
    else:
        assert seen["pid"] == worker.process.pid and seen["thread"] == "MainThread"


def test_a_chord_still_completes(worker: Worker) -> None:
    """Celery's own joins (chord_unlock, backend chord bookkeeping) stay allowed."""
    add, total = worker.app.tasks["guarded.add"], worker.app.tasks["guarded.total"]
    result = chord(add.s(i, i) for i in range(4))(total.s())
    assert result.get(timeout=TIMEOUT) == 12


def test_joins_outside_tasks_work_in_every_thread(worker: Worker) -> None:
    add = worker.app.tasks["guarded.add"]
    results: dict[int, int] = {}

    def join(i: int) -> None:
        results[i] = add.delay(i, i).get(timeout=TIMEOUT)

    threads = [threading.Thread(target=join, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    assert add.delay(5, 5).get(timeout=TIMEOUT) == 10
    for thread in threads:
        thread.join(TIMEOUT)
    assert results == {0: 0, 1: 2, 2: 4}


def test_celery_options_work_on_a_worker(worker: Worker) -> None:
    assert run(worker.app, "guarded.flaky") == 2  # autoretry_for, retried twice


def test_a_reported_failure_decodes_everywhere(worker: Worker) -> None:
    result = worker.app.tasks["guarded.fails_softly"].delay()
    with pytest.raises(ValueError, match=r"has no meta\.yaml"):
        result.get(timeout=TIMEOUT)
    assert result.state == "FAILURE" and isinstance(result.result, ValueError)
    read_back = run(worker.app, "guarded.reads_state", result.id)
    assert read_back == ["FAILURE", "ValueError", "bundle 'x' has no meta.yaml"]
    assert "Exception information must include" not in worker.process.log_text()
