"""What CSF301 relies on, measured on a real worker: a failure state stored with a meta
that has no ``exc_type`` makes every reader of the result raise, however it was written
(``update_state`` through helpers from ``on_failure``, ``backend.store_result``,
``backend.mark_as_failure``), and one with ``exc_type`` reads back as the exception."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from celery.result import AsyncResult

from celery_safe.testing.worker_process import WorkerProcess

APP_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "failure_meta"
TIMEOUT = 30.0
#: the Redis database these tests use (flushed first)
REDIS_DB = 7

pytestmark = [pytest.mark.worker, pytest.mark.redis]


@pytest.fixture(scope="module")
def worker_app(request: pytest.FixtureRequest) -> Iterator[ModuleType]:
    import redis

    url = f"{request.getfixturevalue('celery_safe_redis_url')}/{REDIS_DB}"
    redis.Redis.from_url(url).flushdb()
    env = {"FAILURE_META_URL": url, "FAILURE_META_QUEUE": f"fm-{uuid.uuid4().hex[:8]}"}
    os.environ.update(env)
    sys.path.insert(0, str(APP_DIR))
    try:
        import failure_meta_app

        with WorkerProcess("failure_meta_app", pool="solo", concurrency=1, cwd=APP_DIR, env=env):
            yield failure_meta_app
        failure_meta_app.app.close()
    finally:
        sys.path.remove(str(APP_DIR))
        sys.modules.pop("failure_meta_app", None)


def _undecodable(app: ModuleType, task_id: str) -> str:
    """The ValueError reading the result raises, once the worker has written it."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        result = app.app.AsyncResult(task_id)
        try:
            state = result.state
        except ValueError as exc:
            return str(exc)
        assert state in ("PENDING", "STARTED", "FAILURE"), state
        time.sleep(0.1)
    raise AssertionError(f"{task_id}: no undecodable failure within {TIMEOUT}s")


def _failed(sent: AsyncResult) -> None:
    """Wait until the worker has stored ``sent``'s failure (its state reads back)."""
    deadline = time.monotonic() + TIMEOUT
    while sent.state != "FAILURE" and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.mark.parametrize("task", ["fails", "stores_through_the_backend", "marks_as_failure"])
def test_a_failure_meta_without_exc_type_breaks_every_reader(
    worker_app: ModuleType, task: str
) -> None:
    sent = getattr(worker_app, task).delay()
    message = _undecodable(worker_app, sent.id)
    assert message == "Exception information must include the exception type"


def test_a_failure_meta_with_exc_type_reads_back_as_the_exception(worker_app: ModuleType) -> None:
    sent = worker_app.with_exc_type.delay()
    _failed(sent)
    assert sent.state == "FAILURE"
    assert type(sent.result).__name__ == "LookupError" and str(sent.result) == "gone"


def test_an_empty_failure_meta_reads_as_no_exception_and_breaks_get(
    worker_app: ModuleType,
) -> None:
    sent = worker_app.empty_meta.delay()
    _failed(sent)
    assert sent.state == "FAILURE" and sent.result is None
    # ``raise None`` in Celery's own code: an error that says nothing of the failure
    with pytest.raises((RuntimeError, TypeError)):
        sent.get(timeout=TIMEOUT)


@pytest.mark.parametrize(
    "task", ["stores_the_message", "stores_the_message_under_a_literal_state"]
)
def test_a_failure_meta_that_is_a_string_breaks_every_reader(
    worker_app: ModuleType, task: str
) -> None:
    """``update_state(state=FAILURE, meta=str(exc))`` then ``raise Ignore()``: the backend
    reads the string back with ``dict(...)``, which refuses it, in every reader."""
    sent = getattr(worker_app, task).delay()
    message = _undecodable(worker_app, sent.id)
    assert "dictionary update sequence" in message
    reread = worker_app.app.AsyncResult(sent.id)
    with pytest.raises(ValueError, match="dictionary update sequence"):
        _ = reread.result
    with pytest.raises(ValueError, match="dictionary update sequence"):
        reread.get(timeout=TIMEOUT)


def test_exc_type_alone_is_enough_to_read_the_failure_back(worker_app: ModuleType) -> None:
    """Why CSF301 asks for ``exc_type`` only: ``exc_message`` defaults to ``''``."""
    sent = worker_app.with_exc_type_only.delay()
    _failed(sent)
    assert sent.state == "FAILURE"
    assert type(sent.result).__name__ == "LookupError" and str(sent.result) == ""
