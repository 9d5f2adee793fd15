"""``explain(result)`` and ``celery-safe why`` on what REAL workers did: every reason is
produced by a run on the embedded default and on Redis (``result_extended`` on, as a
deployment that wants retries counted has it). Nothing here waits a fixed time: each
test waits for a state the backend shows, under a generous deadline."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery import chain as celery_chain
from celery import chord as celery_chord
from celery.result import AsyncResult
from wf_tasks import CONFIG_ENV, make_app

from celery_safe.embedded import embedded_config, live_consumers
from celery_safe.testing.worker_process import WorkerProcess
from celery_safe.workflows import (
    Explanation,
    Reason,
    chain,
    chord,
    explain,
    group,
    task_names,
    to_svg,
    trace,
)

HERE = Path(__file__).resolve().parent
DEADLINE = 120.0  # generous: the machine is shared

pytestmark = pytest.mark.worker


def _until(check: Callable[[], Any], what: str) -> Any:
    """``check()``'s first truthy value; fails naming ``what`` after ``DEADLINE`` s."""
    end = time.monotonic() + DEADLINE
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _explained(result: Any, app: Any, state: str, kind: str | None = None,
               names: dict[str, str] | None = None) -> Explanation:
    """Wait until ``explain`` says ``state`` (and gives a reason of ``kind``)."""
    last: list[Explanation] = []

    def ready() -> Explanation | None:
        found = explain(result, app=app, timeout=0.5, names=names)
        last[:] = [found]
        ok = found.state == state and (kind is None or any(r.kind == kind for r in found.reasons))
        return found if ok else None
    try:
        return _until(ready, f"explain() to say {state} ({kind})")  # type: ignore[no-any-return]
    except AssertionError as exc:
        raise AssertionError(f"{exc}; it said: {last[0] if last else None!r}") from None


def _embedded(directory: Path) -> dict[str, Any]:
    return {**embedded_config(directory), "result_extended": True}


def _worker(conf: dict[str, Any], kind: str) -> Iterator[SimpleNamespace]:
    """The test tasks (``.kind``: the broker's name) while a real worker runs them."""
    tasks = make_app(conf)
    tasks.kind = kind
    with WorkerProcess("wf_worker", pool="prefork", concurrency=2, cwd=HERE,
                       env={CONFIG_ENV: json.dumps(conf)}):
        yield tasks


