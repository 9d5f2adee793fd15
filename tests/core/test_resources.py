"""Resources: opened around each task run, closed exactly once, failures named."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pytest
from celery import Celery
from hypothesis import given
from hypothesis import strategies as st

import celery_safe
from celery_safe import ResourceError
from celery_safe.resources import open_resources


@dataclass
class Recorder:
    """Context managers that log their calls and fail on demand."""

    log: list[str] = field(default_factory=list)

    def factory(self, name: str, *, fail_open: bool = False, fail_close: bool = False) -> Any:
        recorder = self

        class Managed:
            def __enter__(self) -> str:
                recorder.log.append(f"open {name}")
                if fail_open:
                    raise OSError(f"cannot open {name}")
                return f"<{name}>"

            def __exit__(
                self, typ: type[BaseException] | None, exc: BaseException | None,
                tb: TracebackType | None,
            ) -> bool:
                recorder.log.append(f"close {name} {type(exc).__name__ if exc else 'ok'}")
                if fail_close:
                    raise OSError(f"cannot close {name}")
                return True  # tries to swallow the body's error: must not work

        return Managed


@pytest.fixture
def app() -> Iterator[Celery]:
    app = celery_safe.guard(Celery("resources", set_as_current=False))
    app.conf.update(
        broker_url="memory://", result_backend="cache+memory://",
        task_always_eager=True, task_eager_propagates=True,
    )
    yield app
    app.close()


def test_each_run_opens_and_closes_every_resource_once_in_order(app: Celery) -> None:
    rec = Recorder()

    resources = {"db": rec.factory("db"), "fs": rec.factory("fs")}

    @celery_safe.task(app, shared=False, resources=resources)
    def work(x: int, *, db: str, fs: str) -> str:
        rec.log.append(f"run {x} {db} {fs}")
        return db + fs

    assert work.delay(1).get() == "<db><fs>"
    assert work.apply((2,)).get() == "<db><fs>"
    assert rec.log == [
        "open db", "open fs", "run 1 <db> <fs>", "close fs ok", "close db ok",
        "open db", "open fs", "run 2 <db> <fs>", "close fs ok", "close db ok",
    ]


def test_logic_callers_share_their_own_resource(app: Celery) -> None:
    rec = Recorder()

    @celery_safe.task(app, shared=False, resources={"db": rec.factory("task-db")})
    def save(item: str, *, db: list[str]) -> int:
        db.append(item)
        return len(db)

    @celery_safe.task(app, shared=False, resources={"db": rec.factory("outer-db")})
    def save_both(*, db: Any) -> list[str]:
        shared: list[str] = []
        save.logic("a", db=shared)
        save.logic("b", db=shared)
        return shared

    assert save_both.delay().get() == ["a", "b"]
    # One resource opened (the outer task's); the logic calls opened none of their own.
    assert rec.log == ["open outer-db", "close outer-db ok"]


def test_a_body_error_reaches_every_exit_and_is_not_swallowed(app: Celery) -> None:
    rec = Recorder()

    @celery_safe.task(app, shared=False, resources={"a": rec.factory("a"), "b": rec.factory("b")})
    def boom(*, a: str, b: str) -> None:
        raise KeyError("body")

    with pytest.raises(KeyError, match="body"):
        boom.delay()
    assert rec.log == ["open a", "open b", "close b KeyError", "close a KeyError"]


def test_an_open_failure_closes_what_was_opened_and_names_the_resource(app: Celery) -> None:
    rec = Recorder()
    resources = {"a": rec.factory("a"), "b": rec.factory("b", fail_open=True),
                 "c": rec.factory("c")}

    @celery_safe.task(app, shared=False, name="proj.work", resources=resources)
    def work(*, a: str, b: str, c: str) -> None:
        rec.log.append("run")

    with pytest.raises(ResourceError) as caught:
        work.delay()
    assert str(caught.value) == (
        "resource 'b' of task 'proj.work' failed to open: OSError: cannot open b"
    )
    assert rec.log == ["open a", "open b", "close a ResourceError"]


def test_a_close_failure_fails_the_task_after_closing_the_others(app: Celery) -> None:
    rec = Recorder()
    resources = {"a": rec.factory("a"), "b": rec.factory("b", fail_close=True)}

    @celery_safe.task(app, shared=False, name="proj.work", resources=resources)
    def work(*, a: str, b: str) -> str:
        return "done"

    with pytest.raises(ResourceError, match=r"'b' of task 'proj\.work' failed to close"):
        work.delay()
    assert rec.log == ["open a", "open b", "close b ok", "close a ok"]


def test_a_close_failure_never_hides_the_body_error(app: Celery) -> None:
    rec = Recorder()

    @celery_safe.task(app, shared=False, resources={"a": rec.factory("a", fail_close=True)})
    def work(*, a: str) -> None:
        raise LookupError("the real problem")

    with pytest.raises(LookupError, match="the real problem"):
        work.delay()
    assert rec.log == ["open a", "close a LookupError"]


def test_keyboard_interrupt_while_opening_propagates_unchanged() -> None:
    rec = Recorder()

    def interrupted() -> Any:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # noqa: SIM117 - the body must not run
        with open_resources("t", {"a": rec.factory("a"), "b": interrupted}):
            rec.log.append("body")
    assert rec.log == ["open a", "close a KeyboardInterrupt"]


def test_resource_error_round_trips_through_a_json_result_backend(app: Celery) -> None:
    error = ResourceError.wrap("proj.work", "db", "open", OSError("refused"))
    backend = app.backend
    rebuilt = backend.exception_to_python(backend.prepare_exception(error, "json"))
    assert type(rebuilt) is ResourceError and str(rebuilt) == str(error)
    assert (rebuilt.task_name, rebuilt.resource, rebuilt.stage) == ("proj.work", "db", "open")
    unpickled = pickle.loads(pickle.dumps(error))
    assert type(unpickled) is ResourceError and str(unpickled) == str(error)


Plan = tuple[bool, bool]  # (fails to open, fails to close)


@given(
    plans=st.lists(st.tuples(st.booleans(), st.booleans()), max_size=5),
    body_fails=st.booleans(),
)
def test_every_opened_resource_is_closed_exactly_once_in_reverse(
    plans: list[Plan], body_fails: bool
) -> None:
    rec = Recorder()
    names = [f"r{i}" for i in range(len(plans))]
    resources = {
        name: rec.factory(name, fail_open=fail_open, fail_close=fail_close)
        for name, (fail_open, fail_close) in zip(names, plans, strict=True)
    }
    raised: BaseException | None = None
    try:
        with open_resources("t", resources) as values:
            assert list(values) == names
            if body_fails:
                raise KeyError("body")
    except (ResourceError, KeyError) as exc:
        raised = exc

    opened = [line.split()[1] for line in rec.log if line.startswith("open")]
    closed = [line.split()[1] for line in rec.log if line.startswith("close")]
    first_failing = next((i for i, (fail_open, _) in enumerate(plans) if fail_open), None)
    # Opening stops at the first failure; everything entered is closed once, in reverse.
    assert opened == names[: (first_failing + 1 if first_failing is not None else len(names))]
    entered = opened[:-1] if first_failing is not None else opened
    assert closed == list(reversed(entered))
    if first_failing is not None:
        assert isinstance(raised, ResourceError) and raised.stage == "open"
        assert raised.resource == names[first_failing]
    elif body_fails:
        assert isinstance(raised, KeyError)
    elif any(fail_close for _, fail_close in plans):
        assert isinstance(raised, ResourceError) and raised.stage == "close"
        # The first close to fail (the innermost failing one) is the one reported.
        failing_closes = [name for name, (_, fail_close) in zip(names, plans, strict=True)
                          if fail_close]
        assert raised.resource == failing_closes[-1]
    else:
        assert raised is None


def test_autoretry_for_resource_error_retries_a_failed_open() -> None:
    app = Celery("retries", set_as_current=False)
    app.conf.update(broker_url="memory://", result_backend="cache+memory://")
    opens: list[int] = []

    def flaky_db() -> Any:
        opens.append(1)
        if len(opens) < 3:
            raise ConnectionError("database down")
        return Recorder().factory("db")()

    @celery_safe.task(app, shared=False, resources={"db": flaky_db},
                      autoretry_for=(ResourceError,), max_retries=3, default_retry_delay=0)
    def work(*, db: str) -> str:
        return db

    result = work.apply()  # eager retries re-apply in-process
    assert (result.state, result.result, len(opens)) == ("SUCCESS", "<db>", 3)
    app.close()
