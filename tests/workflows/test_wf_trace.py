"""``trace(result)`` and ``to_svg`` on what a REAL worker did (embedded SQLite broker and
database backend, ``result_extended`` on so names and retries are kept)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult
from wf_tasks import CONFIG_ENV, make_app

from celery_safe.embedded import embedded_config
from celery_safe.testing.worker_process import WorkerProcess
from celery_safe.workflows import chain, chord, group, to_svg, trace
from celery_safe.workflows import svg as svg_module
from celery_safe.workflows.svg import STATE_COLOURS, UNSAFE

HERE = Path(__file__).resolve().parent
TIMEOUT = 20

pytestmark = pytest.mark.worker


@pytest.fixture(scope="module")
def t(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    conf = {**embedded_config(tmp_path_factory.mktemp("wf-trace")), "result_extended": True}
    tasks = make_app(conf)
    env = {CONFIG_ENV: json.dumps(conf)}
    with WorkerProcess("wf_worker", pool="prefork", concurrency=2, cwd=HERE, env=env):
        yield tasks


def _wait_for_parents(result: AsyncResult) -> None:
    """A worker sends a chain's next link before it stores its own result, so the last
    result can be ready while a parent's is not stored yet: wait for every parent."""
    step = result.parent
    while step is not None:
        step.get(timeout=TIMEOUT)
        step = step.parent


def test_a_chain_traced_step_by_step(t: SimpleNamespace) -> None:
    sent = chain(t.add.s(1, 2), t.inc.s()).apply_async()
    assert sent.get(timeout=TIMEOUT) == 4
    _wait_for_parents(sent)
    run = trace(sent)
    assert [(s.task, s.state) for s in run.steps] == [("wf.add", "SUCCESS"), ("wf.inc", "SUCCESS")]
    assert (run.done, run.total, run.state) == (2, 2, "SUCCESS")
    assert all(s.finished is not None and s.worker for s in run.steps)
    # not steps[0].finished <= steps[1].finished: Celery sends the next link before it
    # stores a step's result (app/trace.py: "callback tasks must be applied before the
    # result is stored"), so under load inc's result was stored 56 ms before add's


def test_a_chord_traces_its_header_and_body(t: SimpleNamespace) -> None:
    sent = chord([t.inc.s(1), t.inc.s(2), t.inc.s(3)], t.tsum.s()).apply_async()
    assert sent.get(timeout=TIMEOUT) == 9
    run = trace(sent)
    assert [s.task for s in run.steps] == ["wf.inc", "wf.inc", "wf.inc", "wf.tsum"]
    assert run.state == "SUCCESS"
    picture = to_svg(run)
    assert picture.lstrip().startswith("<svg") and not UNSAFE.search(picture)
    assert STATE_COLOURS["SUCCESS"] in picture and "wf.tsum" not in picture  # short names
    assert "tsum" in picture


def test_a_failed_member_is_traced_with_its_error(t: SimpleNamespace) -> None:
    sent = group(t.inc.s(1), t.fail.s(7)).apply_async()
    with pytest.raises(ValueError, match="failed on 7"):
        sent.get(timeout=TIMEOUT)
    run = trace(sent)
    failed = [s for s in run.steps if s.state == "FAILURE"]
    assert [s.task for s in failed] == ["wf.fail"]
    assert failed[0].error == "ValueError: failed on 7"
    assert run.state == "FAILURE" and run.done == 2
    assert STATE_COLOURS["FAILURE"] in to_svg(run)


def test_a_step_reporting_progress_shows_it(t: SimpleNamespace) -> None:
    from celery_safe import report_progress

    sent = t.inc.apply_async((1,), queue="nobody-listens")
    reporter = SimpleNamespace(request=SimpleNamespace(id=sent.id), backend=t.app.backend)
    reporter.update_state = lambda **kw: t.app.backend.store_result(
        kw["task_id"], kw["meta"], kw["state"]
    )
    assert report_progress(reporter, 3, 8, stage="parsing")
    (step,) = trace(sent).steps
    assert (step.state, step.progress) == ("PROGRESS", (3.0, 8.0))
    assert "3/8" in to_svg(trace(sent))


def test_a_run_in_progress_counts_what_is_done(t: SimpleNamespace) -> None:
    # The worker never sees this queue: the steps stay PENDING.
    sent = chain(t.inc.s(1), t.inc.s()).set(queue="nobody-listens").apply_async()
    with pytest.raises(CeleryTimeoutError):
        sent.get(timeout=0.3)
    run = trace(sent)
    assert (run.done, run.total, run.state) == (0, 2, "PENDING")


