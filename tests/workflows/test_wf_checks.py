"""Every validation check, each with a canvas that fails it and one that passes."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from celery import canvas as celery_canvas
from celery.canvas import Signature
from wf_tasks import make_app

from celery_safe.celery_internals import (
    chord_orders_replaced_group,
    group_group_mislinks,
    header_ignoring_results_reaches_body,
)
from celery_safe.embedded import embedded_config
from celery_safe.testing.guarded_worker import keep_current_app
from celery_safe.workflows import Problem, WorkflowError, chain, chord, group, validate


@pytest.fixture(scope="module")
def t() -> SimpleNamespace:
    return make_app()


def codes(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.code, p.where) for p in problems]


# -- CSF201: a step cannot take its parent's result ---------------------------------


def test_readme_chain_reports_both_steps(t: SimpleNamespace) -> None:
    with pytest.raises(WorkflowError) as caught:
        chain(
            t.store_yaml_data_task.s(),
            t.clone_repositories_task.s(["core"]),
            t.parse_stored_data_task.s(),
        )
    problems = caught.value.problems
    assert codes(problems) == [("CSF201", "chain[1]"), ("CSF201", "chain[2]")]
    first = problems[0]
    assert first.message.startswith("chain[1] clone_repositories_task cannot take the result of")
    assert "chain[0] store_yaml_data_task" in first.message
    assert "clone_repositories_task(collection_slugs=None)" in first.message
    assert ".si(" in first.fix
    assert first.path == ("chain", 1)
    assert first.task == "wf.clone_repositories_task"
    text = str(caught.value)
    assert text.startswith("chain would fail: 2 problems")
    assert "CSF201 chain[2] parse_stored_data_task" in text and "fix: use `.si(...)`" in text


def test_readme_chain_fixed_with_si(t: SimpleNamespace) -> None:
    fixed = chain(
        t.store_yaml_data_task.s(),
        t.clone_repositories_task.si(["core"]),
        t.parse_stored_data_task.si(),
    )
    assert isinstance(fixed, celery_canvas._chain)
    assert validate(fixed, args=()) == []


def test_link_callback_receives_the_result(t: SimpleNamespace) -> None:
    bad = t.add.s(1, 2)
    bad.link(t.const.s())
    assert codes(validate(bad)) == [("CSF201", "link[0]")]
    good = t.add.s(1, 2)
    good.link(t.inc.s())
    good.link(t.const.si())
    assert validate(good) == []


def test_bound_task_self_is_not_an_argument(t: SimpleNamespace) -> None:
    assert validate(chain(t.inc.s(1), t.bound_add.s(2))) == []
    problems = validate(celery_canvas.chain(t.inc.s(1), t.bound_add.s(2, 3)))
    assert codes(problems) == [("CSF201", "chain[1]")]
    assert "bound_add(x, y=0)" in problems[0].message


def test_keyword_arguments_count(t: SimpleNamespace) -> None:
    assert validate(chain(t.const.si(), t.add.s(y=2))) == []
    problems = validate(celery_canvas.chain(t.const.si(), t.add.s(x=2, y=3)))
    assert codes(problems) == [("CSF201", "chain[1]")]
    assert "multiple values for argument 'x'" in problems[0].message


def test_varargs_take_anything(t: SimpleNamespace) -> None:
    assert validate(chain(t.inc.s(1), t.collect.s(2, 3, 4), t.count.s())) == []


def test_partial_args_and_the_parent_result(t: SimpleNamespace) -> None:
    assert validate(chain(t.inc.s(1), t.add.s(5))) == []
    assert codes(validate(celery_canvas.chain(t.inc.s(1), t.add.s(5, 6)))) == [
        ("CSF201", "chain[1]")
    ]


def test_nested_chain_in_chord_in_chain(t: SimpleNamespace) -> None:
    inner_bad = celery_canvas.chain(t.inc.s(), t.const.s())
    canvas = celery_canvas.chain(
        t.inc.s(1), celery_canvas.chord([inner_bad, t.inc.s()], t.tsum.s()), t.inc.s()
    )
    assert codes(validate(canvas)) == [("CSF201", "chain[1].chord.header[0].chain[1]")]
    inner_good = celery_canvas.chain(t.inc.s(), t.inc.s())
    good = celery_canvas.chain(
        t.inc.s(1), celery_canvas.chord([inner_good, t.inc.s()], t.tsum.s()), t.inc.s()
    )
    assert validate(good) == []


# -- CSF202: a chord body cannot take the list ------------------------------------


def test_chord_body_must_take_the_list(t: SimpleNamespace) -> None:
    with pytest.raises(WorkflowError) as caught:
        chord([t.inc.s(1), t.inc.s(2)], t.const.s())
    assert codes(caught.value.problems) == [("CSF202", "chord.body")]
    assert "the list of results of chord.header" in caught.value.problems[0].message
    assert isinstance(chord([t.inc.s(1), t.inc.s(2)], t.tsum.s()), celery_canvas._chord)
    assert validate(celery_canvas.chord([t.inc.s(1)], t.const.si())) == []


def test_step_after_a_group_is_a_chord_body(t: SimpleNamespace) -> None:
    bad = celery_canvas.chain(t.inc.s(1), celery_canvas.group(t.inc.s(), t.inc.s()), t.const.s())
    problems = validate(bad)
    assert [p.code for p in problems] == ["CSF202"]
    assert problems[0].message.startswith("chain[1].chord.body const cannot take the list")
    # Built with kwargs, Celery does not fold: the raw chain still runs as a chord.
    raw = celery_canvas._chain(t.inc.s(1), celery_canvas.group(t.inc.s(), t.inc.s()), t.const.s())
    assert codes(validate(raw)) == [("CSF202", "chain[2]")]
    good = celery_canvas.chain(t.inc.s(1), celery_canvas.group(t.inc.s(), t.inc.s()), t.tsum.s())
    assert validate(good) == []


def test_chord_body_group_members_each_take_the_list(t: SimpleNamespace) -> None:
    body = celery_canvas.group(t.tsum.s(), t.const.s())
    problems = validate(celery_canvas.chord([t.inc.s(1), t.inc.s(2)], body))
    assert codes(problems) == [("CSF202", "chord.body.group[1]")]


# -- CSF203: chords need a backend that runs them ----------------------------------


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        ({"broker_url": "memory://"}, "has no result backend"),
        ({"broker_url": "memory://", "result_backend": "rpc://"}, "RPCBackend"),
    ],
)
def test_chord_needs_a_chord_backend(conf: dict[str, str], expected: str) -> None:
    t = make_app(conf)
    with pytest.raises(WorkflowError) as caught:
        chord([t.inc.s(1), t.inc.s(2)], t.tsum.s())
    [problem] = caught.value.problems
    assert (problem.code, problem.where) == ("CSF203", "")
    assert problem.message.startswith("chord needs a result backend")
    assert expected in problem.message
    members = celery_canvas.group(t.inc.s(), t.inc.s())
    implicit = validate(celery_canvas.chain(t.inc.s(1), members, t.tsum.s()))
    assert [p.code for p in implicit] == ["CSF203"]
    # A group alone needs no backend.
    assert validate(celery_canvas.group(t.inc.s(1), t.inc.s(2))) == []


def test_chord_backend_is_fine_with_a_backend_or_eagerly(t: SimpleNamespace) -> None:
    assert validate(celery_canvas.chord([t.inc.s(1)], t.tsum.s())) == []
    eager = make_app({"broker_url": "memory://", "task_always_eager": True})
    assert validate(celery_canvas.chord([eager.inc.s(1)], eager.tsum.s())) == []


# -- CSF204: ignore_result where a chord needs the result ---------------------------


def test_header_task_ignoring_its_result(t: SimpleNamespace) -> None:
    problems = validate(celery_canvas.chord([t.quiet.s(1), t.inc.s(2)], t.tsum.s()))
    assert codes(problems) == [("CSF204", "chord.header[0]")]
    assert "never runs the body" in problems[0].message
    # Only the last task of a header chain stores the member's result.
    header = [celery_canvas.chain(t.quiet.s(1), t.inc.s()), t.inc.s(2)]
    assert validate(celery_canvas.chord(header, t.tsum.s())) == []


def test_body_ignoring_its_result_and_signature_option(t: SimpleNamespace) -> None:
    # quiet(x: int) also gets a list (CSF210): this test is about the result it drops
    problems = validate(celery_canvas.chord([t.inc.s(1)], t.quiet.s()), ignore={"CSF210"})
    assert codes(problems) == [("CSF204", "chord.body")]
    option = t.inc.s(1).set(ignore_result=True)
    assert codes(validate(celery_canvas.chord([option], t.tsum.s()))) == [  # noqa: CSF204 (deliberate)
        ("CSF204", "chord.header[0]")
    ]
    overridden = t.quiet.s(1).set(ignore_result=False)
    assert validate(celery_canvas.chord([overridden], t.tsum.s())) == []


#: A Redis result backend: nothing connects while a canvas is only validated.
REDIS_RESULTS = {"broker_url": "memory://", "result_backend": "redis://127.0.0.1:6379/5"}


def test_header_task_ignoring_its_result_on_redis() -> None:
    """Redis gathers the header's values itself (measured: the body gets them all)."""
    t = make_app(REDIS_RESULTS)
    problems = validate(celery_canvas.chord([t.quiet.s(1), t.inc.s(2)], t.tsum.s()))
    assert header_ignoring_results_reaches_body("redis")
    assert problems == []
    members = celery_canvas.group(t.quiet.s(), t.inc.s())
    implicit = celery_canvas.chain(t.inc.s(1), members, t.tsum.s())
    assert validate(implicit) == []
    # ... but the chord's own result is the body's: still never stored.
    body = validate(celery_canvas.chord([t.inc.s(1)], t.quiet.s()), ignore={"CSF210"})
    assert codes(body) == [("CSF204", "chord.body")]


