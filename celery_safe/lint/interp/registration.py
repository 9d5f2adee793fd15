"""Whether a task name is one the project owns that no task registers (a beat entry's
``task``: beat sends it anyway, every time it is due, and the worker drops it with
"Received unregistered task"; measured in ``tests/lint/test_joins_api_celery.py``).

Celery names a task ``module.function`` (``gen_task_name``), ``main.function`` for a
module run as ``__main__``, or whatever ``name=`` says. A name is decided only when it
is the project's own: ``a.b.f`` where ``a.b`` is a module of the project (or the
``Celery("a")`` main name of the module writing the schedule), and ``f`` is bound by
nothing at that module's top level (no ``def``, class, assignment or import: a binding
the linter does not recognise as a task might be one). Any doubt is silence: a module
with ``from x import *``, ``globals()``, a module ``__getattr__``; and (``check``'s
project scan) the name written quoted in another file, a task decorator's non-literal
``name=``, an overridden ``gen_task_name``. ``celery.*`` is Celery's own.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterator

from .index import ModuleIndex

__all__ = ["binds", "unregistered_name"]

#: first parts that are never the project's (Celery's built-in tasks)
NOT_OWNED = frozenset({"celery", "kombu"})


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """A module's statements that run at import, inside ``if``/``try``/``with``/loops."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, field, None)
            if isinstance(inner, list):
                yield from _top_level(inner)
        for handler in getattr(stmt, "handlers", ()):
            yield from _top_level(handler.body)
        for case in getattr(stmt, "cases", ()):
            yield from _top_level(case.body)


def _targets(node: ast.expr) -> Iterator[str]:
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, (ast.Tuple, ast.List)):
        for item in node.elts:
            yield from _targets(item)
    elif isinstance(node, ast.Starred):
        yield from _targets(node.value)


def binds(tree: ast.Module, name: str, renamed: ast.AST | None = None) -> bool:
    """Whether the module may bind ``name`` at its top level (``True`` when unsure);
    ``renamed``: a task's ``def`` registered under an explicit other name, which does not
    register ``name``."""
    for stmt in _top_level(tree.body):
        if stmt is renamed:
            continue
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if stmt.name in (name, "__getattr__"):
                return True
        elif isinstance(stmt, ast.Import):
            if any((a.asname or a.name.partition(".")[0]) == name for a in stmt.names):
                return True
        elif isinstance(stmt, ast.ImportFrom):
            if any(a.name == "*" or (a.asname or a.name) == name for a in stmt.names):
                return True
        elif isinstance(stmt, ast.Assign):
            if any(name in _targets(t) for t in stmt.targets):
                return True
        elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
            if name in _targets(stmt.target):
                return True
        elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith)):
            targets = [stmt.target] if isinstance(stmt, (ast.For, ast.AsyncFor)) else [
                i.optional_vars for i in stmt.items if i.optional_vars is not None
            ]
            if any(name in _targets(t) for t in targets):
                return True
    for node in ast.walk(tree):
        if isinstance(node, ast.Global) and name in node.names:
            return True  # a function assigns it at run time (a worker-start handler)
        if isinstance(node, ast.NamedExpr) and node.target.id == name:
            return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("globals", "setattr", "exec", "vars")
        ):
            return True  # why: names made at run time
    return False


def unregistered_name(name: str, here: ModuleIndex) -> tuple[str, ...] | None:
    """Task names of the owning module close to ``name`` (for a "did you mean"), when ``name``
    is the project's and nothing registers it; ``None`` when it is not known to be so
    (see the module's docstring). Without ``check``'s project lookup (``here.external``:
    ``check_source`` on one file) only the module's own app's main name is decided, on
    what the module shows."""
    lookup = here.external
    module_index = getattr(lookup, "module_index", None)
    names_unknown = getattr(lookup, "names_unknown", None)
    parts = name.split(".")
    if len(parts) < 2 or not all(p.isidentifier() for p in parts) or parts[0] in NOT_OWNED:
        return None
    module, _, function = name.rpartition(".")
    try:
        mine = getattr(lookup, "module_name", None)
    except ValueError:  # a path outside any package root: no import path
        mine = None
    owner = here if module == mine else module_index(module) if module_index else None
    if owner is None and module in here.backends.mains.values():
        owner = here  # ``Celery("shop")`` here: ``shop.f`` is this module's, run as __main__
    tree = None
    if isinstance(owner, ModuleIndex):
        tree = owner.tree or getattr(owner.analysis, "tree", None)  # this module's: its analysis
    if not isinstance(tree, ast.Module) or not isinstance(owner, ModuleIndex):
        return None
    renamed: ast.AST | None = None
    task = owner.task_names.get(function)
    if task is not None and task.task is not None and task.task.name not in (None, name):
        renamed = task.node  # ``@app.task(name="other")``: it registers only "other"
    if binds(tree, function, renamed) or (names_unknown is not None and names_unknown(name)):
        return None
    # only names whose own function is close: the module prefix they share is no hint
    near = set(difflib.get_close_matches(function, list(owner.task_names), n=3, cutoff=0.75))
    return tuple(sorted(f"{module}.{t}" for t in near))
