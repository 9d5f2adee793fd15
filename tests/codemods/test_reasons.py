"""What ``fix`` says when it leaves a finding alone is what is true of that code, and a
rewritten wait whose comment spoke of waiting gets a note (issue: accurate refusals)."""

from __future__ import annotations

import textwrap

from celery_safe.lint.codemods import fix_source

HEADER = """\
from celery import Celery

app = Celery()


@app.task
def price(x):
    return x
"""


def _reasons(body: str) -> dict[int, str]:
    source = HEADER + textwrap.dedent(body)
    result = fix_source(source, "tasks.py")
    return {skipped.finding.line: skipped.reason for skipped in result.remaining}


def _line(body: str, text: str) -> int:
    source = HEADER + textwrap.dedent(body)
    return next(n for n, line in enumerate(source.splitlines(), 1) if text in line)


def test_a_task_imported_inside_the_function_is_called_imported_not_a_canvas() -> None:
    body = """

    @app.task
    def total(x):
        from tasks import price as local_price

        return local_price.delay(x).get()
    """
    reason = _reasons(body)[_line(body, "local_price.delay")]
    assert "imported inside the function" in reason
    assert "canvas" not in reason


def test_a_local_signature_is_called_a_local_variable() -> None:
    body = """

    @app.task
    def total(x):
        step = price.s(x)
        return step.delay().get()
    """
    reason = _reasons(body)[_line(body, "step.delay")]
    assert "`step` is a local name (a variable holding a signature" in reason


def test_a_result_rebound_later_is_not_said_to_be_used_for_more() -> None:
    body = """

    @app.task
    def total(x):
        r = price.delay(x)
        value = r.get()
        r = None
        return value
    """
    reason = _reasons(body)[_line(body, "r.get()")]
    assert "assigned again" in reason and "used for more" not in reason


def test_a_result_used_twice_is_said_to_be_used_for_more() -> None:
    body = """

    @app.task
    def total(x):
        r = price.delay(x)
        value = r.get()
        return value, r.id
    """
    assert "used for more than the join" in _reasons(body)[_line(body, "r.get()")]


def test_helper_reasons_say_who_starts_the_task() -> None:
    body = """

    def fetch_prices(ids):
        return [price.delay(i).get() for i in ids]


    def wait_for(result):
        return result.get()


    @app.task
    def total(ids):
        return sum(fetch_prices(ids)), wait_for(price.delay(1))
    """
    source = HEADER + textwrap.dedent(body)
    reasons = [s.reason for s in fix_source(source, "tasks.py").remaining]
    own = next(r for r in reasons if "fetch_prices" in r)
    handed = next(r for r in reasons if "wait_for" in r)
    assert "reaches it as an argument" not in own and "task's logic" in own
    assert "reaches it as an argument" in handed


def test_a_comment_about_the_old_wait_gets_a_note() -> None:
    body = """

    @app.task
    def total(x):
        # wait for completion of the pricing task
        value = price.delay(x).get()
        # unrelated
        other = price.delay(x + 1).get()
        return value, other
    """
    fixed = fix_source(HEADER + textwrap.dedent(body), "tasks.py").fixed
    assert "# wait for completion of the pricing task" in fixed  # the user's words stay
    notes = [line.strip() for line in fixed.splitlines() if "runs in-process now" in line]
    assert notes == [
        "# celery-safe: runs in-process now: nothing waits on a worker "
        "(was `price.delay(x).get()`)"
    ]
