"""The retry race on REAL workers, forced (``wf_hold``): a task retrying with
``countdown=0`` whose next attempt ends before the failed attempt stores its RETRY.

Measured: on Redis the late RETRY replaces the next attempt's SUCCESS or FAILURE; on the
embedded backend a non-terminal store after SUCCESS, FAILURE or REVOKED changes nothing
(a late RETRY used to replace a FAILURE there too). Where the task reads RETRY,
``explain`` says how it really ended."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from test_wf_explain import _embedded, _explained, _until, _worker
from wf_hold import STORED

from celery_safe.workflows import trace

pytestmark = pytest.mark.worker

LATE = "but the attempt before stored its RETRY after that "


@pytest.fixture(scope="module",
                params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def racing(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           workers_import_this_checkout: None) -> Iterator[SimpleNamespace]:
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


def _held_store_over(t: SimpleNamespace, sent: Any) -> None:
    """Wait until the held RETRY (``wf_hold``) has been stored, after the next attempt's end."""
    _until(lambda: t.app.backend.get_task_meta(sent.id + STORED, cache=False)["status"]
           == "SUCCESS", "the held RETRY's store to be over")


def test_a_late_retry_over_its_next_attempts_success(racing: SimpleNamespace) -> None:
    t = racing
    sent = t.retry_now.delay()
    if t.kind == "embedded":  # the store after SUCCESS changes nothing
        _held_store_over(t, sent)
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
    if t.kind == "embedded":  # the store after FAILURE changes nothing
        _held_store_over(t, sent)
        meta = t.app.backend.get_task_meta(sent.id, cache=False)
        assert meta["status"] == "FAILURE" and repr(meta["result"]) == repr(
            ValueError("attempt 1 failed"))
        assert "ValueError: attempt 1 failed" in meta["traceback"]
        found = _explained(sent, t.app, "failed", "retried")
        assert not any(r.kind == "late-retry" for r in found.reasons)
        (step,) = trace(sent).steps
        assert (step.state, step.error) == ("FAILURE", "ValueError: attempt 1 failed")
        assert "retry_then_fail was retried once before it ended." in str(found)
        return
    _overwritten(t, sent, "FAILURE")
    found = _explained(sent, t.app, "failed", "late-retry")
    assert found.progress == (1, 1)
    (reason,) = found.reasons
    assert reason.message.startswith(
        "retry_then_fail failed with ValueError: attempt 1 failed on its retry 1 at 20")
    assert (f"{LATE}FAILURE: Celery shows RETRY for ever, and no attempt is left."
            ) in reason.message
