"""report_failure / report_progress write states every reader can decode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

import celery_safe
from celery_safe import report_failure, report_progress
from celery_safe.states import PROGRESS


def make_app(**config: Any) -> Celery:
    app = Celery("states", set_as_current=False)
    app.conf.update(broker_url="memory://", result_backend="cache+memory://", **config)
    return celery_safe.guard(app)


@pytest.fixture(params=["json", "pickle"])
def app(request: pytest.FixtureRequest) -> Iterator[Celery]:
    app = make_app(
        task_always_eager=True, task_store_eager_result=True, result_serializer=request.param,
        accept_content=["json", "pickle"], result_accept_content=["json", "pickle"],
    )
    yield app
    app.close()


def test_a_reported_failure_reads_back_as_the_exception(app: Celery) -> None:
    @celery_safe.task(app, shared=False, bind=True)
    def check(self: Any) -> None:
        raise report_failure(self, ValueError("bad bundle"))

    task_id = check.apply().id
    stored = app.AsyncResult(task_id)
    assert stored.state == "FAILURE"
    assert isinstance(stored.result, ValueError) and str(stored.result) == "bad bundle"
    with pytest.raises(ValueError, match="bad bundle"):
        stored.get()


def test_a_hand_written_failure_is_the_trap_this_avoids() -> None:
    """The control: Celery cannot read a FAILURE meta written without ``exc_type``."""
    app = make_app(task_always_eager=True, task_store_eager_result=True)

    @celery_safe.task(app, shared=False, bind=True)
    def check(self: Any) -> None:
        self.update_state(state="FAILURE", meta={"reason": "bad bundle"})  # noqa: CSF301 (deliberate)

    # The worker itself trips on it: storing the task's own outcome reads the meta back.
    with pytest.raises(ValueError, match="must include the exception type"):
        check.apply()
    app.close()


def test_the_worker_reads_a_reported_failure_when_the_task_goes_on(app: Celery) -> None:
    """Without raising ``Ignore`` the worker stores the outcome, reading the state first."""

    @celery_safe.task(app, shared=False, bind=True)
    def check(self: Any) -> str:
        report_failure(self, ValueError("soft"))
        return "went on"

    result = check.apply()
    assert result.get() == "went on"
    assert app.AsyncResult(result.id).state == "SUCCESS"


def test_the_traceback_is_kept(app: Celery) -> None:
    @celery_safe.task(app, shared=False, bind=True)
    def check(self: Any) -> None:
        try:
            {}["missing"]
        except KeyError as exc:
            raise report_failure(self, exc) from None

    stored = app.AsyncResult(check.apply().id)
    assert isinstance(stored.result, KeyError)
    assert 'in check' in (stored.traceback or "")


def test_progress_is_written_while_running_and_skipped_in_process(app: Celery) -> None:
    seen: dict[str, Any] = {}

    @celery_safe.task(app, shared=False, bind=True)
    def slow(self: Any) -> bool:
        written = report_progress(self, 3, 10, stage="parsing")
        if written:
            stored = app.AsyncResult(self.request.id)
            seen.update(state=stored.state, info=stored.info)
        return written

    assert slow.apply().get() is True
    assert seen == {"state": PROGRESS, "info": {"current": 3, "total": 10, "stage": "parsing"}}
    assert slow.logic() is False  # .logic in-process: no task id, nothing written


def test_bad_arguments_are_named() -> None:
    app = make_app()

    @celery_safe.task(app, shared=False, bind=True)
    def check(self: Any) -> None: ...

    with pytest.raises(ValueError, match="must be >= 0"):
        report_progress(check, -1, 10)
    with pytest.raises(RuntimeError, match="is not running"):
        report_failure(check, ValueError("x"))
    with pytest.raises(TypeError, match="expected an exception"):
        report_failure(check, "oops")  # type: ignore[arg-type]
    app.close()


def test_without_a_result_backend_nothing_is_written() -> None:
    app = Celery("nobackend", set_as_current=False)
    app.conf.update(broker_url="memory://", task_always_eager=True)

    @celery_safe.task(app, shared=False, bind=True)
    def check(self: Any) -> bool:
        report_failure(self, ValueError("x"))
        return report_progress(self, 1, 1)

    assert check.apply().get() is False
    app.close()
