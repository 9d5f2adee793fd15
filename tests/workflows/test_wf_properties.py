"""Property tests: random valid workflows validate clean and compute the right answer;
one injected bad step is always reported, alone, at its position, with its code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from wf_strategies import Tree, build, celery_mislinks, evaluate, leaves, list_code, tree
from wf_tasks import make_app

from celery_safe import workflows
from celery_safe.celery_internals import group_group_mislinks
from celery_safe.testing.guarded_worker import keep_current_app
from celery_safe.workflows import WorkflowError, run_workflow, validate

T = make_app()



@pytest.fixture(autouse=True, scope="module")
def current_app_is_ts() -> Iterator[None]:
    """Before 5.7 Celery sends a chain that starts with a chord with ``current_app``."""
    with keep_current_app():
        T.app.set_current()
        yield


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(tree())
def test_valid_workflows_validate_clean_and_run(node: Tree) -> None:
    assume(not celery_mislinks(node, T))
    canvas = build(node, T, kit=workflows)  # our builders raise on any problem
    assert validate(canvas, args=()) == []
    assert run_workflow(canvas).result == evaluate(node)


#: What replaces a leaf, by what it receives, and the code that must be reported.
BREAKERS: dict[str, tuple[str, str]] = {
    "none": ("add", "CSF205"),   # add() without its two arguments
    "int": ("const", "CSF201"),  # const(<result>): takes nothing
    "list": ("const", "CSF202"),  # const(<list of results>); CSF201 after a chord
}


@SETTINGS
@given(tree(), st.data())
def test_one_bad_step_is_reported_at_its_position(node: Tree, data: Any) -> None:
    assume(not celery_mislinks(node, T))
    canvas = build(node, T, tag=True)
    path, leaf = data.draw(st.sampled_from(leaves(canvas)))
    replacement, code = BREAKERS[leaf.options["wf_given"]]
    if code == "CSF202":
        code = list_code(canvas, path)
    task = getattr(T, replacement)
    leaf.update(task=task.name, args=(), kwargs={}, immutable=False)
    leaf._type = task
    problems = validate(canvas)
    assert [(p.code, p.path) for p in problems] == [(code, path)]
    assert problems[0].task == task.name


def _leaf(name: str, *args: int) -> Tree:
    return ("task", name, args, False)


#: ``chain(chain(group, group, group), task)``: Celery wraps the inner chain so that the
#: whole validates clean, while the inner chain alone is CSF209 (found on a fresh clone).
NESTED_MISLINK: Tree = ("chain", [
    ("chain", [
        ("group", [_leaf("add", 1, 2), _leaf("inc", 3)]),
        ("group", [_leaf("tsum"), _leaf("count")]),
        ("group", [_leaf("tsum"), _leaf("count")]),
    ]),
    _leaf("tsum"),
])


def test_the_filter_sees_a_mislink_inside_a_nested_chain() -> None:
    if not group_group_mislinks():
        assert not celery_mislinks(NESTED_MISLINK, T)
        return
    assert celery_mislinks(NESTED_MISLINK, T)
    with pytest.raises(WorkflowError, match="CSF209"):
        build(NESTED_MISLINK, T, kit=workflows)


#: A step after a chord whose body ends in a group: it gets a list, as a parent result.
AFTER_CHORD_OF_GROUP: Tree = ("chain", [
    ("group", [_leaf("add", 0, 0), ("chain", [_leaf("add", 0, 0), _leaf("inc")])]),
    ("chain", [_leaf("tsum"), ("group", [_leaf("inc"), _leaf("inc"), _leaf("inc")])]),
    ("chain", [_leaf("tsum"), _leaf("inc")]),
])


def test_a_list_after_a_chord_is_a_parent_result() -> None:
    canvas = build(AFTER_CHORD_OF_GROUP, T, tag=True)
    path, leaf = leaves(canvas)[-2]
    assert (path, leaf.options["wf_given"]) == (("chain", 1), "list")
    assert list_code(canvas, path) == "CSF201"
    leaf.update(task=T.const.name, args=(), kwargs={}, immutable=False)
    leaf._type = T.const
    assert [(p.code, p.path) for p in validate(canvas)] == [("CSF201", path)]
    first_body_step = leaves(canvas)[3][0]
    assert list_code(canvas, first_body_step) == "CSF202"


def test_strategy_draws_every_shape() -> None:
    """The generator really produces nested chords, groups and chains."""
    seen: set[str] = set()

    @settings(max_examples=80, deadline=None)
    @given(tree())
    def collect(node: Tree) -> None:
        stack = [node]
        while stack:
            current = stack.pop()
            seen.add(current[0])
            if current[0] in ("chain", "group"):
                stack.extend(current[1])
            elif current[0] == "chord":
                stack.extend([*current[1], current[2]])

    collect()
    assert seen == {"task", "chain", "group", "chord"}