def test_svg_without_graphviz_and_untrusted_text_stays_text(
    t: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(svg_module.shutil, "which", lambda name: None)
    canvas = chain(t.add.s(1, 2), group(t.inc.s(), t.inc.s()), t.tsum.s())
    picture = to_svg(canvas)
    assert picture.count("<rect") == 4 and picture.count("<line") == 4
    sent = group(t.fail.s("<script>alert(1)</script>")).apply_async()
    with pytest.raises(ValueError):
        sent.get(timeout=TIMEOUT)
    drawn = to_svg(trace(sent))
    assert "<script" not in drawn and "&lt;script&gt;" in drawn
    assert not UNSAFE.search(drawn)


def test_chord_parts_report_progress_and_the_body_still_gets_the_list(
    t: SimpleNamespace,
) -> None:
    parts = [t.with_progress.s(i) for i in range(4)]
    sent = chord(parts, t.tsum.s()).apply_async()
    assert sent.get(timeout=TIMEOUT) == 6
    run = trace(sent)
    assert [s.state for s in run.steps] == ["SUCCESS"] * 5
    assert (run.done, run.total) == (5, 5)


@pytest.fixture(scope="module")
def on_redis(celery_safe_redis_url: str) -> Iterator[SimpleNamespace]:
    import redis

    for db in (11, 12):
        redis.Redis.from_url(f"{celery_safe_redis_url}/{db}").flushdb()
    conf = {
        "broker_url": f"{celery_safe_redis_url}/11",
        "result_backend": f"{celery_safe_redis_url}/12",
        "broker_connection_retry_on_startup": True,
        "result_extended": True,
    }
    tasks = make_app(conf)
    env = {CONFIG_ENV: json.dumps(conf)}
    with WorkerProcess("wf_worker", pool="prefork", concurrency=2, cwd=HERE, env=env):
        yield tasks


@pytest.mark.redis
def test_progress_and_trace_on_redis(on_redis: SimpleNamespace) -> None:
    parts = [on_redis.with_progress.s(i) for i in range(4)]
    sent = chord(parts, on_redis.tsum.s()).apply_async()
    assert sent.get(timeout=TIMEOUT) == 6
    run = trace(sent)
    assert [s.task for s in run.steps] == ["wf.with_progress"] * 4 + ["wf.tsum"]
    assert (run.done, run.total, run.state) == (5, 5, "SUCCESS")


@pytest.mark.redis
def test_a_run_traced_from_its_id_alone_on_redis(on_redis: SimpleNamespace) -> None:
    """Redis keeps each task's ``parent_id``: from the last id the chain is walked back."""
    from celery.result import AsyncResult

    sent = chain(on_redis.add.s(1, 2), on_redis.inc.s(), on_redis.inc.s()).apply_async()
    assert sent.get(timeout=TIMEOUT) == 5
    _wait_for_parents(sent)
    rebuilt = trace(AsyncResult(sent.id, app=on_redis.app))
    assert [s.task for s in rebuilt.steps] == ["wf.add", "wf.inc", "wf.inc"]


def test_a_run_traced_from_its_id_alone(
    t: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """From a task id (a page, a command line), ``celery-safe graph --trace`` draws what the
    backend keeps. The database backend stores no ``parent_id`` (Redis does, see below),
    so from the last step's id alone it knows that step only."""
    from celery.result import AsyncResult

    from celery_safe.cli import main

    sent = chain(t.add.s(1, 2), t.inc.s(), t.inc.s()).apply_async()
    assert sent.get(timeout=TIMEOUT) == 5
    rebuilt = trace(AsyncResult(sent.id, app=t.app))
    assert [s.task for s in rebuilt.steps] == ["wf.inc"]
    (tmp_path / "traceapp.py").write_text(
        "import json, os\nfrom celery import Celery\n"
        "app = Celery('traceapp', set_as_current=False)\n"
        "app.conf.update(json.loads(os.environ['TRACE_CONF']))\n"
    )
    backend_keys = ("result_backend", "database_url", "database_engine_options", "result_extended")
    conf = {key: t.app.conf[key] for key in backend_keys}  # a reader needs no broker
    monkeypatch.setenv("TRACE_CONF", json.dumps(conf))
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "run.svg"
    assert main(["graph", "--trace", sent.id, "--app", "traceapp:app", "-o", str(out)]) == 0
    picture = out.read_text()
    assert picture.lstrip().startswith("<svg") and "done" in picture and "SUCCESS" not in picture
    assert "1/1 steps done, SUCCESS" in capsys.readouterr().err
