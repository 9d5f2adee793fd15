"""A guarded app for real worker processes: ``celery -A guarded_app worker -P <pool>``.

The worker builds it from ``GUARDED_APP_DIR`` (embedded SQLite broker and backend) or
``GUARDED_APP_REDIS`` (a Redis URL; the broker too unless ``GUARDED_APP_BROKER`` names
another, RabbitMQ); the test process builds its own twin with
:func:`create_app` on the same broker, so every pool gets a broker of its own.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from typing import Any

from celery import Celery, chain, group
from celery.result import allow_join_result

import celery_safe
from celery_safe import embedded

JOIN_TIMEOUT = 5


def create_app(
    *, directory: str | None = None, redis_url: str | None = None, broker_url: str | None = None
) -> Celery:
    app = Celery("guarded_app", set_as_current=False)
    if directory:
        embedded.configure(app, directory)
    elif redis_url:
        app.conf.update(broker_url=broker_url or redis_url, result_backend=redis_url)
    app.conf.worker_hijack_root_logger = False
    celery_safe.guard(app)
    _register(app)
    _register_states(app)
    return app


def _register(app: Celery) -> None:
    # ``shared=False``: Celery would otherwise register each task on every app made later.
    task = functools.partial(celery_safe.task, app, shared=False)

    @task(name="guarded.add")
    def add(x: int, y: int) -> int:
        return x + y

    @task(name="guarded.total")
    def total(values: list[int]) -> int:
        return sum(values)

    @task(name="guarded.join_child")
    def join_child() -> int:
        return int(add.delay(1, 2).get(timeout=JOIN_TIMEOUT))

    @task(name="guarded.join_unsafe_flag")
    def join_unsafe_flag() -> int:
        return int(add.delay(1, 2).get(timeout=JOIN_TIMEOUT, disable_sync_subtasks=False))

    @task(name="guarded.join_allowed")
    def join_allowed() -> int:
        with allow_join_result():
            return int(add.delay(1, 2).get(timeout=JOIN_TIMEOUT))

    @task(name="guarded.join_group")
    def join_group() -> list[int]:
        return list(group(add.s(i, i) for i in range(2)).delay().join(timeout=JOIN_TIMEOUT))

    @task(name="guarded.collect_chain")
    def collect_chain() -> list[Any]:
        return list(chain(add.s(1, 1), add.s(1)).delay().collect(timeout=JOIN_TIMEOUT))

    @task(name="guarded.via_logic")
    def via_logic() -> int:
        return add.logic(1, 2) + add.logic(3, 4)

    @task(name="guarded.where", bind=True)
    def where(self: Any) -> dict[str, Any]:
        return {
            "guarded_task": celery_safe.current_guarded_task(),
            "thread": threading.current_thread().name,
            "pid": os.getpid(),
            "hostname": self.request.hostname,
            "green": _green_library(),
        }


def _green_library() -> str | None:
    """Which green library monkey-patched this process (``-P gevent``/``-P eventlet``)."""
    gevent_monkey = sys.modules.get("gevent.monkey")
    if gevent_monkey is not None and gevent_monkey.is_module_patched("threading"):
        return "gevent"
    eventlet_patcher = sys.modules.get("eventlet.patcher")
    if eventlet_patcher is not None and eventlet_patcher.is_monkey_patched("thread"):
        return "eventlet"
    return None


def _register_states(app: Celery) -> None:
    task = functools.partial(celery_safe.task, app, shared=False)

    @task(name="guarded.flaky", bind=True, autoretry_for=(KeyError,), max_retries=3,
          retry_backoff=False, default_retry_delay=0)
    def flaky(self: Any) -> int:
        if self.request.retries < 2:
            raise KeyError("not yet")
        return int(self.request.retries)

    @task(name="guarded.fails_softly", bind=True)
    def fails_softly(self: Any) -> None:
        celery_safe.report_progress(self, 1, 2, stage="checking")
        raise celery_safe.report_failure(self, ValueError("bundle 'x' has no meta.yaml"))

    @task(name="guarded.reads_state")
    def reads_state(task_id: str) -> list[Any]:
        # Non-blocking reads inside a task: allowed, and decodable in the worker.
        result = app.AsyncResult(task_id)
        return [result.state, type(result.result).__name__, str(result.result)]


app = create_app(
    directory=os.environ.get("GUARDED_APP_DIR"),
    redis_url=os.environ.get("GUARDED_APP_REDIS"),
    broker_url=os.environ.get("GUARDED_APP_BROKER"),
)
