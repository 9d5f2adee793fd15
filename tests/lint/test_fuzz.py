"""The engine never crashes: on hypothesmith programs and on generated Celery-shaped code."""

from __future__ import annotations

import ast

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celery_safe.lint import check_source, check_tree
from celery_safe.lint.noqa import drop_suppressed

FAST = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

HEADER = """\
from celery import Celery, chain, chord, group, shared_task, states
from celery.result import AsyncResult, GroupResult, allow_join_result
app = Celery()

@app.task
def add(x, y):
    return x + y

@app.task(ignore_result=True)
def quiet(*a):
    return a

def helper(r):
    return r.get()

"""

EXPRESSIONS = st.sampled_from(
    [
        "add.delay(1, 2)", "add.apply_async((1, 2))", "AsyncResult(x)", "GroupResult.restore(x)",
        "app.send_task('t')", "add.apply(args=(1, 2))", "chain(add.s(1, 2), add.s(3))()",
        "group(add.s(i, i) for i in x)()", "[add.delay(i, i) for i in x]", "{1: add.delay(1, 1)}",
        "x", "x.parent", "x.children", "x[0]", "x.get()", "helper(x)", "add.s(1) | quiet.s()",
        "chord([quiet.s(1)], add.s())", "(x := add.delay(1, 1))", "{}.get('a')",
        "x.get(disable_sync_subtasks=False)", "x.join()", "lambda r: r.get()",
        "add.s(1, 2).link(add.s())",
    ]
)  # fmt: skip
STATEMENTS = st.one_of(
    EXPRESSIONS.map(lambda e: f"x = {e}"),
    EXPRESSIONS.map(lambda e: f"y = {e}"),
    EXPRESSIONS.map(lambda e: e),
    EXPRESSIONS.map(lambda e: f"for x in {e}:\n        y = x.get()"),
    EXPRESSIONS.map(lambda e: f"if {e}:\n        x = None\n    else:\n        x = {e}"),
    EXPRESSIONS.map(lambda e: f"with allow_join_result():\n        x = {e}.get()"),
    EXPRESSIONS.map(lambda e: f"try:\n        x = {e}\n    except Exception as x:\n        pass"),
    st.just("self.update_state(state=states.FAILURE, meta={'a': x})"),
)


@st.composite
def celery_modules(draw: st.DrawFn) -> str:
    body = draw(st.lists(STATEMENTS, min_size=1, max_size=8))
    decorator = draw(st.sampled_from(["@app.task(bind=True)", "@shared_task(bind=True)", ""]))
    lines = "\n    ".join([*body, "return x"])
    return f"{HEADER}{decorator}\ndef subject(self, x):\n    {lines}\n"


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # hypothesmith compiles odd programs
@FAST
@given(source=hypothesmith.from_grammar())
def test_no_crash_on_generated_programs(source: str) -> None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    for finding in check_tree(tree, "fuzz.py", source.splitlines(keepends=True)):
        assert finding.span.line >= 1


@FAST
@given(source=celery_modules())
def test_no_crash_on_celery_shaped_code_and_noqa_silences_all(source: str) -> None:
    lines = source.splitlines(keepends=True)
    findings = check_source(source, "fuzz.py", noqa=False)
    for finding in findings:
        assert 1 <= finding.span.line <= finding.span.end_line <= len(lines)
        assert finding.message.startswith(finding.code + " ")
    silenced = [line.rstrip("\n") + "  # noqa\n" for line in lines]
    assert drop_suppressed(findings, silenced) == []
    assert check_source(source, "fuzz.py") == drop_suppressed(findings, lines)
