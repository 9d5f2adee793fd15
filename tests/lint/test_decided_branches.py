"""Branches a call path never takes (``celery_safe.lint.interp.decided``), checked
against Python itself: what it decides about a condition is what Python evaluates
whatever the unknown names hold, the constants it binds are those Python binds, and a
node it says never runs does not run when the function is called that way."""

from __future__ import annotations

import ast
import contextlib
import inspect
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celery_safe.lint.interp.decided import bound_constants, never_runs, truth
from celery_safe.lint.interp.index import FunctionInfo

NAMES = ("a", "b", "c")
#: what a name may hold: the constants a condition meets in practice
DOMAIN: tuple[object, ...] = (None, True, False, 0, 1, 2, "", "sync", "async")
#: generated conditions compare literals with ``is`` on purpose (Python warns)
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")
LITERALS = st.sampled_from([repr(v) for v in DOMAIN])


def _conditions() -> st.SearchStrategy[str]:
    leaf = st.one_of(st.sampled_from(NAMES), LITERALS)
    compare = st.tuples(
        leaf, st.sampled_from(["==", "!=", "is", "is not", "<", ">=", "in", "not in"]), leaf
    ).map(
        lambda t: f"{t[0]} {t[1]} ({t[2]}, 'sync')"
        if t[1].endswith("in")
        else f"{t[0]} {t[1]} {t[2]}"
    )
    base = st.one_of(leaf, compare)
    return st.recursive(
        base,
        lambda inner: st.one_of(
            inner.map(lambda e: f"not ({e})"),
            st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(
                lambda t: f"({t[0]}) {t[1]} ({t[2]})"
            ),
        ),
        max_leaves=6,
    )


def _python_truth(condition: str, env: dict[str, object]) -> object:
    """``bool(condition)`` as Python evaluates it, or the exception it raises."""
    try:
        return bool(eval(condition, {}, dict(env)))  # our own generated text
    except Exception as exc:  # a comparison Python refuses: the branch is not taken
        return exc


@settings(max_examples=300, deadline=None)
@given(
    condition=_conditions(),
    known=st.dictionaries(st.sampled_from(NAMES), st.sampled_from(DOMAIN), max_size=3),
)
def test_a_decided_condition_is_what_python_evaluates_whatever_the_unknowns_hold(
    condition: str, known: dict[str, object]
) -> None:
    decided = truth(ast.parse(condition, mode="eval").body, known)
    if decided is None:
        return
    unknown = [n for n in NAMES if n not in known]
    for values in itertools.product(DOMAIN, repeat=len(unknown)):
        got = _python_truth(condition, {**known, **dict(zip(unknown, values, strict=True))})
        # a raise runs neither branch: dropping the other is still right
        assert isinstance(got, Exception) or got is decided, (condition, known, values)


@pytest.mark.parametrize(
    ("condition", "known", "expected"),
    [
        ("wait", {"wait": False}, False),
        ("not wait", {"wait": False}, True),
        ("mode == 'sync'", {"mode": "async"}, False),
        ("wait is True", {"wait": 1}, False),  # 1 is not the True singleton
        ("wait and settings.X", {"wait": False}, False),
        ("settings.X and wait", {"wait": False}, False),
        ("wait or settings.X", {"wait": False}, None),
        ("settings.X", {}, None),
        ("wait", {}, None),
        ("n is 5", {"n": 5}, None),  # identity of ints is not Python's promise
        ("n < 'a'", {"n": 1}, None),  # raises in Python: not decided
    ],
)
def test_conditions_decided_only_when_certain(
    condition: str, known: dict[str, object], expected: bool | None
) -> None:
    assert truth(ast.parse(condition, mode="eval").body, known) is expected


# --- binding: the constants of a call are those Python binds ---------------------------


def _function(source: str) -> tuple[FunctionInfo, Any]:
    tree = ast.parse(source)
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef)
    namespace: dict[str, Any] = {}
    exec(compile(tree, "<generated>", "exec"), namespace)  # generated text
    return FunctionInfo(node=node, qualname=node.name, parent=None, class_name=None), namespace[
        node.name
    ]


@settings(max_examples=300, deadline=None)
@given(
    defaults=st.lists(st.sampled_from(DOMAIN), max_size=3),
    required=st.integers(0, 2),
    kwonly=st.lists(st.tuples(st.booleans(), st.sampled_from(DOMAIN)), max_size=2),
    positional=st.lists(st.sampled_from(DOMAIN), max_size=6),
    keywords=st.dictionaries(
        st.sampled_from(["p0", "p1", "p2", "p3", "p4", "k0", "k1"]), st.sampled_from(DOMAIN),
        max_size=3,
    ),
)
def test_a_calls_constants_are_what_python_binds(
    defaults: list[object],
    required: int,
    kwonly: list[tuple[bool, object]],
    positional: list[object],
    keywords: dict[str, object],
) -> None:
    params = [f"p{i}" for i in range(required)]
    params += [f"p{required + i}={d!r}" for i, d in enumerate(defaults)]
    if kwonly:
        params.append("*")
        params += [f"k{i}={d!r}" if has else f"k{i}" for i, (has, d) in enumerate(kwonly)]
    info, function = _function(f"def helper({', '.join(params)}):\n    return None\n")
    arguments = [repr(v) for v in positional] + [f"{k}={v!r}" for k, v in keywords.items()]
    call = ast.parse(f"helper({', '.join(arguments)})", mode="eval").body
    try:
        bound = inspect.signature(function).bind(*positional, **keywords)
    except TypeError:
        return  # Python refuses the call: nothing runs
    bound.apply_defaults()
    got = bound_constants(call, info, {})
    for name, value in got.items():
        actual = bound.arguments[name]
        assert type(actual) is type(value) and actual == value, (params, arguments, name)
    assert set(got) == set(bound.arguments)  # every argument here is a literal