# -- CSF212: a chord header part that replaces itself with a group -------------------


def test_header_part_replaced_by_a_group(t: SimpleNamespace) -> None:
    """Not measured on the cache backend: reported, as the linter does."""
    problems = validate(celery_canvas.chord([t.regroup.s(3), t.inc.s(1)], t.note.s()))
    assert codes(problems) == [("CSF212", "chord.header[0]")]
    assert problems[0].task == "wf.regroup"
    assert "in the order they finished" in problems[0].message
    assert "self.replace(chord(" in problems[0].fix
    members = celery_canvas.group(t.inc.s(), t.regroup.s())
    implicit = validate(celery_canvas.chain(t.inc.s(1), members, t.note.s()))
    assert codes(implicit) == [("CSF212", "chain[1].chord.header[1]")]  # Celery made a chord
    nested = celery_canvas.chord([t.regroup.s()], t.note.s())
    in_chain = validate(celery_canvas.chain(t.inc.s(1), nested, t.inc.si(0)))
    assert codes(in_chain) == [("CSF212", "chain[1].chord.header[0]")]
    with pytest.raises(WorkflowError, match="CSF212"):
        chord([t.regroup.s(3), t.inc.s(1)], t.note.s())


def test_header_part_replaced_by_a_chord_or_outside_a_header(t: SimpleNamespace) -> None:
    assert validate(celery_canvas.chord([t.fan_out.s(3), t.inc.s(1)], t.note.s())) == []
    assert validate(celery_canvas.chain(t.inc.s(1), t.regroup.s(), t.note.s())) == []
    assert validate(celery_canvas.group(t.regroup.s(1), t.regroup.s(2))) == []
    assert validate(celery_canvas.chord([t.regroup.s(3)], t.note.s()), ignore={"CSF212"}) == []


