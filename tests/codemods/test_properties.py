"""Property tests: ``fix`` never crashes, its output parses, a second run changes nothing,
every finding is either rewritten or reported — and a fixed task returns what the
legacy task returned (hypothesis builds the legacy tasks from join shapes)."""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable
from types import ModuleType

import hypothesmith
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import celery_safe
from celery_safe.lint.codemods import FixOptions, fix_source
from celery_safe.lint.engine import check_source

Loader = Callable[[str, str], ModuleType]

HEADER = """\
import celery_safe
from celery import Celery

app = Celery(__name__, set_as_current=False)
app.conf.task_always_eager = True


@app.task
def add(x, y=0):
    return x + 2 * y


@app.task(bind=True)
def bound(self, x, y=0):
    return x * 10 + y


@celery_safe.task(app)
def pure(x, y=0):
    return x - y

"""
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def check_fix(source: str, options: FixOptions | None = None) -> str:
    """The properties every fix must have; returns the fixed source."""
    before = check_source(source, "gen.py")
    result = fix_source(source, "gen.py", options)
    ast.parse(result.fixed)
    again = fix_source(result.fixed, "gen.py", options)
    assert again.fixed == result.fixed, "a second run must change nothing"
    assert len(result.rewritten) + len(result.remaining) == len(before)
    if not before and not (options and options.split_logic):
        assert result.fixed == source
    return result.fixed


@st.composite
def dispatch(draw: st.DrawFn, x: str) -> str:
    """A started task, in one of the forms legacy code uses, with arguments ``x`` (and y)."""
    task = draw(st.sampled_from(["add", "bound", "pure"]))
    y = draw(st.sampled_from(["1", "n", "2 * n"]))
    forms = [
        f"{task}.delay({x})",
        f"{task}.delay({x}, {y})",
        f"{task}.delay({x}, y={y})",
        f"{task}.apply_async(args=[{x}], kwargs={{'y': {y}}})",
        f"{task}.apply_async(({x}, {y}), countdown=0)",
        f"{task}.apply_async([{x}], {{'y': {y}}}, queue='q')",
        f"{task}.apply(args=[{x}, {y}])",
        f"{task}.apply(kwargs={{'x': {x}}})",
        f"{task}.s({x}).delay()",
        f"{task}.s({y}).delay({x})",
        f"{task}.si({x}, y={y}).apply_async()",
    ]
    return draw(st.sampled_from(forms))


JOINS = st.sampled_from([".get()", ".get(timeout=5)", ".get(timeout=5, propagate=True)", ".wait()"])


@st.composite
def statement(draw: st.DrawFn) -> str:
    shape = draw(
        st.sampled_from(
            ["inline", "step", "variable", "loop", "comprehension", "try", "nested", "rebound"]
        )
    )
    join = draw(JOINS)
    if shape == "inline":
        return f"acc += {draw(dispatch('n'))}{join}"
    if shape == "step":  # a fire-then-wait step whose value is not used (--chains material)
        return f"{draw(dispatch('n'))}{join}"
    if shape == "variable":
        filler = draw(st.sampled_from(["", "log.append(n)\n", "acc += 1\n"]))
        return f"r = {draw(dispatch('n'))}\n{filler}acc += r{join}"
    if shape == "loop":
        return f"for i in range(2):\n    acc += {draw(dispatch('i'))}{join}"
    if shape == "comprehension":
        return f"acc += sum([{draw(dispatch('i'))}{join} for i in range(2)])"
    if shape == "try":
        return (
            f"r = {draw(dispatch('n'))}\ntry:\n    acc += r{join}\nexcept KeyError:\n    acc -= 1"
        )
    if shape == "nested":
        inner = f"{draw(dispatch('n'))}{join}"
        return f"acc += {draw(dispatch(inner))}{draw(JOINS)}"
    return f"r = {draw(dispatch('n'))}\nn = n + 1\nacc += r{join}"


@st.composite
def legacy_module(draw: st.DrawFn, trailing_steps: int = 0) -> str:
    """A task built from join shapes, optionally ending with fire-then-wait steps."""
    statements = draw(st.lists(statement(), min_size=1, max_size=4))
    for _ in range(draw(st.integers(0, trailing_steps))):
        statements.append(f"{draw(dispatch('n'))}{draw(JOINS)}")
    body = textwrap.indent("\n".join(statements), "    ")
    task = f"@app.task\ndef job(n):\n    acc, log = 0, []\n{body}\n    return acc\n"
    return HEADER + "\n" + task


@SETTINGS
@given(legacy_module())
def test_fixed_tasks_return_what_legacy_tasks_returned(load_module: Loader, source: str) -> None:
    fixed = check_fix(source)
    legacy = load_module(source, "gen_legacy")
    after = load_module(fixed, "gen_fixed")
    expected = legacy.job(3)  # called directly: nothing refuses the legacy joins here
    assert after.job(3) == expected
    if not fix_source(fixed, "gen.py").remaining:
        celery_safe.guard(after.app)
        assert after.job.delay(3).get() == expected


@settings(SETTINGS, max_examples=10)
@given(legacy_module(trailing_steps=3))
def test_every_mode_keeps_the_properties(load_module: Loader, source: str) -> None:
    fixed = check_fix(source, FixOptions(split_logic=True, chains=True))
    expected = load_module(source, "gen_legacy").job(3)
    assert load_module(fixed, "gen_all_modes").job(3) == expected


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_grammar(auto_target=False))
def test_fix_never_crashes_on_generated_programs(code: str) -> None:
    check_fix(code)
    # the same program as the body of a task, where the engine looks hardest
    task = HEADER + "\n@app.task\ndef job(n):\n" + textwrap.indent(code, "    ") + "\n    pass\n"
    try:
        ast.parse(task)
    except (SyntaxError, ValueError):
        assume(False)
    check_fix(task, FixOptions(split_logic=True, chains=True))
