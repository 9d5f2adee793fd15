"""Parity: the linter and ``validate`` describe a canvas the same way, so they agree.

Each example draws task definitions (random parameters, ``bind``, ``ignore_result``)
and a canvas over them (nested ``chain``/``group``/``chord`` with ``.s``/``.si``
steps and random bound arguments), renders both as a Python module, then:

* lints the source (the static front-end builds the model from the ``def``\\s and
  composes ``chain(...)`` as Celery does);
* executes the same source, so Celery builds the real canvas, and describes it with
  the runtime front-end.

Both models go through the one set of checks; every problem must be found by both,
at the same step (same code, same path). The module sends the canvas with no
arguments (``canvas.delay()``): its first steps get nothing more, on both sides.
"""

from __future__ import annotations

import linecache
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from celery_safe.canvas import check
from celery_safe.lint import check_source
from celery_safe.lint.findings import CanvasDetail, Finding
from celery_safe.workflows.validate import describe

#: The codes a source file can decide: not CSF203 (backend), CSF206 (registration)
#: or CSF207 (argument values), which need the app or the values.
STATIC_CODES = frozenset(
    {"CSF201", "CSF202", "CSF204", "CSF205", "CSF209", "CSF210", "CSF212"}
)

PARAMETERS = ("", "x", "x, y", "x, y=0", "*values", "values", "x, *, key", "x=0, **options")
#: Annotations for a task's first parameter and its return ("" for none): builtins,
#: generics, unions, a project class and its subclass, and Any.
TYPES = (
    "", "", "int", "float", "str", "list[int]", "list[float]", "Optional[str]",
    "int | None", "Sequence[int]", "Animal", "Dog", "Any",
)


@dataclass(frozen=True)
class TaskDef:
    params: str
    bind: bool
    ignore_result: bool
    takes: str = ""
    returns: str = ""
    #: a bound task whose body replaces it with a group (CSF212 in a chord header)
    replaces: bool = False

    def source(self, index: int) -> str:
        first, _, rest = self.params.partition(",")
        if self.takes and first and not first.startswith("*") and "=" not in first:
            first = f"{first}: {self.takes}"
        typed = ",".join(p for p in (first, rest) if p) if rest else first
        params = ", ".join(p for p in ("self" if self.bind else "", typed) if p)
        arrow = f" -> {self.returns}" if self.returns else ""
        options = (
            f'name="parity.t{index}", shared=False, bind={self.bind},'
            f" ignore_result={self.ignore_result}"
        )
        body = "self.replace(group([]))" if self.replaces and self.bind else "1"
        return f"@app.task({options})\ndef t{index}({params}){arrow}:\n    return {body}\n"


tasks = st.builds(
    TaskDef,
    st.sampled_from(PARAMETERS),
    st.booleans(),
    st.sampled_from([False, False, False, True]),
    st.sampled_from(TYPES),
    st.sampled_from(TYPES),
    st.sampled_from([False, False, True]),
)


def leaves(n_tasks: int) -> st.SearchStrategy[str]:
    @st.composite
    def leaf(draw: st.DrawFn) -> str:
        index = draw(st.integers(0, n_tasks - 1))
        method = draw(st.sampled_from(["s", "s", "si"]))
        args = [str(i) for i in range(draw(st.integers(0, 2)))]
        args += [f"{k}=1" for k in draw(st.lists(st.sampled_from(["y", "key"]), max_size=1))]
        return f"t{index}.{method}({', '.join(args)})"

    return leaf()


def canvases(n_tasks: int) -> st.SearchStrategy[str]:
    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        some = st.lists(inner, min_size=1, max_size=3)
        return st.one_of(
            some.map(lambda items: f"chain({', '.join(items)})"),
            some.map(lambda items: f"group({', '.join(items)})"),
            st.tuples(some, inner).map(lambda hb: f"chord([{', '.join(hb[0])}], {hb[1]})"),
            # two groups in a row, then more: the shape Celery reshapes (CSF209)
            st.tuples(some, some, some).map(
                lambda g: f"chain(group({', '.join(g[0])}), group({', '.join(g[1])}), "
                f"{'chain' if len(g[2]) % 2 else 'group'}({', '.join(g[2])}))"
            ),
        )

    return st.recursive(leaves(n_tasks), extend, max_leaves=7)