def test_header_parts_replacing_themselves_however_written(t: SimpleNamespace) -> None:
    """``validate`` reads each task's code as the linter does: the module's imports, a
    local import, a name assigned the group; a chord or a chain is not a group."""
    import celery

    from celery_safe import workflows

    app = t.app

    @app.task(bind=True, shared=False, name="wf.t_module")
    def by_module(self: Any, n: int) -> Any:
        return self.replace(celery.group(t.inc.s(i) for i in range(n)))

    @app.task(bind=True, shared=False, name="wf.t_named")
    def by_name(self: Any, n: int) -> Any:
        members = workflows.group(*(t.inc.s(i) for i in range(n)))
        return self.replace(members)

    @app.task(bind=True, shared=False, name="wf.t_chain")
    def by_chain(self: Any, n: int) -> Any:
        from celery import chain as sequence

        return self.replace(sequence(t.inc.s(n), t.inc.s()))

    @app.task(shared=False, name="wf.t_unbound")
    def unbound(n: int) -> int:
        return n

    header = [by_module.s(2), by_name.s(2), by_chain.s(2), unbound.s(2), t.regroup.s(2)]
    problems = validate(celery_canvas.chord(header, t.note.s()))
    assert codes(problems) == [("CSF212", f"chord.header[{i}]") for i in (0, 1, 4)]


