"""Property tests: random valid workflows validate clean and compute the right answer;
one injected bad step is always reported, alone, at its position, with its code."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from wf_strategies import Tree, build, celery_mislinks, evaluate, leaves, tree
from wf_tasks import make_app

from celery_safe import workflows
from celery_safe.workflows import run_workflow, validate

T = make_app()

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(tree())
def test_valid_workflows_validate_clean_and_run(node: Tree) -> None:
    assume(not celery_mislinks(build(node, T)))
    canvas = build(node, T, kit=workflows)  # our builders raise on any problem
    assert validate(canvas, args=()) == []
    assert run_workflow(canvas).result == evaluate(node)


#: What replaces a leaf, by what it receives, and the code that must be reported.
BREAKERS: dict[str, tuple[str, str]] = {
    "none": ("add", "CSF205"),   # add() without its two arguments
    "int": ("const", "CSF201"),  # const(<result>): takes nothing
    "list": ("const", "CSF202"),  # const(<list of results>)
}


@SETTINGS
@given(tree(), st.data())
def test_one_bad_step_is_reported_at_its_position(node: Tree, data: Any) -> None:
    canvas = build(node, T, tag=True)
    assume(not celery_mislinks(canvas))
    path, leaf = data.draw(st.sampled_from(leaves(canvas)))
    replacement, code = BREAKERS[leaf.options["wf_given"]]
    task = getattr(T, replacement)
    leaf.update(task=task.name, args=(), kwargs={}, immutable=False)
    leaf._type = task
    problems = validate(canvas)
    assert [(p.code, p.path) for p in problems] == [(code, path)]
    assert problems[0].task == task.name


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
