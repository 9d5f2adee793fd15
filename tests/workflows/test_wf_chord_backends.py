"""Result backends that cannot finish a chord (CSF203), measured on REAL workers.

Celery's own ``chord`` is sent (no validation) with the backend in question (to a worker
where one is to run it); what happened is compared with what ``validate`` says of the
same canvas.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery import canvas as celery_canvas
from celery.beat import Scheduler
from wf_live import TIMEOUT, redis_url, started
from wf_tasks import make_app

from celery_safe.embedded import embedded_config
from celery_safe.workflows import validate

pytestmark = [pytest.mark.worker, pytest.mark.redis]


@pytest.mark.parametrize("backend", ["rpc", "disabled"])
def test_rpc_and_disabled_backends_never_run_a_chord(
    request: pytest.FixtureRequest, backend: str
) -> None:
    """Measured on Celery 5.3-5.7: Celery refuses the chord as it is sent, before any
    part of the workflow goes out, so nothing runs; ``validate`` says so before (CSF203).
    Nothing went out is read from the broker itself (the queue's Redis lists do not
    exist): no worker has to be given time to show that it ran nothing."""
    import redis

    url = redis_url(request)
    conf: dict[str, Any] = {"broker_url": url, "broker_connection_retry_on_startup": True,
                            "task_default_queue": f"live-{uuid.uuid4().hex[:8]}"}
    if backend == "rpc":
        conf["result_backend"] = "rpc://"
    t = make_app(conf)
    header = [t.note.s([1]), t.note.s([2])]
    problems = validate(celery_canvas.chord(header, t.note.s()))
    assert [p.code for p in problems] == ["CSF203"]
    with pytest.raises(NotImplementedError, match="chord"):
        celery_canvas.chord(header, t.note.s()).apply_async()
    members = celery_canvas.group(t.note.s([1]), t.note.s([2]))
    with pytest.raises(NotImplementedError, match="chord"):
        celery_canvas.chain(t.note.si([0]), members, t.note.s()).apply_async()
    queue = conf["task_default_queue"]
    assert redis.Redis.from_url(url).keys(f"{queue}*") == []  # no message of it, anywhere
    t.note.delay([3])  # and the check sees one that went out
    assert redis.Redis.from_url(url).keys(f"{queue}*") == [queue.encode()]



@pytest.fixture(params=["sqlite", "redis"])
def never_expiring(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SimpleNamespace]:
    if request.param == "sqlite":
        conf = embedded_config(tmp_path)
    else:
        url = redis_url(request)
        conf = {"broker_url": url, "result_backend": url}
    yield from started({**conf, "result_expires": 0}, tmp_path / "notes.jsonl")


def test_result_expires_zero_keeps_results_and_chords_finish(
    never_expiring: SimpleNamespace,
) -> None:
    """``result_expires=0`` means "never expire", not "expire at once": chords finish,
    and beat schedules no ``celery.backend_cleanup`` (which would delete every result)."""
    t = never_expiring
    raw = celery_canvas.chord([t.inc.s(1), t.inc.s(2)], t.note.s())
    assert validate(raw) == []
    result = raw.apply_async()
    assert result.get(timeout=TIMEOUT, interval=0.05) == [2, 3]
    assert result.parent.results[0].get(timeout=TIMEOUT) == 2  # still there
    scheduler = Scheduler(t.app, lazy=True)
    scheduler.install_default_entries({})
    assert "celery.backend_cleanup" not in scheduler.schedule
    t.app.conf.result_expires = 3600  # what makes beat delete old results
    scheduler.install_default_entries({})
    backend_cleans_itself = t.app.backend.supports_autoexpire
    assert ("celery.backend_cleanup" in scheduler.schedule) != backend_cleans_itself