@pytest.mark.parametrize("backend", ["embedded", "redis"])
def test_header_part_replaced_by_a_group_where_measured(
    backend: str, tmp_path: pytest.TempPathFactory
) -> None:
    t = make_app(embedded_config(tmp_path) if backend == "embedded" else REDIS_RESULTS)
    problems = validate(celery_canvas.chord([t.regroup.s(3), t.inc.s(1)], t.note.s()))
    expected = [] if chord_orders_replaced_group(backend) else [("CSF212", "chord.header[0]")]
    assert codes(problems) == expected


# -- CSF205: the signature's own arguments ------------------------------------------


def test_missing_and_unexpected_arguments(t: SimpleNamespace) -> None:
    problems = validate(celery_canvas.group(t.add.s(), t.add.s(1, 2, z=3), t.add.s(1, 2)))
    assert codes(problems) == [("CSF205", "group[0]"), ("CSF205", "group[1]")]
    assert "missing required arguments 'x', 'y'" in problems[0].message
    assert "unexpected keyword argument 'z'" in problems[1].message


def test_keyword_only_arguments(t: SimpleNamespace) -> None:
    assert validate(chain(t.inc.s(1), t.scale.s(factor=2))) == []
    problems = validate(celery_canvas.chain(t.inc.s(1), t.scale.s()))
    assert codes(problems) == [("CSF205", "chain[1]")]
    assert "missing required argument 'factor'" in problems[0].message


def test_resources_are_hidden_from_callers(t: SimpleNamespace) -> None:
    assert validate(chain(t.inc.s(1), t.with_db.s())) == []
    problems = validate(celery_canvas.chain(t.inc.s(1), t.with_db.s(db={})))
    assert codes(problems) == [("CSF205", "chain[1]")]
    assert "unexpected keyword argument 'db'" in problems[0].message


def test_bound_task_with_resources(t: SimpleNamespace) -> None:
    assert validate(chain(t.inc.s(1), t.bound_with_db.s(2))) == []
    problems = validate(celery_canvas.chain(t.inc.s(1), t.bound_with_db.s(2, 3)))
    assert codes(problems) == [("CSF201", "chain[1]")]
    assert "bound_with_db(x, scale=1)" in problems[0].message


def test_known_arguments_are_checked_strictly(t: SimpleNamespace) -> None:
    canvas = celery_canvas.chain(t.inc.s(), t.inc.s())
    assert validate(canvas) == []  # may be composed later: its first step may get a result
    assert codes(validate(canvas, args=())) == [("CSF205", "chain[0]")]
    assert validate(canvas, args=(1,)) == []
    assert codes(validate(canvas, args=(1, 2))) == [("CSF205", "chain[0]")]


# -- CSF206: unregistered task names ------------------------------------------------


