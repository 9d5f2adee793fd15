"""The in-process runner and the map-reduce helper: results flow as on a worker."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery import canvas as celery_canvas
from kombu.exceptions import EncodeError
from wf_tasks import make_app

from celery_safe import JoinInTaskError
from celery_safe.workflows import WorkflowError, chain, chord, group, map_reduce, run_workflow


@pytest.fixture(scope="module")
def t() -> SimpleNamespace:
    return make_app()


def test_chain_passes_results_and_honours_immutability(t: SimpleNamespace) -> None:
    run = run_workflow(chain(t.add.s(1, 2), t.inc.s(), t.const.si(), t.add.s(10)))
    assert run.result == 11
    assert [(s.task, s.args, s.result) for s in run.trace] == [
        ("wf.add", (1, 2), 3),
        ("wf.inc", (3,), 4),
        ("wf.const", (), 1),
        ("wf.add", (1, 10), 11),
    ]
    assert [s.where for s in run.trace] == ["chain[0]", "chain[1]", "chain[2]", "chain[3]"]


def test_readme_workflow_runs(t: SimpleNamespace) -> None:
    fixed = chain(
        t.store_yaml_data_task.s(),
        t.clone_repositories_task.si(["core", "extras"]),
        t.parse_stored_data_task.si(),
    )
    run = run_workflow(fixed)
    assert run.result == 3
    assert run.trace[1].result == ["core", "extras"]


def test_group_gives_a_list_and_chord_body_gets_it(t: SimpleNamespace) -> None:
    assert run_workflow(group(t.inc.s(1), t.inc.s(2))).result == [2, 3]
    run = run_workflow(chord([t.inc.s(1), t.add.s(2, 3)], t.tsum.s()))
    assert run.result == 7
    assert run.trace[-1].args == ([2, 5],)
    assert run.trace[-1].where == "chord.body"


def test_nested_canvas(t: SimpleNamespace) -> None:
    canvas = chain(
        t.add.s(1, 1),
        group(chain(t.inc.s(), t.inc.s()), t.add.s(10)),
        t.tsum.s(),
        t.scale.s(factor=3),
    )
    assert run_workflow(canvas).result == ((2 + 2) + (2 + 10)) * 3


def test_arguments_to_the_workflow(t: SimpleNamespace) -> None:
    canvas = chain(t.inc.s(), t.inc.s())
    assert run_workflow(canvas, (5,)).result == 7
    with pytest.raises(WorkflowError) as caught:
        run_workflow(canvas)
    assert caught.value.problems[0].code == "CSF205"


def test_runner_refuses_a_broken_workflow(t: SimpleNamespace) -> None:
    broken = celery_canvas.chain(t.store_yaml_data_task.s(), t.parse_stored_data_task.s())
    with pytest.raises(WorkflowError):
        run_workflow(broken)
    with pytest.raises(TypeError):
        run_workflow(broken, check=False)  # what a worker would hit


def test_results_go_through_the_serializer(t: SimpleNamespace) -> None:
    run = run_workflow(chain(t.pair.s(2), t.count.s()))
    assert run.trace[0].result == [2, 2]  # JSON has no tuples
    assert run.result == 2
    raw = run_workflow(chain(t.pair.s(2), t.count.s()), roundtrip=False)
    assert raw.trace[0].result == (2, 2)


def test_unencodable_result_fails_as_on_a_worker() -> None:
    t = make_app()

    @t.app.task(shared=False, name="wf.as_set")
    def as_set(x: int) -> set[int]:
        return {x}

    with pytest.raises(EncodeError):
        run_workflow(chain(as_set.s(1), t.count.s()))


def test_bound_tasks_and_resources(t: SimpleNamespace) -> None:
    run = run_workflow(chain(t.bound_add.s(1, 2), t.bound_add.s(4), t.with_db.s()))
    assert run.result == 8
    assert run_workflow(chain(t.inc.s(1), t.bound_with_db.s(3))).result == 9


def test_guard_is_on(t: SimpleNamespace) -> None:
    with pytest.raises(JoinInTaskError):
        run_workflow(chain(t.inc.s(1), t.joins.s()))


def test_failure_runs_error_callbacks_then_raises() -> None:
    t = make_app()
    seen: list[tuple[object, ...]] = []

    @t.app.task(shared=False, name="wf.record_error")
    def record_error(request: object, exc: BaseException, traceback: object) -> None:
        seen.append((getattr(request, "task", None), str(exc)))

    @t.app.task(shared=False, name="wf.record_id")
    def record_id(task_id: str) -> None:
        seen.append(("id", task_id))

    failing = t.fail.s(3)
    failing.on_error(record_error.s())
    failing.on_error(record_id.s())
    with pytest.raises(ValueError):
        run_workflow(failing)
    assert seen[0] == ("wf.fail", "failed on 3")
    assert seen[1][0] == "id" and len(str(seen[1][1])) == 36


def test_link_callbacks_run_with_the_result(t: SimpleNamespace) -> None:
    sig = t.add.s(2, 3)
    sig.link(t.inc.s())
    run = run_workflow(sig)
    assert run.result == 5
    assert [(s.where, s.result) for s in run.trace] == [("", 5), ("link[0]", 6)]


# -- map_reduce ---------------------------------------------------------------------


def test_map_reduce_builds_a_validated_chord(t: SimpleNamespace) -> None:
    workflow = map_reduce(t.add.s(10), [1, 2, 3], t.tsum.s())
    assert isinstance(workflow, celery_canvas._chord)
    assert [tuple(sig.args) for sig in workflow.tasks] == [(1, 10), (2, 10), (3, 10)]
    assert run_workflow(workflow).result == 36
    assert run_workflow(map_reduce(t.inc, range(4), t.tsum)).result == 10


def test_map_reduce_of_nothing_gives_the_callback_an_empty_list(t: SimpleNamespace) -> None:
    run = run_workflow(map_reduce(t.inc.s(), [], t.count.s()))
    assert run.result == 0
    assert run.trace[-1].args == ([],)


def test_map_reduce_checks_the_callback_and_the_mapper(t: SimpleNamespace) -> None:
    with pytest.raises(WorkflowError) as caught:
        map_reduce(t.scale.s(), [1], t.const.s())
    assert [p.code for p in caught.value.problems] == ["CSF205", "CSF202"]
    with pytest.raises(ValueError, match="immutable"):
        map_reduce(t.inc.si(1), [1], t.tsum.s())
    with pytest.raises(TypeError, match="task or a signature"):
        map_reduce("wf.inc", [1], t.tsum.s())


def test_chain_link_and_chain_error_callback(t: SimpleNamespace) -> None:
    linked = celery_canvas.chain(t.inc.s(1), t.inc.s())
    linked.link(t.add.s(100))
    run = run_workflow(linked)
    assert run.result == 3
    assert [(s.where, s.result) for s in run.trace][-1] == ("link[0]", 103)

    seen: list[str] = []
    app = make_app()

    @app.app.task(shared=False, name="wf.note")
    def note(task_id: str) -> None:
        seen.append(task_id)

    failing = celery_canvas.chain(app.inc.s(1), app.fail.s())
    failing.link_error(note.s())
    with pytest.raises(ValueError):
        run_workflow(failing)
    assert len(seen) == 1 and len(seen[0]) == 36
