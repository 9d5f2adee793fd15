"""Before/after cases for the default rewrite (Fixit-style: real code in, real code out).

Each case is a task module body; ``HEADER`` defines the tasks it calls. ``after`` is
``None`` when the code must stay byte-identical; ``reason`` is then a piece of the
reason ``fix`` gives for leaving the finding alone.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pytest

from celery_safe.lint.codemods import fix_source

HEADER = """\
import celery_safe
from celery import Celery, shared_task
from celery.result import AsyncResult, allow_join_result

app = Celery("shop")


@app.task
def add(x, y=0):
    return x + y


@app.task(bind=True)
def bound(self, x, y=0):
    return x * y


@app.task(bind=True)
def reporting(self, x):
    self.update_state(state="PROGRESS", meta={"x": x})
    return x


@celery_safe.task(app)
def pure(x):
    return -x


@celery_safe.task(app, resources={"db": dict})
def stored(x, *, db):
    return x


"""


@dataclass(frozen=True)
class Case:
    id: str
    before: str
    after: str | None
    reason: str = ""


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


CASES = [
    Case(
        "delay-positional-and-keyword",
        """
        @app.task
        def t(a):
            return add.delay(a, y=2).get()
        """,
        """
        @app.task
        def t(a):
            return add(a, y=2)
        """,
    ),
    Case(
        "apply_async-args-kwargs-timeout",
        """
        @app.task
        def t(a):
            return add.apply_async(args=[a], kwargs={"y": 2}, priority=1).get(timeout=5)
        """,
        """
        @app.task
        def t(a):
            # celery-safe: dropped priority=1 (no message in-process)
            # celery-safe: dropped timeout=5 (nothing to wait for)
            return add(a, y=2)
        """,
    ),
    Case(
        "apply_async-positional-tuple-and-dict",
        """
        @app.task
        def t(a):
            return add.apply_async((a,), {"y": a}, countdown=3).get()
        """,
        """
        @app.task
        def t(a):
            # celery-safe: dropped countdown=3 (runs now)
            return add(a, y=a)
        """,
    ),
    Case(
        "apply-kwargs-only",
        """
        @app.task
        def t():
            return add.apply(kwargs={"x": 1}).get()
        """,
        """
        @app.task
        def t():
            return add(x=1)
        """,
    ),
    Case(
        "args-and-kwargs-held-in-names",
        """
        @app.task
        def t(values, options):
            return add.apply_async(args=values, kwargs=options).get()
        """,
        """
        @app.task
        def t(values, options):
            return add(*values, **options)
        """,
    ),
    Case(
        "kwargs-key-that-is-not-an-identifier",
        """
        @app.task
        def t():
            return add.apply_async(kwargs={"x": 1, "not-a-name": 2}).get()
        """,
        """
        @app.task
        def t():
            return add(**{"x": 1, "not-a-name": 2})
        """,
    ),
    Case(
        "signature-then-delay-prepends-call-args",
        """
        @app.task
        def t():
            return add.s(1).delay(2).get() + add.si(3, y=4).delay().get()
        """,
        """
        @app.task
        def t():
            return add(2, 1) + add(3, y=4)
        """,
    ),
    Case(
        "bound-callee-and-bound-caller",
        """
        @app.task(bind=True)
        def t(self, a):
            return bound.delay(a, y=3).get()
        """,
        """
        @app.task(bind=True)
        def t(self, a):
            return bound(a, y=3)
        """,
    ),
    Case(
        "bound-callee-that-uses-its-own-request",
        """
        @app.task
        def t(a):
            return reporting.delay(a).get()
        """,
        None,
        "`reporting` is bound and uses self.update_state",
    ),
    Case(
        "celery_safe-task-uses-logic-unless-it-has-resources",
        """
        @shared_task
        def t(a):
            return pure.delay(a).get() + stored.delay(a).get()
        """,
        """
        @shared_task
        def t(a):
            return pure.logic(a) + stored(a)
        """,
    ),
    Case(
        "loop-and-comprehension",
        """
        @app.task
        def t(values):
            out = []
            for v in values:
                out.append(add.delay(v).get())
            return out + [add.apply_async(args=[v]).get() for v in values]
        """,
        """
        @app.task
        def t(values):
            out = []
            for v in values:
                out.append(add(v))
            return out + [add(v) for v in values]
        """,
    ),
    Case(
        "chained-joins-on-one-line",
        """
        @app.task
        def t(a):
            return add.delay(add.delay(a, 1).get(), bound.delay(a, 2).get()).get()
        """,
        """
        @app.task
        def t(a):
            return add(add(a, 1), bound(a, 2))
        """,
    ),
    Case(
        "result-in-a-variable-joined-later-in-a-try",
        """
        @app.task(bind=True)
        def t(self, values):
            failed = 0
            for i, v in enumerate(values):
                # start the next one
                r = add.apply_async(args=[v], countdown=0)  # fire
                self.update_state(state="PROGRESS", meta={"i": i})
                try:
                    r.get(timeout=600)
                except KeyError:
                    failed += 1
            return failed
        """,
        """
        @app.task(bind=True)
        def t(self, values):
            failed = 0
            for i, v in enumerate(values):
                # start the next one
                # fire
                self.update_state(state="PROGRESS", meta={"i": i})
                try:
                    # celery-safe: dropped countdown=0 (runs now)
                    # celery-safe: dropped timeout=600 (nothing to wait for)
                    add(v)
                except KeyError:
                    failed += 1
            return failed
        """,
    ),
    Case(
        "two-starts-in-a-row-keep-their-comments-in-order",
        """
        @app.task
        def t(a):
            # first
            r = add.delay(a)
            # second
            s = pure.delay(a)  # pure one
            return r.get() + s.get()
        """,
        """
        @app.task
        def t(a):
            # first
            # second
            # pure one
            return add(a) + pure.logic(a)
        """,
    ),
    Case(
        "comments-inside-the-call-are-kept",
        """
        @app.task
        def t(a):
            return add.delay(
                a,  # the amount
                y=1,
            ).get()
        """,
        """
        @app.task
        def t(a):
            return add(
                a,  # the amount
                y=1,
            )
        """,
    ),
    Case(
        "non-ascii-text-before-the-join-on-the-same-line",
        """
        @app.task
        def t(a):
            return {"café": add.delay(a).get(), "naïve": pure.delay(a).get()}
        """,
        """
        @app.task
        def t(a):
            return {"café": add(a), "naïve": pure.logic(a)}
        """,
    ),
    Case(
        "task-defined-in-a-factory-function",
        """
        def make(app):
            @app.task
            def inner(x):
                return x

            @app.task
            def outer(x):
                return inner.delay(x).get()

            return outer
        """,
        """
        def make(app):
            @app.task
            def inner(x):
                return x

            @app.task
            def outer(x):
                return inner(x)

            return outer
        """,
    ),
    Case(
        "task-class-run-and-a-lambda",
        """
        class Report(app.Task):
            def run(self, a):
                later = lambda: add.delay(a).get()  # noqa: E731
                return later()
        """,
        """
        class Report(app.Task):
            def run(self, a):
                later = lambda: add(a)  # noqa: E731
                return later()
        """,
    ),
    Case(
        "noqa-keeps-the-join",
        """
        @app.task
        def t(a):
            return add.delay(a).get()  # noqa: CSF101
        """,
        None,
    ),
    Case(
        "variable-whose-argument-changes-before-the-join",
        """
        @app.task
        def t(a):
            r = add.delay(a)
            a = a + 1
            return r.get() + a
        """,
        None,
        "`a` may change",
    ),
    Case(
        "variable-used-for-more-than-the-join",
        """
        @app.task
        def t(a):
            r = add.delay(a)
            print(r.id)
            return r.get()
        """,
        None,
        "used for more than the join",
    ),
    Case(
        "variable-joined-in-a-branch",
        """
        @app.task
        def t(a):
            r = add.delay(a)
            if a:
                return r.get()
            return 0
        """,
        None,
        "joined conditionally",
    ),
    Case(
        "an-early-return-between-start-and-join",
        """
        @app.task
        def t(a):
            r = add.delay(a)
            if not a:
                return None
            return r.get()
        """,
        None,
        "a `return` between starting the task and joining `r`",
    ),
    Case(
        "joined-in-an-assert-or-a-chained-comparison",
        """
        @app.task
        def t(a):
            r = add.delay(a)
            s = add.delay(a)
            assert r.get()
            return 0 < a < s.get()
        """,
        None,
        "joined conditionally",
    ),
    Case(
        "results-in-a-container",
        """
        @app.task
        def t(values):
            results = [add.delay(v) for v in values]
            return [r.get() for r in results]
        """,
        None,
        "flows through results -> r",
    ),
    Case(
        "send_task-names-the-task-by-string",
        """
        @app.task
        def t(a):
            return app.send_task("shop.add", args=[a]).get()
        """,
        None,
        "send_task",
    ),
    Case(
        "async-result-from-an-id",
        """
        @app.task
        def t(task_id):
            return AsyncResult(task_id).get()
        """,
        None,
        "rebuilt from an id",
    ),
    Case(
        "allow_join_result-block",
        """
        @app.task
        def t(a):
            with allow_join_result():
                return add.delay(a).get()
        """,
        None,
        "allow_join_result",
    ),
    Case(
        "propagate-false-returns-the-exception",
        """
        @app.task
        def t(a):
            return add.delay(a).get(propagate=False)
        """,
        None,
        "changes what the join returns",
    ),
    Case(
        "link-callback-has-no-in-process-equivalent",
        """
        @app.task
        def t(a):
            return add.apply_async(args=[a], link=add.s(1)).get()
        """,
        None,
        "link=",
    ),
    Case(
        "local-signature-is-not-a-task",
        """
        @app.task
        def t(a):
            sig = add.s(a)
            return sig.delay().get()
        """,
        None,
        "`sig` is a local name",
    ),
    Case(
        "code-outside-tasks",
        """
        def view(a):
            return add.delay(a).get()


        class Script:
            def run(self, a):
                return add.apply_async(args=[a]).get()
        """,
        None,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rewrite(case: Case) -> None:
    before = HEADER + dedent(case.before)
    result = fix_source(before, "shop.py")
    if case.after is None:
        assert result.fixed == before
        if case.reason:
            assert any(case.reason in s.reason for s in result.remaining), result.remaining
        return
    assert result.fixed == HEADER + dedent(case.after)
    assert not result.remaining
    again = fix_source(result.fixed, "shop.py")
    assert again.fixed == result.fixed, "a second run must change nothing"


def test_crlf_and_tabs_are_preserved() -> None:
    before = (HEADER + "@app.task\ndef t(a):\n\tr = add.delay(a)\n\treturn r.get()\n").replace(
        "\n", "\r\n"
    )
    fixed = fix_source(before, "shop.py").fixed
    assert fixed.endswith("def t(a):\r\n\treturn add(a)\r\n")
    assert "\n" not in fixed.replace("\r\n", "")