def test_unregistered_task(t: SimpleNamespace) -> None:
    problems = validate(celery_canvas.chain(t.inc.s(1), t.app.signature("wf.ad", args=(1,))))
    assert codes(problems) == [("CSF206", "chain[1]")]
    assert "'wf.ad'" in problems[0].message and "did you mean 'wf.add'" in problems[0].message
    assert validate(celery_canvas.chain(t.inc.s(1), t.app.signature("wf.add", args=(1,)))) == []
    assert validate(t.app.signature("remote.task"), ignore={"CSF206"}) == []


# -- CSF207: arguments the serializer cannot encode ---------------------------------


@pytest.mark.parametrize("value", [{1, 2}, object(), frozenset({"a"})])
def test_unencodable_arguments(t: SimpleNamespace, value: object) -> None:
    problems = validate(t.count.s(value))
    assert codes(problems) == [("CSF207", "")]
    assert "args[0]" in problems[0].message and "'json'" in problems[0].message
    assert type(value).__name__ in problems[0].message


def test_unencodable_keyword_argument(t: SimpleNamespace) -> None:
    problems = validate(t.scale.s(1, factor={3}))
    assert codes(problems) == [("CSF207", "")]
    assert "argument factor (set)" in problems[0].message


@pytest.mark.parametrize(
    "value",
    [
        datetime.datetime(2026, 1, 2, 3, 4),
        datetime.date(2026, 1, 2),
        decimal.Decimal("1.5"),
        uuid.UUID(int=7),
        b"raw",
        {"nested": [1, (2, 3), {"x": None}]},
        {1: "int keys become strings"},
    ],
)
def test_kombu_json_encodable_arguments(t: SimpleNamespace, value: object) -> None:
    assert validate(t.count.s(value)) == []


def test_serializer_option_is_used(t: SimpleNamespace) -> None:
    assert validate(t.count.s({1, 2}).set(serializer="pickle")) == []


# -- CSF208: error callbacks --------------------------------------------------------


def test_error_callbacks(t: SimpleNamespace) -> None:
    bad = t.add.s(1, 2)
    bad.on_error(t.bad_errback.s())
    bad.on_error(t.on_error_id.s(1))
    problems = validate(bad)
    assert codes(problems) == [("CSF208", "link_error[0]"), ("CSF208", "link_error[1]")]
    assert "bad_errback(<request>, <exc>, <traceback>)" in problems[0].message
    assert "on_error_id(<task_id>, 1)" in problems[1].message
    good = t.add.s(1, 2)
    good.on_error(t.on_error.s())
    good.on_error(t.on_error_id.s())
    good.on_error(t.const.si())
    assert validate(good) == []


def test_error_callbacks_on_a_chain(t: SimpleNamespace) -> None:
    canvas = celery_canvas.chain(t.inc.s(1), t.inc.s())
    canvas.link_error(t.bad_errback.s())
    assert codes(validate(canvas)) == [("CSF208", "link_error[0]")]


@pytest.mark.parametrize("on_header", [False, True])
def test_error_callbacks_on_a_chord(on_header: bool) -> None:
    """Celery links a chord's error callback to its body, and with
    ``task_allow_error_cb_on_chord_header`` to each header part too (where it also runs,
    as measured on real workers): each copy is checked where Celery put it."""
    t = make_app()
    t.app.conf.task_allow_error_cb_on_chord_header = on_header
    canvas = celery_canvas.chord([t.inc.s(1), t.inc.s(2)], t.tsum.s())
    canvas.link_error(t.on_error_id.s(1))
    headers = [("CSF208", f"chord.header[{i}].link_error[0]") for i in (0, 1)]
    expected = [*(headers if on_header else []), ("CSF208", "chord.body.link_error[0]")]
    assert codes(validate(canvas)) == expected
    for good in (t.on_error.s(), t.on_error_id.s(), t.note_anything.s()):
        canvas = celery_canvas.chord([t.inc.s(1), t.inc.s(2)], t.tsum.s())
        canvas.link_error(good)
        assert validate(canvas) == []


