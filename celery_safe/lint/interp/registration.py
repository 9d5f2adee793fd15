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

A name may also be bound in its module by an import only: ``proj.tasks.cleanup`` where
``proj/tasks/__init__.py`` does ``from .jobs import cleanup`` (or ``from .jobs import *``)
and ``proj/tasks/jobs.py`` defines the task without ``name=``. Celery names a task after
the module that *defines* it (the function's ``__module__``): the worker registers
``proj.tasks.jobs.cleanup`` and drops ``proj.tasks.cleanup`` (measured in
``tests/lint/test_worker_imports_celery.py``). :func:`reexported_as` follows such imports,
through the project's modules only, and answers the name Celery registers.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Collection, Iterator
from pathlib import Path

from .index import ModuleIndex

__all__ = ["binds", "reexported_as", "unregistered_name"]

#: first parts that are never the project's (Celery's built-in tasks)
NOT_OWNED = frozenset({"celery", "kombu"})
#: how many re-exports are followed (``a`` from ``b`` from ``c``...)
MAX_HOPS = 4


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


def binds(tree: ast.Module, name: str, renamed: ast.AST | None = None,
          skip: Collection[ast.AST] = ()) -> bool:
    """Whether the module may bind ``name`` at its top level (``True`` when unsure);
    ``renamed``: a task's ``def`` registered under an explicit other name, which does not
    register ``name``; ``skip``: statements known not to bind it."""
    for stmt in _top_level(tree.body):
        if stmt is renamed or stmt in skip:
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


def _owned_name(name: str) -> tuple[str, str] | None:
    """``(module, function)`` of a dotted name the project may own."""
    parts = name.split(".")
    if len(parts) < 2 or not all(p.isidentifier() for p in parts) or parts[0] in NOT_OWNED:
        return None
    module, _, function = name.rpartition(".")
    return module, function


def reexported_as(name: str, here: ModuleIndex) -> str | None:
    """The name Celery registers the task ``name`` points at, when ``name``'s module binds
    its function only by importing it from another module of the project, where it is a
    task without ``name=`` (see the module's docstring); None when it is not known to be
    so, or when it is ``name`` itself. Needs ``check``'s project lookup: one file alone
    cannot know."""
    lookup = here.external
    module_index = getattr(lookup, "module_index", None)
    names_unknown = getattr(lookup, "names_unknown", None)
    owned = _owned_name(name)
    if module_index is None or names_unknown is None or owned is None:
        return None
    module, function = owned
    registered = _follow(module, function, module_index, MAX_HOPS)
    if registered is None or registered == name or names_unknown(name):
        return None  # why: some file may register ``name`` in a way no index sees
    return registered


def _follow(module: str, function: str, module_index: object, hops: int) -> str | None:
    """The registered name of the task ``module.function`` is, following the one import
    that binds ``function`` in ``module``; None when unsure at any step."""
    owner = module_index(module) if callable(module_index) else None
    tree = owner.tree if isinstance(owner, ModuleIndex) else None
    if not isinstance(owner, ModuleIndex) or not isinstance(tree, ast.Module) or not owner.path:
        return None
    task = owner.task_names.get(function)
    if task is not None:  # defined here: its default name, unless it is renamed
        made = task.task
        if (made is None or made.how != "decorator" or made.name is not None
                or task.parent is not None or task.class_name is not None
                or binds(tree, function, task.node)):
            return None
        return f"{module}.{function}"
    if hops == 0:
        return None
    package = Path(owner.path).name == "__init__.py"
    found = _binding_import(tree, function, module, package, module_index)
    if found is None:
        return None
    statement, imported = found
    # star imports of the project's modules that do not export it do not bind it
    others = [stmt for stmt in tree.body if stmt is not statement
              and isinstance(stmt, ast.ImportFrom) and _star_lacks(
                  stmt, function, module, package, module_index)]
    if binds(tree, function, statement, others):
        return None  # why: bound some other way as well (or instead)
    source = _absolute(statement, module, package)
    if source is None:
        return None
    return _follow(source, function if imported == "*" else imported, module_index, hops - 1)


def _binding_import(tree: ast.Module, name: str, module: str, package: bool,
                    module_index: object) -> tuple[ast.ImportFrom, str] | None:
    """The last top-level ``from m import name`` (or a ``*`` that exports it from a module
    of the project) binding ``name``, and the name imported (``"*"`` for a star)."""
    found = None
    for stmt in tree.body:
        if not isinstance(stmt, ast.ImportFrom) or stmt.module is None:
            continue
        for alias in stmt.names:
            if (alias.asname or alias.name) == name or (alias.name == "*" and _star_exports(
                    stmt, name, module, package, module_index)):
                found = (stmt, alias.name)
    return found


def _star_source(statement: ast.ImportFrom, module: str, package: bool,
                 module_index: object) -> ast.Module | None:
    """The tree of the project module ``from m import *`` reads (None: not a star
    import, or not the project's)."""
    if [alias.name for alias in statement.names] != ["*"] or statement.module is None:
        return None
    source = _absolute(statement, module, package)
    found = module_index(source) if callable(module_index) and source else None
    tree = found.tree if isinstance(found, ModuleIndex) else None
    return tree if isinstance(tree, ast.Module) else None


def _star_exports(statement: ast.ImportFrom, name: str, module: str, package: bool,
                  module_index: object) -> bool:
    """``from m import *`` binds ``name`` for certain: ``m`` is the project's and binds it
    at its top level (a ``def``, a ``from x import``), listed in a literal ``__all__`` or,
    without one, not private. What it is bound to, ``_follow`` decides."""
    tree = _star_source(statement, module, package, module_index)
    if tree is None or not any(
        (isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == name)
        or (isinstance(stmt, ast.ImportFrom)
            and any((alias.asname or alias.name) == name for alias in stmt.names))
        for stmt in tree.body
    ):
        return False
    listed = _all_of(tree)
    if listed is _EVERYTHING:
        return False  # why: an ``__all__`` not read may omit it
    return not name.startswith("_") if listed is None else name in listed


def _star_lacks(statement: ast.ImportFrom, name: str, module: str, package: bool,
                module_index: object) -> bool:
    """``from m import *`` does not bind ``name`` for certain: ``m`` is the project's and
    its literal ``__all__`` omits it, or it has none and binds no ``name``."""
    tree = _star_source(statement, module, package, module_index)
    if tree is None:
        return False
    listed = _all_of(tree)
    if listed is not None:
        return name not in listed
    return name.startswith("_") or not binds(tree, name)


def _all_of(tree: ast.Module) -> frozenset[str] | None:
    """A module's ``__all__`` when written as a literal list or tuple of strings; None
    when it has none. A module building it some other way lists everything (unsure)."""
    listed: frozenset[str] | None = None
    for stmt in _top_level(tree.body):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else (
            [stmt.target] if isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) else [])
        if not any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            continue
        value = stmt.value if isinstance(stmt, ast.Assign) else None
        if listed is not None or not isinstance(value, (ast.List, ast.Tuple)):
            return _EVERYTHING  # why: written twice, or built some other way
        names = [e.value for e in value.elts
                 if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        if len(names) != len(value.elts):
            return _EVERYTHING
        listed = frozenset(names)
    return listed


class _Everything(frozenset[str]):
    """An ``__all__`` not read: it may hold any name (and omit any)."""

    def __contains__(self, item: object) -> bool:
        return True


_EVERYTHING = _Everything()


def _absolute(statement: ast.ImportFrom, module: str, package: bool) -> str | None:
    """The module ``statement`` imports from, seen from ``module`` (a package's
    ``__init__`` when ``package``)."""
    if not statement.level:
        return statement.module
    base = module.split(".") if package else module.split(".")[:-1]
    up = statement.level - 1
    if up > len(base) or (up == len(base) and not statement.module):
        return None
    parts = base[: len(base) - up]
    return ".".join([*parts, statement.module] if statement.module else parts) or None