def test_a_call_that_may_fill_any_parameter_binds_nothing() -> None:
    info, _ = _function("def helper(ids, wait=False):\n    return wait\n")
    for call in ("helper(*xs)", "helper(ids, **options)"):
        assert bound_constants(ast.parse(call, mode="eval").body, info, {}) == {}


def test_a_reassigned_or_decorated_parameter_is_unknown() -> None:
    reassigned, _ = _function("def helper(ids, wait=False):\n    wait = wait or ids\n")
    assert bound_constants(ast.parse("helper(1)", mode="eval").body, reassigned, {}) == {
        "ids": 1
    }
    tree = ast.parse("@retry\ndef helper(ids, wait=False):\n    return wait\n")
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef)
    decorated = FunctionInfo(node=node, qualname="helper", parent=None, class_name=None)
    assert bound_constants(ast.parse("helper(1)", mode="eval").body, decorated, {}) == {}


def test_a_methods_self_is_not_an_argument_unless_it_is_static() -> None:
    tree = ast.parse(
        "class Runner:\n"
        "    def run(self, ids, wait=False):\n        return wait\n"
        "    @staticmethod\n    def go(ids, wait=False):\n        return wait\n"
    )
    cls = tree.body[0]
    assert isinstance(cls, ast.ClassDef)
    run, go = (
        FunctionInfo(node=n, qualname=f"Runner.{n.name}", parent=None, class_name="Runner")
        for n in cls.body
        if isinstance(n, ast.FunctionDef)
    )
    call = ast.parse("runner.run(1, True)", mode="eval").body
    assert bound_constants(call, run, {}) == {"ids": 1, "wait": True}
    call = ast.parse("runner.go(1, True)", mode="eval").body
    assert bound_constants(call, go, {}) == {"ids": 1, "wait": True}
    # more arguments than the method takes after ``self``: not a binding we can read
    call = ast.parse("Runner.run(runner, 1, True)", mode="eval").body
    assert bound_constants(call, run, {}) == {}


# --- a node said never to run does not run ----------------------------------------------


def _bodies() -> st.SearchStrategy[list[str]]:
    """Statement lists over parameters ``a``, ``b``, ``c`` with numbered marks."""
    counter = itertools.count()
    mark = st.builds(lambda: f"mark({next(counter)})")
    simple = st.one_of(
        mark.map(lambda m: [m]),
        st.tuples(_conditions(), mark, mark).map(lambda t: [f"({t[1]} if {t[0]} else {t[2]})"]),
        st.tuples(_conditions(), mark).map(lambda t: [f"({t[0]}) and {t[1]}"]),
        st.tuples(_conditions(), mark).map(lambda t: [f"({t[0]}) or {t[1]}"]),
        st.just(["return"]),
    )

    def indent(lines: list[str]) -> list[str]:
        return ["    " + line for line in lines] or ["    pass"]

    def compound(inner: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
        block = st.lists(inner, max_size=3).map(lambda parts: [x for p in parts for x in p])
        return st.one_of(
            st.tuples(_conditions(), block, block).map(
                lambda t: [f"if {t[0]}:", *indent(t[1]), "else:", *indent(t[2])]
            ),
            st.tuples(_conditions(), block).map(lambda t: [f"if {t[0]}:", *indent(t[1])]),
            # returns early: the rest of the enclosing block runs only if it did not
            st.tuples(_conditions(), block).map(
                lambda t: [f"if {t[0]}:", *indent([*t[1], "return"])]
            ),
            st.tuples(_conditions(), block).map(
                lambda t: [f"if {t[0]}:", *indent(t[1]), "else:", "    return"]
            ),
            st.tuples(_conditions(), block).map(
                lambda t: [f"while {t[0]}:", *indent([*t[1], "break"])]
            ),
        )

    statement = st.recursive(simple, compound, max_leaves=8)
    return st.lists(statement, min_size=1, max_size=4).map(lambda ps: [x for p in ps for x in p])


@settings(max_examples=200, deadline=None)
@given(
    body=_bodies(),
    call=st.lists(st.sampled_from(DOMAIN), min_size=3, max_size=3),
    passed=st.integers(0, 3),
)
def test_a_node_said_never_to_run_does_not_run_when_python_calls_the_function(
    body: list[str], call: list[object], passed: int
) -> None:
    source = "def helper(a=None, b=False, c='async'):\n" + "\n".join(
        "    " + line for line in body
    )
    tree = ast.parse(source)
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef)
    info = FunctionInfo(node=node, qualname="helper", parent=None, class_name=None)
    arguments = ", ".join(repr(v) for v in call[:passed])
    constants = bound_constants(ast.parse(f"helper({arguments})", mode="eval").body, info, {})
    ran: set[int] = set()
    namespace: dict[str, Any] = {"mark": ran.add}
    exec(compile(tree, "<generated>", "exec"), namespace)  # generated text
    with contextlib.suppress(TypeError):  # a comparison Python refuses: it ran until then
        namespace["helper"](*call[:passed])
    for mark in ast.walk(node):
        if isinstance(mark, ast.Call) and isinstance(mark.func, ast.Name):
            number = mark.args[0]
            assert isinstance(number, ast.Constant)
            if never_runs(info, mark, constants):
                assert number.value not in ran, source