# -- CSF209: a step after a chord whose body is a group ----------------------------


@pytest.fixture
def current(t: SimpleNamespace) -> Iterator[SimpleNamespace]:
    """``t`` with its app the current one: before 5.7, Celery sends a chain that starts
    with a chord (``group | group``) with ``current_app``, so it is what validate checks."""
    with keep_current_app():
        t.app.set_current()
        yield t


def _two_groups(t: SimpleNamespace) -> list[Signature]:
    return [celery_canvas.group(t.add.s(1, 1), t.add.s(2, 2)),
            celery_canvas.group(t.tsum.s(), t.count.s())]


@pytest.mark.parametrize("after", ["chain", "group"])
def test_a_chain_or_group_after_two_leading_groups(current: SimpleNamespace, after: str) -> None:
    t = current
    follow = (celery_canvas.chain(t.tsum.s(), t.inc.s()) if after == "chain"  # noqa: CSF209
              else celery_canvas.group(t.tsum.s(), t.count.s()))
    problems = validate(celery_canvas.chain(*_two_groups(t), follow))
    if not group_group_mislinks():
        assert problems == []
        return
    # Celery has merged the two groups into a chord: the next step is chain[1].
    assert codes(problems) == [("CSF209", "chain[1]")]
    assert "runs once per member" in problems[0].message
    assert "chain(g1, chain(g2, ...))" in problems[0].fix


@pytest.mark.parametrize(
    "shape",
    ["task-after", "tasks-after", "nested-rest", "task-first", "chord-after", "nothing-after"],
)
def test_shapes_celery_links_correctly_are_not_flagged(
    current: SimpleNamespace, shape: str
) -> None:
    t = current
    first, second = _two_groups(t)
    rest = celery_canvas.chain(t.tsum.s(), t.inc.s())
    canvas = {
        "task-after": lambda: celery_canvas.chain(first, second, t.tsum.s()),
        "tasks-after": lambda: celery_canvas.chain(first, second, t.tsum.s(), t.inc.s()),
        "nested-rest": lambda: celery_canvas.chain(first, celery_canvas.chain(second, rest)),
        "task-first": lambda: celery_canvas.chain(t.add.s(1, 1), first, second, rest),
        "chord-after": lambda: celery_canvas.chain(
            first, second, celery_canvas.chord([t.tsum.s(), t.tsum.s()], t.tsum.s())
        ),
        "nothing-after": lambda: celery_canvas.chain(first, second),
    }[shape]()
    assert [p for p in validate(canvas) if p.code == "CSF209"] == []


# -- the builders: Celery's call shapes, Celery's objects ---------------------------


def test_call_shapes_return_celery_objects(t: SimpleNamespace) -> None:
    assert isinstance(chain(t.inc.s(1), t.inc.s()), celery_canvas._chain)
    assert isinstance(chain([t.inc.s(1), t.inc.s()]), celery_canvas._chain)
    assert isinstance(chain(t.inc.s(i) for i in range(1)), Signature)
    assert isinstance(group(t.inc.s(i) for i in range(3)), celery_canvas.group)
    assert isinstance(group([t.inc.s(1), t.inc.s(2)]), celery_canvas.group)
    assert isinstance(group(t.inc.s(1), t.inc.s(2)), celery_canvas.group)
    piped = t.inc.s(1) | t.inc.s() | t.inc.s()
    assert isinstance(chain(piped, t.inc.s()), celery_canvas._chain)
    assert len(chain(piped, t.inc.s()).tasks) == 4
    # A group followed by a task folds into a chord, as with Celery.
    folded = chain(group(t.inc.s(1), t.inc.s(2)), t.tsum.s())
    assert isinstance(folded, celery_canvas._chord)
    nested = chain(t.inc.s(1), chord([chain(t.inc.s(), t.inc.s()), t.inc.s()], t.tsum.s()))
    assert isinstance(nested, celery_canvas._chain)
    made = chord((t.inc.s(i) for i in range(3)), t.tsum.s())
    assert len(made.tasks) == 3


