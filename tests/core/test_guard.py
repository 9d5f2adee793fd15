"""The guard in-process: eager mode, Celery's test worker, threads, idempotence."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery, Task, chain, chord, current_app, group
from celery.contrib.testing.worker import start_worker
from celery.result import AsyncResult, GroupResult, ResultSet, allow_join_result

import celery_safe
from celery_safe import JoinInTaskError, current_guarded_task, guard, is_guarded
from celery_safe.testing import start_guarded_worker
from celery_safe.testing.guarded_worker import keep_current_app

TIMEOUT = 10


def make_app(name: str, **config: Any) -> Celery:
    app = Celery(name, set_as_current=False)
    app.conf.update(
        broker_url="memory://", result_backend="cache+memory://",
        worker_hijack_root_logger=False, broker_transport_options={"polling_interval": 0.01},
        **config,
    )
    return app


@pytest.fixture
def eager_app() -> Iterator[Celery]:
    app = guard(make_app("eager", task_always_eager=True, task_eager_propagates=True))
    yield app
    app.close()


def test_guard_returns_the_app_is_idempotent_and_checks_its_argument() -> None:
    app = make_app("twice")
    assert not is_guarded(app)
    assert guard(app) is app and guard(app) is app
    assert is_guarded(app)
    assert not AsyncResult.get.__wrapped__.__name__.startswith("method")
    assert not hasattr(AsyncResult.get.__wrapped__, "__celery_safe_guarded__")  # wrapped once
    with pytest.raises(TypeError, match="expected a Celery app"):
        guard("proj")  # type: ignore[arg-type]


def test_eager_join_inside_a_task_raises_naming_the_task(eager_app: Celery) -> None:
    @celery_safe.task(eager_app, shared=False)
    def child() -> int:
        return 1

    @celery_safe.task(eager_app, shared=False, name="proj.parent")
    def parent() -> int:
        return int(child.delay().get())  # noqa: CSF101 (deliberate)

    with pytest.raises(JoinInTaskError, match=r"'proj\.parent' called EagerResult\.get") as caught:
        parent.delay()
    assert caught.value.task_name == "proj.parent"
    assert "child.logic" not in str(caught.value) and "`other.logic(...)`" in str(caught.value)
    # Outside any task the same join works.
    assert child.delay().get() == 1


@pytest.mark.parametrize(
    "join",
    [
        pytest.param(lambda r: r.get(disable_sync_subtasks=False), id="disable_sync_subtasks"),
        pytest.param(lambda r: r.wait(), id="wait"),
        pytest.param(lambda r: list(r.collect()), id="collect"),
        pytest.param(lambda r: r.get_leaf(), id="get_leaf"),
    ],
)
def test_every_blocking_method_is_refused(eager_app: Celery, join: Any) -> None:
    @celery_safe.task(eager_app, shared=False)
    def child() -> int:
        return 1

    @celery_safe.task(eager_app, shared=False)
    def parent() -> Any:
        return join(child.delay())

    with pytest.raises(JoinInTaskError):
        parent.delay()


def test_allow_join_result_is_refused_in_user_tasks(eager_app: Celery) -> None:
    @celery_safe.task(eager_app, shared=False)
    def child() -> int:
        return 1

    @celery_safe.task(eager_app, shared=False)
    def parent() -> int:
        with allow_join_result():  # noqa: CSF103 (deliberate)
            return int(child.delay().get())

    with pytest.raises(JoinInTaskError):
        parent.delay()


@pytest.mark.parametrize("kind", ["ResultSet.join", "ResultSet.get", "join_native", "GroupResult"])
def test_result_sets_are_refused(eager_app: Celery, kind: str) -> None:
    @celery_safe.task(eager_app, shared=False)
    def child(i: int) -> int:
        return i

    @celery_safe.task(eager_app, shared=False)
    def parent() -> Any:
        results = [child.delay(i) for i in range(2)]
        if kind == "GroupResult":
            return group(child.s(i) for i in range(2)).delay().join()  # noqa: CSF101 (deliberate)
        rs = ResultSet(results)
        return {"ResultSet.join": rs.join, "ResultSet.get": rs.get,
                "join_native": rs.join_native}[kind]()

    with pytest.raises(JoinInTaskError, match="ResultSet"):
        parent.delay()


def test_a_base_class_with_a_custom_call_is_still_guarded(eager_app: Celery) -> None:
    class Timed(Task):  # type: ignore[misc]
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return super().__call__(*args, **kwargs)

    @celery_safe.task(eager_app, shared=False)
    def child() -> int:
        return 1

    @celery_safe.task(eager_app, shared=False, base=Timed, name="proj.timed")
    def parent() -> int:
        return int(child.apply().get())

    with pytest.raises(JoinInTaskError, match="proj"):
        parent.apply().get()
    assert parent() == 1  # called as a plain function: not a running task


def test_invert_signature_is_refused(eager_app: Celery) -> None:
    """``~sig`` joins inside Celery's canvas module on behalf of the task: still refused."""
    @celery_safe.task(eager_app, shared=False)
    def child() -> int:
        return 1

    @celery_safe.task(eager_app, shared=False)
    def parent() -> int:
        return int(~child.s())  # noqa: CSF101 (deliberate)

    with pytest.raises(JoinInTaskError):
        parent.delay()


