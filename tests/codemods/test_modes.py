"""``--split-logic`` and ``--chains``: before/after, and the chain runs under the guard."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

import celery_safe
from celery_safe.lint.codemods import FixOptions, fix_source
from celery_safe.lint.config import Config
from celery_safe.lint.front.fix_cli import fix_paths

Loader = Callable[[str, str], ModuleType]
SPLIT = FixOptions(split_logic=True)
CHAINS = FixOptions(chains=True)


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


SPLIT_BEFORE = dedent(
    """
    from celery import Celery, shared_task

    app = Celery("x")


    @app.task
    def a(x):
        return x


    @app.task(
        bind=True,
        max_retries=3,  # keep trying
    )
    def b(self, x):
        return a.delay(x).get()


    @shared_task(name="c.task", ignore_result=True)
    def c():
        return b.delay(1).get()


    class Holder:
        @app.task
        def not_top_level(self):
            pass
    """
)
SPLIT_AFTER = dedent(
    """
    from celery import Celery
    import celery_safe

    app = Celery("x")


    @celery_safe.task(app)
    def a(x):
        return x


    @celery_safe.task(
        app,
        bind=True,
        max_retries=3,  # keep trying
    )
    def b(self, x):
        return a.logic(x)


    @celery_safe.task(name="c.task", ignore_result=True)
    def c():
        return b.logic(1)


    class Holder:
        @app.task
        def not_top_level(self):
            pass
    """
)


def test_split_logic_keeps_every_option_and_fixes_imports() -> None:
    result = fix_source(SPLIT_BEFORE, "x.py", SPLIT)
    assert result.fixed == SPLIT_AFTER
    assert result.converted == ["a", "b", "c"]
    assert fix_source(result.fixed, "x.py", SPLIT).fixed == result.fixed


def test_split_logic_only_when_asked() -> None:
    plain = fix_source(SPLIT_BEFORE, "x.py")
    assert "@app.task\ndef a" in plain.fixed and "return a(x)" in plain.fixed


def test_split_logic_registers_the_same_task(load_module: Loader) -> None:
    # Only the app's tasks run here: a shared_task would join every later app of the
    # test process (``celery_safe.task`` without an app *is* ``shared_task``).
    # Each module names ``c`` after itself, or the second would reuse the first's name.
    source = (
        SPLIT_BEFORE.replace("shared_task", "app.task").replace(", app.task", "")
        .replace('name="c.task"', 'name=__name__ + ".c"')
    )
    before = load_module(source, "split_before")
    after = load_module(fix_source(source, "x.py", SPLIT).fixed, "split_after")
    for name in ("a", "b", "c"):
        old, new = getattr(before, name), getattr(after, name)
        assert new.name == old.name.replace(before.__name__, after.__name__)
        assert new.app is after.app
        for option in ("max_retries", "ignore_result", "typing"):
            assert getattr(new, option) == getattr(old, option), (name, option)
    assert after.a.logic(5) == 5 and after.b.logic(7) == 7


CHAINS_BEFORE = dedent(
    """
    from celery import Celery

    app = Celery(__name__, set_as_current=False)
    app.conf.task_always_eager = True
    RAN = []


    @app.task
    def fetch():
        RAN.append("fetch")
        return 40


    @app.task
    def store(value, extra=0):
        RAN.append(("store", value + extra))
        return value + extra


    @app.task
    def nightly(n):
        first = fetch.delay().get(timeout=60)
        store.delay(first, extra=n).get()
        store.apply(kwargs={"value": n}).get()
        return "done"


    @app.task
    def needs_the_value():
        value = fetch.delay().get()
        total = store.delay(value).get()
        return total
    """
)


def test_chains_mode_builds_accepting_and_immutable_signatures() -> None:
    fixed = fix_source(CHAINS_BEFORE, "n.py", CHAINS).fixed
    assert (
        dedent(
            """
        def nightly(n):
            # celery-safe: these steps run as a chain after this task returns
            celery_safe.workflows.chain(
                fetch.si(),
                store.s(extra=n),
                store.si(value=n),
            ).apply_async()
            return "done"
        """
        )
        in fixed
    )
    assert "import celery_safe.workflows\n" in fixed
    # the return value depends on the steps: in-process calls, never a chain
    assert "value = fetch()\n    total = store(value)\n" in fixed
    assert fix_source(fixed, "n.py", CHAINS).fixed == fixed


def test_chain_runs_every_step_under_the_guard(load_module: Loader) -> None:
    module = load_module(fix_source(CHAINS_BEFORE, "n.py", CHAINS).fixed, "chained")
    celery_safe.guard(module.app)
    assert module.nightly.delay(2).get() == "done"
    assert module.RAN == ["fetch", ("store", 42), ("store", 2)]


@pytest.mark.parametrize(
    "body",
    [
        # the last value is read afterwards
        "a = fetch.delay().get()\n    b = store.delay(a).get()\n    return b\n",
        # a value feeds a later step, not the next one's first argument
        "a = fetch.delay().get()\n    store.delay(1, extra=a).get()\n    fetch.delay().get()\n",
        # something else runs after the steps
        "fetch.delay().get()\n    fetch.delay().get()\n    print('after')\n",
        # a local signature is not a task to chain
        "w = fetch.s()\n    w.delay().get()\n    fetch.delay().get()\n",
    ],
)
def test_chains_mode_leaves_what_the_task_still_needs(body: str) -> None:
    source = CHAINS_BEFORE + "\n\n@app.task\ndef other():\n    " + body
    fixed = fix_source(source, "n.py", CHAINS).fixed
    assert "chain(" not in fixed[fixed.index("def other") :]


def test_split_logic_converts_every_file_before_rewriting_joins(tmp_path: Path) -> None:
    """The caller sorts first; its callee is converted anyway, so the join becomes .logic."""
    (tmp_path / "a_flows.py").write_text(
        "from z_jobs import app, double\n\n\n@app.task\ndef flow(x):\n"
        "    return double.delay(x).get()\n"
    )
    (tmp_path / "z_jobs.py").write_text(
        'from celery import Celery\n\napp = Celery("z")\n\n\n@app.task\ndef double(x):\n'
        "    return 2 * x\n"
    )
    summary = fix_paths([tmp_path], SPLIT, Config(), write=True)
    assert (tmp_path / "a_flows.py").read_text().endswith("    return double.logic(x)\n")
    assert "@celery_safe.task(app)\ndef double" in (tmp_path / "z_jobs.py").read_text()
    assert sorted(name for r in summary.results for name in r.converted) == ["double", "flow"]
