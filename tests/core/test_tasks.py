"""``celery_safe.task``: a normal Celery task in every respect, plus ``.logic``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery, Task

import celery_safe
from celery_safe import ResourceError, current_guarded_task, task_logic, task_resources


def make_app(name: str = "tasks", **config: Any) -> Celery:
    app = Celery(name, set_as_current=False)
    app.conf.update(broker_url="memory://", result_backend="cache+memory://", **config)
    return app


@pytest.fixture
def app() -> Iterator[Celery]:
    app = celery_safe.guard(make_app(task_always_eager=True, task_eager_propagates=True))
    yield app
    app.close()


@contextlib.contextmanager
def session() -> Iterator[dict[str, Any]]:
    yield {"name": "session"}


def test_the_app_form_registers_a_normal_task_and_keeps_the_function(app: Celery) -> None:
    def add(x: int, y: int = 1) -> int:
        return x + y

    add_task = celery_safe.task(app, shared=False)(add)
    assert app.tasks["core.test_tasks.add"].logic is add  # registered (behind a lazy proxy)
    assert isinstance(add_task, Task)
    assert add_task.logic is add and task_logic(add_task) is add
    assert add_task.logic(2) == 3
    assert add_task.delay(2, 3).get() == 5
    assert add_task.apply_async((2,), {"y": 5}).get() == 7
    assert add_task.s(2).delay().get() == 3
    assert add_task.si(4, 4).apply().get() == 8
    assert add_task(1, 1) == 2  # calling the task object runs it in-process, as in Celery
    assert task_resources(add_task) == {}


def test_bare_empty_and_keyword_app_forms(app: Celery) -> None:
    @celery_safe.task
    def bare(x: int) -> int:
        return x

    @celery_safe.task()
    def empty(x: int) -> int:
        return -x

    @celery_safe.task(app=app, shared=False)
    def keyword(x: int) -> int:
        return 2 * x

    assert (bare.logic(3), empty.logic(3), keyword.logic(3)) == (3, -3, 6)
    assert app.tasks["core.test_tasks.keyword"].delay(2).get() == 4
    # Shared tasks reach the app once it is finalized (current app is lazy).
    assert app.tasks["core.test_tasks.bare"].delay(5).get() == 5


def test_celery_options_pass_through(app: Celery) -> None:
    class Base(Task):  # type: ignore[misc]
        marker = "custom base"

    @celery_safe.task(
        app, shared=False, name="proj.opts", base=Base, soft_time_limit=5, ignore_result=True,
        acks_late=True, rate_limit="10/s", serializer="json", max_retries=7, typing=True,
    )
    def opts(x: int) -> int:
        return x

    assert opts.name == "proj.opts" and isinstance(opts, Base) and opts.marker == "custom base"
    assert (opts.soft_time_limit, opts.ignore_result, opts.acks_late, opts.rate_limit) == (
        5, True, True, "10/s"
    )
    assert opts.max_retries == 7 and opts.serializer == "json"


def test_bind_gives_the_task_as_self_and_binds_logic_like_run(app: Celery) -> None:
    @celery_safe.task(app, shared=False, bind=True, name="proj.bound")
    def bound(self: Any, x: int) -> tuple[str, int]:
        return self.name, x

    assert bound.delay(4).get() == ("proj.bound", 4)
    assert bound.logic(5) == ("proj.bound", 5)  # ``self`` is the task, as with ``run``
    assert bound.logic.__self__ is bound.run.__self__  # the same task object


def test_retry_options_reach_the_task(app: Celery) -> None:
    """Retries themselves run on real workers in test_workers.py."""

    @celery_safe.task(app, shared=False, autoretry_for=(KeyError,), max_retries=3)
    def flaky() -> None: ...

    assert flaky.autoretry_for == (KeyError,) and flaky.max_retries == 3
    assert flaky.run is not flaky.logic  # Celery wrapped ``run`` with its retry loop
    assert flaky.logic.__name__ == "flaky"


def test_celery_checks_arity_without_the_resources(app: Celery) -> None:
    @celery_safe.task(app, shared=False, resources={"db": session})
    def store(item: int, *, db: dict[str, Any]) -> tuple[int, str]:
        return item, db["name"]

    assert store.delay(1).get() == (1, "session")
    assert store.logic(1, db={"name": "mine"}) == (1, "mine")
    with pytest.raises(TypeError):
        store.delay()
    with pytest.raises(TypeError):
        store.delay(1, db={"name": "callers never pass resources"})
    assert list(task_resources(store)) == ["db"]


def test_shared_task_gets_logic_on_every_app() -> None:
    seen: list[str] = []

    @contextlib.contextmanager
    def marker() -> Iterator[str]:
        seen.append("open")
        yield "m"

    @celery_safe.task(name="core.shared_everywhere", resources={"tag": marker})
    def everywhere(x: int, tag: str) -> str:
        return f"{x}{tag}"

    first, second = make_app("first", task_always_eager=True), make_app("second")
    for each in (first, second):
        registered = each.tasks["core.shared_everywhere"]
        assert registered.logic(1, tag="!") == "1!"
        assert task_logic(registered) is everywhere.logic
        assert "logic" in vars(type(registered))  # on each app's task class
    assert first.tasks["core.shared_everywhere"].apply((2,)).get() == "2m" and seen == ["open"]
    assert first.tasks["core.shared_everywhere"] is not second.tasks["core.shared_everywhere"]
    # A plain Celery task has no logic.
    plain = first.task(shared=False)(lambda_free)
    assert task_logic(plain) is None and task_resources(plain) == {}
    first.close()
    second.close()


def lambda_free() -> None: ...


def test_logic_runs_without_any_celery_machinery(app: Celery) -> None:
    @celery_safe.task(app, shared=False)
    def where() -> str | None:
        return current_guarded_task()

    assert where.logic() is None
    assert where.delay().get() == "core.test_tasks.where"


def test_a_failing_resource_names_the_task_it_belongs_to(app: Celery) -> None:
    def broken() -> Any:
        raise ConnectionError("database down")

    @celery_safe.task(app, shared=False, name="proj.named", resources={"db": broken})
    def named(*, db: Any) -> None: ...

    @celery_safe.task(app, shared=False, bind=True, name="proj.bound", resources={"db": broken})
    def bound(self: Any, *, db: Any) -> None: ...

    for task_obj, name in ((named, "proj.named"), (bound, "proj.bound")):
        with pytest.raises(ResourceError) as caught:
            task_obj.delay()
        assert (caught.value.task_name, caught.value.resource, caught.value.stage) == (
            name, "db", "open"
        )
        assert "ConnectionError: database down" in str(caught.value)
        assert isinstance(caught.value.__cause__, ConnectionError)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda app: celery_safe.task("proj"), "expected a Celery app"),
        (lambda app: celery_safe.task(app)(int), "decorates a function"),
        (lambda app: celery_safe.task(app, logic=len)(len), "'logic' is set by celery_safe"),
        (lambda app: celery_safe.task(app, resources={"db": session})(lambda x: x),
         "has no parameter of that name"),
        (lambda app: celery_safe.task(app, resources={"db": 3})(lambda db: db),
         "must be a zero-argument callable"),
    ],
)
def test_misuse_is_refused_with_a_clear_error(app: Celery, call: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        call(app)


def test_a_positional_only_resource_is_refused(app: Celery) -> None:
    def positional(db: Any, /) -> None: ...

    with pytest.raises(TypeError, match="passed by keyword"):
        celery_safe.task(app, resources={"db": session})(positional)


def test_resources_accept_var_keyword(app: Celery) -> None:
    @celery_safe.task(app, shared=False, resources={"db": session})
    def anything(**kwargs: Any) -> list[str]:
        return sorted(kwargs)

    assert anything.delay(x=1).get() == ["db", "x"]