def test_eager_chains_and_chords_started_by_a_task_still_run(eager_app: Celery) -> None:
    """Celery's eager ``chain.apply``/``chord.apply`` join internally: allowed."""
    @celery_safe.task(eager_app, shared=False)
    def add(x: int, y: int) -> int:
        return x + y

    @celery_safe.task(eager_app, shared=False)
    def total(values: list[int]) -> int:
        return sum(values)

    @celery_safe.task(eager_app, shared=False)
    def parent() -> list[str]:
        chain(add.s(1, 2), add.s(3)).delay()
        chord([add.s(1, 1), add.s(2, 2)], total.s()).delay()
        return ["started"]

    assert parent.delay().get() == ["started"]
    assert chain(add.s(1, 2), add.s(3)).delay().get() == 6


def test_a_task_joining_inside_the_chain_it_runs_is_still_refused(eager_app: Celery) -> None:
    @celery_safe.task(eager_app, shared=False)
    def add(x: int, y: int) -> int:
        return x + y

    @celery_safe.task(eager_app, shared=False)
    def joins(x: int) -> int:
        return x + int(add.delay(1, 1).get())  # noqa: CSF101 (deliberate)

    with pytest.raises(JoinInTaskError, match="joins"):
        chain(add.s(1, 2), joins.s()).delay()


def test_guard_state_is_per_thread(eager_app: Celery) -> None:
    """While a task runs (and blocks) in one thread, joins in other threads work.

    The blocked task runs through ``.apply()``: Celery 5.7's eager ``.delay()`` sets a
    process-wide "joins would block" flag for its duration, which would make Celery
    itself refuse joins in every other thread.
    """
    inside, release = threading.Event(), threading.Event()
    seen: dict[str, Any] = {}

    @celery_safe.task(eager_app, shared=False, name="proj.blocker")
    def blocker() -> str | None:
        seen["inside"] = current_guarded_task()
        inside.set()
        release.wait(TIMEOUT)
        return current_guarded_task()

    @celery_safe.task(eager_app, shared=False)
    def quick() -> int:
        return 7

    thread = threading.Thread(target=lambda: seen.update(result=blocker.apply().get()))
    thread.start()
    assert inside.wait(TIMEOUT)
    assert current_guarded_task() is None
    assert quick.delay().get() == 7  # main thread: not inside a task
    other: list[int] = []
    helper = threading.Thread(target=lambda: other.append(quick.delay().get()))
    helper.start()
    helper.join(TIMEOUT)
    release.set()
    thread.join(TIMEOUT)
    assert other == [7]
    assert seen == {"inside": "proj.blocker", "result": "proj.blocker"}
    assert current_guarded_task() is None


def test_guarding_the_current_app_proxy_guards_the_app_behind_it() -> None:
    from celery import current_app
    from celery._state import get_current_app

    app, previous = make_app("behind-proxy"), get_current_app()
    app.set_current()
    try:
        guard(current_app)
    finally:
        previous.set_current()
    assert is_guarded(app)
    app.close()


