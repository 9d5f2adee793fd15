"""The retry race on REAL workers, forced (``wf_hold``): a task retrying with
``countdown=0`` whose next attempt succeeds before the failed attempt stores its RETRY.
On Redis the late RETRY replaces the SUCCESS and ``explain`` says the task succeeded and
its result is lost; on the embedded backend a store after SUCCESS changes nothing, so
the task reads SUCCESS and nothing is said about a race."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_wf_explain import _embedded, _explained, _until, _worker

from celery_safe.workflows import trace

pytestmark = pytest.mark.worker


@pytest.fixture(params=["embedded", "redis"])
def racing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SimpleNamespace]:
    if request.param == "embedded":
        conf = {**_embedded(tmp_path), "result_backend": "wf_hold:HoldingSQLiteBackend"}
    else:
        import redis

        url = request.getfixturevalue("celery_safe_redis_url")
        for db in (7, 8):
            redis.Redis.from_url(f"{url}/{db}").flushdb()
        conf = {"broker_url": f"{url}/7",
                "result_backend": f"wf_hold:HoldingRedisBackend+{url}/8",
                "broker_connection_retry_on_startup": True, "result_extended": True}
    yield from _worker(conf, request.param)


def test_a_late_retry_over_its_next_attempts_success(racing: SimpleNamespace) -> None:
    t = racing
    sent = t.retry_now.delay()
    if t.kind == "embedded":
        found = _explained(sent, t.app, "succeeded", "retried")
        assert sent.get(timeout=60) == 1
        assert not any(r.kind == "lost-success" for r in found.reasons)
        assert "retry_now was retried once before it succeeded." in str(found)
        return
    # the RETRY held until the SUCCESS is stored, then written over it
    _until(lambda: t.app.backend.get_task_meta(sent.id, cache=False)["status"] == "RETRY"
           and trace(sent).steps[0].succeeded, "the late RETRY over the SUCCESS")
    found = _explained(sent, t.app, "succeeded", "lost-success")
    (step,) = trace(sent).steps
    assert step.state == "RETRY" and step.succeeded is not None and step.succeeded[0] == 1
    assert found.progress == (1, 1)
    (reason,) = found.reasons
    assert reason.task == "retry_now" and reason.message.startswith(
        "retry_now succeeded on its retry 1 at 20")
    assert ("but the attempt before stored its RETRY after that SUCCESS: Celery shows "
            "RETRY for ever and the result is lost.") in reason.message