def test_generator_problems_are_all_reported(t: SimpleNamespace) -> None:
    with pytest.raises(WorkflowError) as caught:
        group(t.add.s() if i % 2 else t.add.s(i, i) for i in range(5))
    assert codes(caught.value.problems) == [("CSF205", "group[1]"), ("CSF205", "group[3]")]
    # With unknown arguments, add.s(i) may still get one more: nothing to report.
    assert isinstance(group(t.add.s(i) for i in range(5)), celery_canvas.group)


def test_chord_called_with_its_body_later() -> None:
    t = make_app({"broker_url": "memory://", "task_always_eager": True})
    pending = chord([t.inc.s(1), t.inc.s(2)])
    with pytest.raises(WorkflowError) as caught:
        pending(t.const.s())
    assert codes(caught.value.problems) == [("CSF202", "chord.body")]
    assert pending(t.tsum.s()).get() == 5


def test_problems_in_header_before_the_body_is_known(t: SimpleNamespace) -> None:
    with pytest.raises(WorkflowError) as caught:
        chord([t.quiet.s(1), t.add.s()])
    assert {p.code for p in caught.value.problems} == {"CSF204", "CSF205"}


def test_every_problem_not_just_the_first(t: SimpleNamespace) -> None:
    with pytest.raises(WorkflowError) as caught:
        chain(
            t.const.si(),
            t.const.s(),
            celery_canvas.chord([t.quiet.s(), t.count.s({1})], t.const.s()),
            t.app.signature("wf.nope"),
        )
    assert [p.code for p in caught.value.problems] == [
        "CSF201", "CSF201", "CSF207", "CSF204", "CSF202", "CSF206"
    ]


def test_validate_serialised_canvas(t: SimpleNamespace) -> None:
    canvas = celery_canvas.chain(t.inc.s(1), celery_canvas.chord([t.inc.s()], t.const.s()))
    restored = Signature.from_dict(json.loads(json.dumps(canvas)), app=t.app)
    assert [p.code for p in validate(restored)] == ["CSF202"]


def test_validate_rejects_non_canvas() -> None:
    with pytest.raises(TypeError, match="Celery signature"):
        validate("wf.add")  # type: ignore[arg-type]


def test_task_signatures_are_read_once_per_task(
    t: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import inspect

    from celery_safe.workflows import params

    calls: list[object] = []
    real = inspect.signature

    def counting(obj: object) -> inspect.Signature:
        calls.append(obj)
        return real(obj)

    fresh = make_app()
    monkeypatch.setattr(params.inspect, "signature", counting)
    canvas = celery_canvas.chord([fresh.add.s(i, i) for i in range(500)], fresh.tsum.s())
    assert validate(canvas) == []
    assert validate(canvas) == []
    assert len(calls) == 2  # add and tsum, once each


def test_workflow_error_survives_pickle_and_json(t: SimpleNamespace) -> None:
    import pickle

    with pytest.raises(WorkflowError) as caught:
        chain(t.const.si(), t.const.s())
    error = caught.value
    json.dumps(error.args)  # what a JSON result backend stores
    restored = pickle.loads(pickle.dumps(error))
    assert str(restored) == str(error)
    assert str(WorkflowError(*json.loads(json.dumps(error.args)))) == str(error)


def test_builtin_map_and_chunks_are_accepted(t: SimpleNamespace) -> None:
    assert validate(t.add.chunks([(i, i) for i in range(10)], 2)) == []
    assert validate(t.inc.map([1, 2, 3])) == []
    assert validate(t.add.starmap([(1, 2), (3, 4)])) == []
    assert [p.code for p in validate(t.inc.map([{1}]))] == ["CSF207"]


def test_the_linters_celery_version_is_the_imported_one() -> None:
    """The linter reads Celery's version from its metadata (it never imports Celery):
    the same version the runtime checks get from ``celery.VERSION``."""
    from celery_safe import celery_internals

    assert celery_internals.installed_celery() == celery_internals.celery_version()