def test_unguarded_apps_are_left_alone() -> None:
    app = make_app("plain", task_always_eager=True)

    @app.task(shared=False)
    def child() -> int:
        return 1

    @app.task(shared=False)
    def parent() -> int:
        return int(child.apply().get())

    assert not is_guarded(app)
    # (Celery 5.7 refuses eager ``.delay().get()`` by itself; ``.apply()`` it allows.)
    assert parent.apply().get() == 1
    app.close()


@pytest.mark.worker
@pytest.mark.parametrize("pool", ["threads", "solo"])
def test_celery_test_worker_refuses_joins_and_runs_chords(pool: str) -> None:
    """``start_worker`` (which turns Celery's own check off) with the cache backend."""
    app = guard(make_app(f"start-worker-{pool}"))

    @celery_safe.task(app, shared=False, name="sw.add")
    def add(x: int, y: int) -> int:
        return x + y

    @celery_safe.task(app, shared=False, name="sw.total")
    def total(values: list[int]) -> int:
        return sum(values)

    @celery_safe.task(app, shared=False, name="sw.parent")
    def parent() -> int:
        return int(add.delay(1, 2).get(timeout=2))  # noqa: CSF101 (deliberate)

    concurrency = 2 if pool == "threads" else 1
    with keep_current_app(), start_worker(
        app, pool=pool, concurrency=concurrency, perform_ping_check=False,
        shutdown_timeout=TIMEOUT,
    ):
        with pytest.raises(JoinInTaskError, match=r"sw\.parent"):
            parent.delay().get(timeout=TIMEOUT)
        # Chord bookkeeping in the cache backend joins the header: allowed.
        assert chord(add.s(i, i) for i in range(3))(total.s()).get(timeout=TIMEOUT) == 6
        assert add.delay(2, 2).get(timeout=TIMEOUT) == 4
    app.close()


@pytest.mark.worker
def test_the_guarded_test_worker_puts_the_current_app_back() -> None:
    """Celery's ``start_worker`` leaves its app current: later shared tasks break."""
    before = current_app._get_current_object()
    app = make_app("puts-back")
    with start_guarded_worker(app, pool="solo", concurrency=1):
        assert current_app._get_current_object() is app
    assert current_app._get_current_object() is before
    app.close()


def test_group_result_restore_join_outside_tasks(eager_app: Celery) -> None:
    @celery_safe.task(eager_app, shared=False)
    def child(i: int) -> int:
        return i

    result = group(child.s(i) for i in range(3)).delay()
    assert isinstance(result, GroupResult)
    assert result.join() == [0, 1, 2]


DECODE_IN_A_FRESH_CLIENT = """
import sys
from celery import Celery
import celery_safe  # a client that never touched the guard module
assert "celery_safe.join_guard" not in sys.modules
backend = Celery("client", backend="cache+memory://").backend
for meta in (
    {"exc_type": "JoinInTaskError", "exc_module": "celery_safe",
     "exc_message": ["proj.parent", "AsyncResult.get"]},
    {"exc_type": "ResourceError", "exc_module": "celery_safe",
     "exc_message": ["proj.work", "db", "open", "OSError: refused"]},
):
    exc = backend.exception_to_python(meta)
    print(type(exc).__module__, type(exc).__name__, isinstance(exc, RuntimeError), exc)
"""


def test_errors_decode_to_their_type_in_a_client_that_never_loaded_the_guard() -> None:
    import subprocess
    import sys

    error = JoinInTaskError("proj.parent", "AsyncResult.get")
    assert celery_safe.ResourceError.__module__ == "celery_safe"
    meta = make_app("encode").backend.prepare_exception(error, "json")
    assert (meta["exc_module"], meta["exc_type"]) == ("celery_safe", "JoinInTaskError")
    out = subprocess.run(
        [sys.executable, "-c", DECODE_IN_A_FRESH_CLIENT],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    assert out[0].startswith("celery_safe JoinInTaskError True task 'proj.parent' called")
    assert out[1] == (
        "celery_safe ResourceError True resource 'db' of task 'proj.work' failed to open: "
        "OSError: refused"
    )
