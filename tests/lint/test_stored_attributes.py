"""Which ``self.X`` a method stores: the fast walk finds what a walk of every node finds.

``_stored_attributes`` walks each method of a class a canvas or join asks about, without
stepping into names, constants and operators; a reference asks ``stored_by`` of every node
(``ast.walk``). Both must agree on every method of the installed Celery and kombu and on generated
programs.
"""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, given, settings

from celery_safe.lint.interp.evaluate import _stored_attributes, stored_by

Function = ast.FunctionDef | ast.AsyncFunctionDef


def reference(node: Function) -> set[str]:
    """What each node of ``node`` stores, every node visited (``ast.walk``)."""
    args = [*node.args.posonlyargs, *node.args.args]
    if not args:
        return set()
    return {attr for sub in ast.walk(node) for attr in stored_by(sub, args[0].arg)}


def functions(tree: ast.AST) -> list[Function]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]


def test_what_each_form_stores() -> None:
    source = (
        "def method(me, other):\n"
        "    me.a = 1\n"
        "    me.b[0] = 2\n"
        "    me.c += 3\n"
        "    me.d: int = 4\n"
        "    me.e.append(5)\n"
        "    x = [me.f.add(i) for i in range(3)]\n"
        "    if x:\n"
        "        def inner(y):\n"
        "            me.g = lambda: me.h.extend([y])\n"
        "    other.i = 6\n"
        "    me.j.get(7)\n"
        "    me.k\n"
    )
    (method, *_) = functions(ast.parse(source))
    assert _stored_attributes(method) == {"a", "b", "c", "d", "e", "f", "g", "h"}
    assert _stored_attributes(functions(ast.parse("def f():\n    x.a = 1\n"))[0]) == set()


@pytest.mark.parametrize("package", ["celery", "kombu"])
def test_the_installed_celery_and_kombu_agree_with_a_walk_of_every_node(package: str) -> None:
    root = Path(sysconfig.get_paths()["purelib"]) / package
    compared = 0
    for path in sorted(root.rglob("*.py")):
        for function in functions(ast.parse(path.read_bytes())):
            expected = reference(function)
            assert _stored_attributes(function) == expected, (path, function.name)
            compared += bool(expected)
    assert compared > 100  # methods that store something were compared, not just empty sets


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # hypothesmith compiles odd programs
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
@given(source=hypothesmith.from_grammar())
def test_generated_programs_agree_with_a_walk_of_every_node(source: str) -> None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    for function in functions(tree):
        assert _stored_attributes(function) == reference(function)