#: The same knowledge on both sides for CSF204: a backend that reads a chord header's
#: stored results (the runtime checks as if any backend), and a caller that waits for the
#: canvas's result (the linter reports a chord body ignoring its result only then).
APP = 'Celery("parity", backend="db+sqlite:///parity.sqlite", set_as_current=False)'
RUN = "def run():\n    return canvas.delay().get(timeout=60)"


@st.composite
def programs(draw: st.DrawFn) -> str:
    definitions = draw(st.lists(tasks, min_size=1, max_size=4))
    canvas = draw(canvases(len(definitions)))
    return "\n".join(
        [
            "from typing import Any, Optional, Sequence",
            "from celery import Celery, chain, chord, group",
            f"app = {APP}",
            "class Animal: ...",
            "class Dog(Animal): ...",
            *(d.source(i) for i, d in enumerate(definitions)),
            f"canvas = {canvas}",
            RUN,
            "",
        ]
    )


def static_problems(source: str) -> set[tuple[str, str]]:
    return {
        (f.code, _step(f)) for f in check_source(source) if f.code in STATIC_CODES
    }


def runtime_problems(source: str) -> set[tuple[str, str]]:
    namespace: dict[str, object] = {}
    # the runtime reads a task's source (CSF212): give it this one, as a module would
    filename = f"<parity-{hash(source)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)
    model = describe(namespace["canvas"], namespace["app"])  # type: ignore[arg-type]
    # ``run`` sends it with ``.delay()``: its first steps get no argument but their own
    return {(p.code, p.where) for p in check(model, receives=None) if p.code in STATIC_CODES}


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(source=programs())
def test_lint_and_validate_find_the_same_problems(source: str) -> None:
    assert static_problems(source) == runtime_problems(source), source


def test_the_parity_is_not_vacuous() -> None:
    """A known program where both sides find several codes (the comparison has teeth)."""
    source = "\n".join(
        [
            "from celery import Celery, chain, chord, group",
            f"app = {APP}",
            TaskDef("x", False, False).source(0),
            TaskDef("values", False, True).source(1),
            TaskDef("", False, False).source(2),
            TaskDef("", True, False, replaces=True).source(3),
            "canvas = group(chain(t0.s(1), t2.s()), chord([t1.s()], t0.s(1, 2)), chain("
            "group(t0.s(1), t0.s(2)), group(t1.s(), t1.s()), chain(t1.s(), t2.si())),"
            " chord([t3.si(), t2.si()], t1.s()))",
            RUN,
            "",
        ]
    )
    found = runtime_problems(source)
    assert {code for code, _ in found} >= {"CSF201", "CSF204", "CSF205", "CSF209", "CSF212"}, found
    assert static_problems(source) == found


def _step(finding: Finding) -> str:
    assert isinstance(finding.detail, CanvasDetail)
    return finding.detail.step


def test_chain_or_chain_is_what_the_installed_celery_builds() -> None:
    """``chain(a, group(b, c), chain(d))``: a chord from 5.5, a group then ``d`` before; the
    model composes it as ``celery_internals.chain_or_chain_folds`` says for this Celery."""
    from celery import Celery, chain, group

    from celery_safe.celery_internals import chain_or_chain_folds

    app = Celery("folds", set_as_current=False)

    @app.task(name="folds.t", shared=False)
    def t() -> int:
        return 1

    built = chain(t.s(), group(t.s(), t.s()), chain(t.s()))
    kinds = [type(task).__name__ for task in built.tasks]
    folded = ["Signature", "_chord"]
    assert kinds == (folded if chain_or_chain_folds() else ["Signature", "group", "Signature"])
