"""The retry race on REAL workers, forced (``wf_hold``): a task retrying with
``countdown=0`` whose next attempt ends before the failed attempt stores its RETRY.

Measured: on Redis the late RETRY replaces the next attempt's SUCCESS or FAILURE; on the
embedded backend a store after SUCCESS changes nothing, but one after FAILURE replaces
it. Where the task reads RETRY, ``explain`` says how it really ended."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from test_wf_explain import _embedded, _explained, _until, _worker

from celery_safe.workflows import trace

pytestmark = pytest.mark.worker

LATE = "but the attempt before stored its RETRY after that "


@pytest.fixture(scope="module",
                params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def racing(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    if request.param == "embedded":
        conf = {**_embedded(tmp_path_factory.mktemp("race")),
                "result_backend": "wf_hold:HoldingSQLiteBackend"}
    else:
        import redis

        url = request.getfixturevalue("celery_safe_redis_url")
        for db in (7, 8):
            redis.Redis.from_url(f"{url}/{db}").flushdb()
        conf = {"broker_url": f"{url}/7",
                "result_backend": f"wf_hold:HoldingRedisBackend+{url}/8",
                "broker_connection_retry_on_startup": True, "result_extended": True}
    yield from _worker(conf, request.param)


def _overwritten(t: SimpleNamespace, sent: Any, state: str) -> None:
    """Wait for the held RETRY to be stored over the next attempt's ``state``."""
    _until(lambda: t.app.backend.get_task_meta(sent.id, cache=False)["status"] == "RETRY"
           and (end := trace(sent).steps[0].ended) is not None and end.state == state,
           f"the late RETRY over the {state}")


def test_a_late_retry_over_its_next_attempts_success(racing: SimpleNamespace) -> None:
    t = racing
    sent = t.retry_now.delay()
    if t.kind == "embedded":  # the store after SUCCESS changes nothing
        found = _explained(sent, t.app, "succeeded", "retried")
        assert sent.get(timeout=60) == 1
        assert not any(r.kind == "late-retry" for r in found.reasons)
        assert "retry_now was retried once before it succeeded." in str(found)
        return
    _overwritten(t, sent, "SUCCESS")
    found = _explained(sent, t.app, "succeeded", "late-retry")
    (step,) = trace(sent).steps
    assert step.state == "RETRY" and step.ended is not None and step.ended.attempt == 1
    assert found.progress == (1, 1)
    (reason,) = found.reasons
    assert reason.task == "retry_now" and reason.message.startswith(
        "retry_now succeeded on its retry 1 at 20")
    assert (f"{LATE}SUCCESS: Celery shows RETRY for ever, and the result is lost."
            ) in reason.message


def test_a_late_retry_over_its_next_attempts_failure(racing: SimpleNamespace) -> None:
    t = racing
    sent = t.retry_then_fail.delay()
    _overwritten(t, sent, "FAILURE")  # on both backends
    found = _explained(sent, t.app, "failed", "late-retry")
    assert found.progress == (1, 1)
    (reason,) = found.reasons
    assert reason.message.startswith(
        "retry_then_fail failed with ValueError: attempt 1 failed on its retry 1 at 20")
    assert (f"{LATE}FAILURE: Celery shows RETRY for ever, and no attempt is left."
            ) in reason.message