@pytest.fixture(scope="module",
                params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def t(request: pytest.FixtureRequest,
      tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    if request.param == "embedded":
        conf = _embedded(tmp_path_factory.mktemp("wf-explain"))
    else:
        import redis

        url = request.getfixturevalue("celery_safe_redis_url")
        for db in (13, 14):
            redis.Redis.from_url(f"{url}/{db}").flushdb()
        conf = {"broker_url": f"{url}/13", "result_backend": f"{url}/14",
                "broker_connection_retry_on_startup": True, "result_extended": True}
    conf["task_routes"] = {"wf.const": {"queue": "elsewhere"}}
    yield from _worker(conf, request.param)


def test_a_finished_chain_succeeded(t: SimpleNamespace) -> None:
    sent = chain(t.add.s(1, 2), t.inc.s()).apply_async()
    found = _explained(sent, t.app, "succeeded")
    assert found.progress == (2, 2) and found.reasons == ()
    assert str(found) == "succeeded: 2 of 2 steps done."


def test_a_failed_header_part_is_named_with_its_exception(t: SimpleNamespace) -> None:
    sent = celery_chord([t.inc.s(1), t.fail.s(7)], t.tsum.s()).apply_async()
    found = _explained(sent, t.app, "failed", "header-failed")
    (reason,) = [r for r in found.reasons if r.kind == "header-failed"]
    assert reason.task == "fail" and "ValueError: failed on 7" in reason.message
    # The body's name is stored only when it runs (here it is failed unrun: ChordError)
    assert reason.message.endswith("will not run.") and "fail, a part of " in reason.message
    assert len(found.reasons) == 1, found.reasons  # the body's ChordError: said once


def test_a_failed_step_of_a_chain(t: SimpleNamespace) -> None:
    sent = celery_chain(t.fail.s(3), t.inc.s()).apply_async()
    # Seen on Celery 5.3 (Redis): the next step read FAILURE while the failed one read
    # PENDING still; wait for both
    found = _until(lambda: (e := explain(sent, app=t.app, timeout=0.5)).done == 2 and e,
                   "both steps failed")
    assert found.state == "failed"
    assert [str(r) for r in found.reasons] == ["fail failed with ValueError: failed on 3."]


def test_a_step_retried_before_it_succeeded(t: SimpleNamespace) -> None:
    sent = t.flaky.delay(2)
    found = _explained(sent, t.app, "succeeded", "retried")
    assert "flaky was retried 2 times before it succeeded." in str(found)
    assert trace(sent).steps[0].retries == 2
    assert "2 retries" in to_svg(trace(sent))


def test_a_step_waiting_for_its_next_retry(t: SimpleNamespace) -> None:
    sent = t.retry_later.delay()
    due = "the next attempt is due at 20"  # recorded by the guard: on every broker

    def said() -> Reason | None:  # RETRY is stored before a worker holds the next try
        found = explain(sent, app=t.app, timeout=0.5)
        return next((r for r in found.reasons if r.kind == "retrying" and due in r.message),
                    None) if found.state == "running" else None

    reason = _until(said, "the retry's reason")
    assert "retry_later is being retried" in reason.message
    assert "TimeoutError: the service is busy" in reason.message
    (step,) = trace(sent).steps
    assert step.retries == 1 and step.next_retry is not None
    # countdown=3600: still most of an hour away, whatever this machine's speed
    assert (step.next_retry - datetime.now(timezone.utc)).total_seconds() > 3000


def test_a_replaced_step_is_followed_into_its_chord(t: SimpleNamespace) -> None:
    sent = t.fan_out.delay(3)
    found = _explained(sent, t.app, "succeeded", "replaced")
    assert "fan_out replaced itself with a chord of 3 inc tasks, then tsum." in str(found)
    run = trace(sent)
    assert [(s.task, s.state) for s in run.steps] == [
        ("wf.fan_out", "REPLACED"), ("wf.inc", "SUCCESS"), ("wf.inc", "SUCCESS"),
        ("wf.inc", "SUCCESS"), ("wf.tsum", "SUCCESS")]
    assert run.steps[-1].id == sent.id  # the body inherits the replaced task's id
    picture = to_svg(run)
    assert picture.count("inc") >= 3 and "tsum" in picture and "replaced" in picture


def test_a_replaced_step_inside_a_chain_keeps_the_chain_once(t: SimpleNamespace) -> None:
    sent = celery_chain(t.fan_out.si(2), t.inc.s()).apply_async()
    assert sent.get(timeout=DEADLINE) == 4
    run = _until(lambda: (r := trace(sent)).state == "SUCCESS" and r, "the chain's trace")
    assert [s.task for s in run.steps] == ["wf.fan_out", "wf.inc", "wf.inc", "wf.tsum",
                                           "wf.inc"]
    # said without the rest of its own chain, which Celery appended to the replacement
    assert run.steps[0].replaced_by == "a chord of 2 inc tasks, then tsum"


def _sent(canvas: Any) -> tuple[Any, dict[str, str]]:
    """Send a frozen canvas; its task names, which a backend keeps only once run."""
    canvas.freeze()
    names = task_names(canvas)
    return canvas.apply_async(), names


def test_a_header_part_ignoring_its_result(t: SimpleNamespace) -> None:
    sent, names = _sent(celery_chord([t.inc.s(1), t.quiet.s(2)], t.tsum.s()))
    if t.kind == "redis":  # Redis collects the parts' values itself: the body runs
        found = _explained(sent, t.app, "succeeded", None, names)
        assert not any(r.code == "CSF204" for r in found.reasons)
        return
    found = _explained(sent, t.app, "stuck", "ignored-result", names)
    (reason,) = [r for r in found.reasons if r.kind == "ignored-result"]
    assert reason.code == "CSF204" and reason.task == "quiet"
    assert "tsum will never run" in str(found) and "[CSF204]" in str(found)


def test_a_step_routed_to_a_queue_no_worker_consumes(t: SimpleNamespace) -> None:
    sent, names = _sent(celery_chain(t.inc.s(1), t.const.si()))
    if t.kind == "embedded":  # no inspect on the embedded broker: a live consumer is enough
        found = _explained(sent, t.app, "running", None, names)
        assert not any(r.kind.startswith("no-") for r in found.reasons)
        return
    found = _explained(sent, t.app, "stuck", "no-consumer", names)
    assert "No worker consumes the queue 'elsewhere' that const is routed to" in str(found)


def test_a_revoked_step(t: SimpleNamespace) -> None:
    if t.kind == "embedded":
        # The embedded broker carries no broadcast: revoke() reaches no worker (measured).
        assert t.app.control.revoke(str(uuid.uuid4()), reply=True, timeout=0.5) == []
        return
    task_id = str(uuid.uuid4())
    replies = t.app.control.revoke(task_id, reply=True, timeout=5)
    assert replies, "the worker did not confirm the revoke"
    sent = t.inc.apply_async((1,), task_id=task_id)
    found = _explained(sent, t.app, "failed", "revoked", {task_id: "wf.inc"})
    assert "inc was revoked: it will not run." in str(found)


def test_the_chord_body_waits_for_its_parts(t: SimpleNamespace) -> None:
    sent, names = _sent(celery_chord([t.inc.s(1), t.const.si()], t.tsum.s()))
    # const goes to a queue no worker consumes: said on Redis (inspect), so stuck there
    state = "stuck" if t.kind == "redis" else "running"
    found = _explained(sent, t.app, state, "chord-waiting", names)
    assert "tsum waits for the chord's parts: 1 of 2 done; the chord's counter in " \
        in str(found)


def test_why_prints_the_explanation(t: SimpleNamespace, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from celery_safe.cli import main

    sent = t.fail.delay(5)
    _explained(sent, t.app, "failed")
    module = f"whyapp_{t.kind}"  # a module imported once per process: one per broker
    (tmp_path / f"{module}.py").write_text(
        "import json, os\nfrom wf_tasks import make_app\n"
        "app = make_app(json.loads(os.environ['WHY_CONF'])).app\n")
    monkeypatch.setenv("WHY_CONF", json.dumps(
        {key: t.app.conf[key] for key in ("broker_url", "broker_transport", "result_backend",
                                          "database_url", "result_extended")}))
    monkeypatch.syspath_prepend(str(tmp_path))
    code = main(["why", sent.id, "--app", f"{module}:app"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert out == "failed: 1 of 1 step done.\n- fail failed with ValueError: failed on 5.\n"
    code = main(["why", sent.id, "--app", f"{module}:app", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (data["state"], data["celery_state"], data["progress"]) == (
        "failed", "FAILURE", {"done": 1, "total": 1})
    assert data["reasons"] == [{"kind": "failed", "code": None, "task": "fail",
                                "task_id": sent.id,
                                "message": "fail failed with ValueError: failed on 5."}]
    (step,) = data["steps"]
    assert (step["state"], step["celery_state"], step["task"]) == ("failed", "FAILURE",
                                                                   "wf.fail")


# -- no worker at all ---------------------------------------------------------------
def test_no_worker_on_the_embedded_broker(tmp_path: Path) -> None:
    tasks = make_app(_embedded(tmp_path))
    assert live_consumers(tasks.app) == 0
    sent = chain(tasks.add.s(1, 2), tasks.inc.s()).apply_async()
    found = explain(sent, app=tasks.app)
    assert found.state == "queued" and found.progress == (0, 2)
    assert str(found).startswith("queued: 0 of 2 steps done.\n- No worker is running")
    data = found.as_dict()  # a person's word for the run, and Celery's, apart
    assert (data["state"], data["celery_state"]) == ("queued", "PENDING")
    assert [(s["state"], s["celery_state"]) for s in data["steps"]] == [
        ("waiting", "PENDING"), ("waiting", "PENDING")]
    assert json.loads(json.dumps(data)) == data
    with WorkerProcess("wf_worker", pool="solo", concurrency=1, cwd=HERE,
                       env={CONFIG_ENV: json.dumps(_embedded(tmp_path))}):
        _until(lambda: live_consumers(tasks.app), "the worker's consumer")
        _explained(sent, tasks.app, "succeeded")
        # Half done when the worker is gone: the rest waits for one, so it is stuck.
        rest = tasks.inc.si(1).set(queue="later")
        half = chain(tasks.add.s(1, 2), rest).apply_async()
        _until(lambda: half.parent.ready(), "the first half")
    found = _explained(half, tasks.app, "stuck", "no-worker")
    assert found.progress == (1, 2) and "No worker is running" in str(found)


@pytest.mark.redis
def test_no_worker_on_redis(celery_safe_redis_url: str) -> None:
    import redis

    redis.Redis.from_url(f"{celery_safe_redis_url}/15").flushdb()
    tasks = make_app({"broker_url": f"{celery_safe_redis_url}/15",
                      "result_backend": f"{celery_safe_redis_url}/15"})
    sent = tasks.inc.delay(1)
    found = explain(sent, app=tasks.app, timeout=0.5)
    assert found.state == "queued"
    assert [r.kind for r in found.reasons] == ["no-worker"]
    assert "No worker is running: none answered within 0.5 s" in str(found)
    assert live_consumers(tasks.app) is None  # not the embedded broker


def test_explain_is_exported_and_typed() -> None:
    import celery_safe.workflows as workflows

    assert {"explain", "Explanation", "Reason", "RunState"} <= set(workflows.__all__)
    assert group is workflows.group and chord is workflows.chord


def test_retries_are_counted_without_result_extended(tmp_path: Path) -> None:
    """Celery stores a retry count only with ``result_extended`` (which stores every
    task's arguments too); the guard's record counts them anyway."""
    conf = embedded_config(tmp_path)
    tasks = make_app(conf)
    with WorkerProcess("wf_worker", pool="solo", concurrency=1, cwd=HERE,
                       env={CONFIG_ENV: json.dumps(conf)}):
        sent = tasks.flaky.delay(2)
        found = _explained(sent, tasks.app, "succeeded", "retried")
    assert tasks.app.backend.get_task_meta(sent.id).get("retries") is None  # Celery's
    assert trace(sent).steps[0].retries == 2
    assert "flaky was retried 2 times before it succeeded." in str(found)


# -- an id nothing is known about --------------------------------------------------
def _never_sent(found: Explanation, task_id: str) -> None:
    assert found.state == "unknown", found
    assert found.progress == (0, 1)
    (reason,) = found.reasons
    assert reason.kind == "unknown" and reason.task_id == task_id
    assert str(found).startswith("unknown: the result backend has no record of this run.\n"
                                 f"- Nothing is known about {task_id}: ")
    assert "never sent" in reason.message and "expired" in reason.message


def test_an_id_never_sent_is_unknown_on_the_embedded_broker(tmp_path: Path) -> None:
    """Reproduces: ``why`` on an id that was never sent said "queued". Nothing is stored
    for it and no message of the embedded broker carries it: nothing is known."""
    tasks = make_app(_embedded(tmp_path))
    task_id = str(uuid.uuid4())
    found = explain(AsyncResult(task_id, app=tasks.app), app=tasks.app)
    _never_sent(found, task_id)
    assert "no message waiting in the embedded broker carries it" in str(found)
    sent = tasks.inc.delay(1)  # a message waits for it: queued, as before
    found = explain(AsyncResult(sent.id, app=tasks.app), app=tasks.app)
    assert found.state == "queued", found


@pytest.mark.redis
def test_an_id_never_sent_is_unknown_on_redis(celery_safe_redis_url: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import redis

    from celery_safe.cli import main

    redis.Redis.from_url(f"{celery_safe_redis_url}/12").flushdb()
    conf = {"broker_url": f"{celery_safe_redis_url}/12",
            "result_backend": f"{celery_safe_redis_url}/12"}
    tasks = make_app(conf)
    task_id = str(uuid.uuid4())
    found = explain(AsyncResult(task_id, app=tasks.app), app=tasks.app, timeout=0.5)
    _never_sent(found, task_id)
    assert "no worker holds it and no message waiting in Redis carries it" in str(found)
    sent = tasks.inc.delay(1)
    assert explain(AsyncResult(sent.id, app=tasks.app), app=tasks.app,
                   timeout=0.5).state == "queued"
    (tmp_path / "whyunknown.py").write_text(
        "import json, os\nfrom wf_tasks import make_app\n"
        "app = make_app(json.loads(os.environ['WHY_CONF'])).app\n")
    monkeypatch.setenv("WHY_CONF", json.dumps(conf))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["why", task_id, "--app", "whyunknown:app", "--timeout", "0.5"]) == 1
    assert f"- Nothing is known about {task_id}: " in capsys.readouterr().out
