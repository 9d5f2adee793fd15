"""Validated workflows on REAL worker processes: the embedded SQLite broker + database
backend, and Redis (broker on DB 5, results on DB 6). The same canvases run in-process
with ``run_workflow`` must give the same answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery import canvas as celery_canvas
from celery.exceptions import TimeoutError as CeleryTimeoutError
from hypothesis import HealthCheck, assume, given, settings
from wf_strategies import Tree, build, celery_mislinks, evaluate, tree
from wf_tasks import CONFIG_ENV, make_app

from celery_safe import workflows
from celery_safe.embedded import embedded_config
from celery_safe.testing.worker_process import WorkerProcess
from celery_safe.workflows import (
    WorkflowError,
    chain,
    chord,
    group,
    map_reduce,
    run_workflow,
)

HERE = Path(__file__).resolve().parent
TIMEOUT = 20

pytestmark = pytest.mark.worker


def _worker(conf: dict[str, Any]) -> Iterator[SimpleNamespace]:
    tasks = make_app(conf)
    env = {CONFIG_ENV: json.dumps(conf)}
    with WorkerProcess("wf_worker", pool="prefork", concurrency=2, cwd=HERE, env=env):
        yield tasks


@pytest.fixture(scope="module")
def sqlite_tasks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    yield from _worker(embedded_config(tmp_path_factory.mktemp("wf-embedded")))


@pytest.fixture(scope="module")
def redis_tasks(celery_safe_redis_url: str) -> Iterator[SimpleNamespace]:
    import redis

    for db in (5, 6):
        redis.Redis.from_url(f"{celery_safe_redis_url}/{db}").flushdb()
    conf = {
        "broker_url": f"{celery_safe_redis_url}/5",
        "result_backend": f"{celery_safe_redis_url}/6",
        "broker_connection_retry_on_startup": True,
        "worker_prefetch_multiplier": 1,
    }
    yield from _worker(conf)


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def tasks(request: pytest.FixtureRequest) -> SimpleNamespace:
    fixture: SimpleNamespace = request.getfixturevalue(f"{request.param}_tasks")
    return fixture


def _get(result: Any) -> Any:
    return result.get(timeout=TIMEOUT, interval=0.05)


def test_fixed_readme_chain(tasks: SimpleNamespace) -> None:
    fixed = chain(
        tasks.store_yaml_data_task.s(),
        tasks.clone_repositories_task.si(["core"]),
        tasks.parse_stored_data_task.si(),
    )
    result = fixed.apply_async()
    assert _get(result) == 3
    assert _get(result.parent) == ["core"]


def test_nested_chain_group_chord(tasks: SimpleNamespace) -> None:
    canvas = chain(
        tasks.add.s(1, 1),
        group(chain(tasks.inc.s(), tasks.inc.s()), tasks.add.s(10)),
        tasks.tsum.s(),
        tasks.scale.s(factor=3),
    )
    expected = run_workflow(canvas).result
    assert expected == 48
    assert _get(canvas.apply_async()) == expected


def test_group_after_group_gets_the_list_in_each_member(tasks: SimpleNamespace) -> None:
    canvas = chain(
        tasks.add.s(1, 1),
        group(tasks.inc.s(), tasks.inc.s()),
        group(tasks.tsum.s(), tasks.count.s()),
    )
    assert run_workflow(canvas).result == [6, 2]
    assert _get(canvas.apply_async()) == [6, 2]


def test_what_csf209_prevents_a_step_run_once_per_member(tasks: SimpleNamespace) -> None:
    """Celery links the step after ``group | group`` to each member of the second group."""
    def steps(t: SimpleNamespace) -> tuple[Any, Any, Any]:
        return group(t.add.s(1, 1), t.add.s(2, 2)), group(t.tsum.s(), t.count.s())

    first, second = steps(tasks)
    raw = celery_canvas.chain(first, second, celery_canvas.chain(tasks.tsum.s(), tasks.inc.s()))
    with pytest.raises(WorkflowError, match="CSF209"):
        chain(*steps(tasks), chain(tasks.tsum.s(), tasks.inc.s()))
    with pytest.raises(TypeError, match="'int' object is not iterable"):
        _get(raw.apply_async())  # tsum ran with one member's int: Celery's own bug
    first, second = steps(tasks)
    fixed = chain(first, chain(second, chain(tasks.tsum.s(), tasks.inc.s())))
    assert _get(fixed.apply_async()) == run_workflow(fixed).result == 9


def test_chord_and_map_reduce(tasks: SimpleNamespace) -> None:
    assert _get(chord([tasks.inc.s(i) for i in range(5)], tasks.tsum.s()).apply_async()) == 15
    assert _get(map_reduce(tasks.add.s(100), range(3), tasks.tsum.s()).apply_async()) == 303


def test_chord_called_with_its_body(tasks: SimpleNamespace) -> None:
    assert _get(chord(tasks.inc.s(i) for i in range(3))(tasks.tsum.s())) == 6


def test_map_reduce_of_nothing_calls_the_callback_with_an_empty_list(
    tasks: SimpleNamespace,
) -> None:
    assert _get(map_reduce(tasks.inc.s(), [], tasks.count.s()).apply_async()) == 0


def test_bound_and_resource_tasks(tasks: SimpleNamespace) -> None:
    canvas = chain(tasks.bound_add.s(1, 2), tasks.bound_add.s(4), tasks.with_db.s())
    assert _get(canvas.apply_async()) == run_workflow(canvas).result == 8


def test_workflow_error_raised_in_a_task_reaches_the_caller(tasks: SimpleNamespace) -> None:
    with pytest.raises(WorkflowError, match=r"CSF201 chain\[1\] const"):
        _get(tasks.builds_broken_chain.delay())


def test_what_csf204_prevents_a_chord_that_never_finishes(sqlite_tasks: SimpleNamespace) -> None:
    with pytest.raises(WorkflowError) as caught:
        chord([sqlite_tasks.quiet.s(1)], sqlite_tasks.tsum.s())
    assert [p.code for p in caught.value.problems] == ["CSF204"]
    # Sent anyway with Celery's own chord, the database backend never runs the body.
    raw = celery_canvas.chord([sqlite_tasks.quiet.s(1)], sqlite_tasks.tsum.s())
    with pytest.raises(CeleryTimeoutError):
        raw.apply_async().get(timeout=1.5, interval=0.05)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(node=tree(depth=2))
def test_random_valid_workflows_on_the_embedded_worker(
    sqlite_tasks: SimpleNamespace, node: Tree
) -> None:
    assume(not celery_mislinks(build(node, sqlite_tasks)))
    canvas = build(node, sqlite_tasks, kit=workflows)
    assert _get(canvas.apply_async()) == evaluate(node) == run_workflow(canvas).result


def test_what_csf210_prevents_a_step_typed_for_something_else(
    sqlite_tasks: SimpleNamespace,
) -> None:
    with pytest.raises(WorkflowError) as caught:
        chain(sqlite_tasks.inc.s(1), sqlite_tasks.tsum.s())
    assert [p.code for p in caught.value.problems] == ["CSF210"]
    assert "typed int, but its parameter numbers is annotated list[int]" in str(caught.value)
    # Sent anyway with Celery's own chain, the worker fails the second step.
    raw = celery_canvas.chain(sqlite_tasks.inc.s(1), sqlite_tasks.tsum.s())
    with pytest.raises(TypeError, match="not iterable"):
        raw.apply_async().get(timeout=TIMEOUT)



def test_a_task_that_replaces_itself_gives_the_same_result_in_process(
    sqlite_tasks: SimpleNamespace,
) -> None:
    canvas = chain(sqlite_tasks.inc.s(1), sqlite_tasks.fan_out.s(), sqlite_tasks.inc.s())
    on_worker = _get(canvas.apply_async())
    in_process = run_workflow(canvas)
    assert on_worker == in_process.result == 4  # inc(1)=2 -> sum(inc(0), inc(1))=3 -> 4
    replaced = [step for step in in_process.trace if step.replaced]
    assert [(step.where, step.result) for step in replaced] == [("chain[1]", 3)]
