"""Which task state an expression names, and where a function writes one.

Celery stores a state through ``Task.update_state(task_id, state, meta)``, which calls
``backend.store_result(task_id, meta, state)``; ``backend.mark_as_failure(task_id,
exc)`` and ``mark_as_retry`` store ``exc`` as the meta of ``FAILURE`` / ``RETRY``. A
state is a string: a literal, ``celery.states.FAILURE``, a module constant holding one
(``FAILED = states.FAILURE``), or a parameter's default (``def fail(t,
state=FAILURE)``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .evaluate import keyword_arg, keyword_names
from .imports import ImportMap
from .index import FunctionInfo, ModuleIndex

__all__ = [
    "BACKEND_WRITES",
    "StateWrite",
    "bound_once",
    "meta_keys",
    "state_name",
    "state_write",
    "text_meta",
]

#: How deep a constant may be defined through other constants (``A = B``, ``B = "x"``).
_HOPS = 3
#: Backend methods that store a meta with a state: (meta's position and keyword, state's
#: position and keyword, the state when none is given).
BACKEND_WRITES = {
    "store_result": ((1, "result"), (2, "state"), ""),
    "mark_as_failure": ((1, "exc"), (None, "state"), "FAILURE"),
    "mark_as_retry": ((1, "exc"), (None, None), "RETRY"),
}


@dataclass(frozen=True)
class StateWrite:
    """A call that stores ``meta`` under ``state`` (expressions, ``None``: not given)."""

    call: str  # "update_state", "backend.store_result"...
    state: ast.expr | None
    meta: ast.expr | None
    default_state: str = ""  # the state the method stores when ``state`` is not given


def _argument(node: ast.Call, position: int | None, keyword: str | None) -> ast.expr | None:
    found = keyword_arg(node, keyword) if keyword is not None else None
    if found is None and position is not None and len(node.args) > position:
        arg = node.args[position]
        found = None if isinstance(arg, ast.Starred) else arg
    return found


def state_write(node: ast.Call) -> StateWrite | None:
    """``x.update_state(...)``, or a write through a result backend
    (``app.backend.store_result(id, meta, state)``, ``self.backend.mark_as_failure(id,
    exc)``): the backend is named by an attribute ``backend``, as Celery's objects hold it."""
    func = node.func
    if not isinstance(func, ast.Attribute):
        return None
    if func.attr == "update_state":
        return StateWrite("update_state", _argument(node, 1, "state"), _argument(node, 2, "meta"))
    spec = BACKEND_WRITES.get(func.attr)
    if spec is None or not (isinstance(func.value, ast.Attribute) and func.value.attr == "backend"):
        return None
    (meta_at, meta_kw), (state_at, state_kw), default = spec
    state = _argument(node, state_at, state_kw)
    return StateWrite(f"backend.{func.attr}", state, _argument(node, meta_at, meta_kw), default)


def state_name(
    node: ast.expr | None,
    imports: ImportMap,
    index: ModuleIndex,
    info: FunctionInfo | None,
    hops: int = 0,
) -> str:
    """The state ``node`` names (``"FAILURE"``), or ``""`` when it cannot be told."""
    if node is None or hops > _HOPS:
        return ""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else ""
    qualified = imports.qualify(node)
    if qualified is not None:
        module, _, last = qualified.rpartition(".")
        if module in ("celery.states", "celery.states.states"):
            return last
        # a constant of another module of the project (``from proj.states import FAILED``)
        lookup = getattr(index.external, "module_index", None)
        home = lookup(module) if lookup is not None and module else None
        if isinstance(home, ModuleIndex):
            return state_name(_module_constant(home, last), home.imports, home, None, hops + 1)
        return ""
    if not isinstance(node, ast.Name):
        return ""
    if info is not None:
        if _is_param(info, node.id):
            # the caller's choice; unless it is not given: the default
            default = _default_of(info, node.id)
            return state_name(default, imports, index, None, hops + 1) if default else ""
        if _assigned_in(info.node, node.id):
            return ""  # a local name: what it holds is not the module's constant
    constant = _module_constant(index, node.id)
    return state_name(constant, index.imports, index, None, hops + 1)


def _is_param(info: FunctionInfo, name: str) -> bool:
    args = info.node.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return any(arg is not None and arg.arg == name for arg in every)


def _default_of(info: FunctionInfo, name: str) -> ast.expr | None:
    """The default of ``info``'s parameter ``name``, if it has one."""
    args = info.node.args
    positional = [*args.posonlyargs, *args.args]
    for arg, default in zip(
        positional[len(positional) - len(args.defaults) :], args.defaults, strict=True
    ):
        if arg.arg == name:
            return default
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if arg.arg == name:
            return kw_default
    return None


def _assigned_in(function: ast.AST, name: str) -> bool:
    return any(
        isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load)
        for node in ast.walk(function)
    )


def _module_constant(index: ModuleIndex, name: str) -> ast.expr | None:
    """What the module's top level assigns ``name`` once (``FAILED = states.FAILURE``)."""
    tree = index.tree or getattr(index.analysis, "tree", None)  # this module's: its analysis
    if not isinstance(tree, ast.Module):
        return None
    found: list[ast.expr] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
                found.append(stmt.value)
        elif (
            isinstance(stmt, ast.AnnAssign)
            and isinstance(stmt.target, ast.Name)
            and stmt.target.id == name
            and stmt.value is not None
        ):
            found.append(stmt.value)
    return found[0] if len(found) == 1 else None


def meta_keys(meta: ast.expr | None, info: FunctionInfo | None) -> tuple[str, ...] | None:
    """The keys of a literal meta (``{...}``, ``dict(k=...)``), or of a name ``info``
    binds once to one and never changes (``meta = {...}``); ``None``: cannot tell."""
    if isinstance(meta, ast.Name) and info is not None:
        meta = bound_once(info.node, meta.id)
    return _literal_keys(meta) if meta is not None else None


#: Builtins that always return a ``str`` (``str(exc)``, ``repr(exc)``).
_TEXT_BUILTINS = frozenset({"str", "repr", "ascii", "format"})


def text_meta(
    meta: ast.expr | None, info: FunctionInfo | None, imports: ImportMap, index: ModuleIndex
) -> str:
    """The source of a meta that is a string (``str(exc)``, ``f"..."``, ``"..."``,
    ``"%s" % exc``, ``"{}".format(exc)``, a name bound once to one), else ``""``.

    Stored under a failure state, a string is what the backend then tries to read back as
    an exception: ``dict("...")`` raises ``ValueError`` (measured on Celery 5.3 and 5.7,
    ``tests/lint/test_csf301_celery.py``); ``""`` reads as no exception at all.
    """
    node = meta
    if isinstance(node, ast.Name) and info is not None:
        node = bound_once(info.node, node.id)
    if node is None or not _is_text(node, info, imports, index):
        return ""
    assert meta is not None
    # an f-string is named, not quoted: its braces would read as a message's placeholders
    return "an f-string" if isinstance(meta, ast.JoinedStr) else ast.unparse(meta)


def _is_text(
    node: ast.expr, info: FunctionInfo | None, imports: ImportMap, index: ModuleIndex
) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
        # ``"failed: %s" % exc``, ``"failed: " + str(exc)``: a str on the left makes a str
        return _is_text(node.left, info, imports, index)
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute):  # ``"{}".format(exc)``
        return func.attr == "format" and _is_text(func.value, info, imports, index)
    if not (isinstance(func, ast.Name) and func.id in _TEXT_BUILTINS):
        return False
    local = info is not None and (_is_param(info, func.id) or _assigned_in(info.node, func.id))
    # why all three: ``str`` imported, a parameter or a module's ``def str`` is not the builtin
    return imports.qualify(func) is None and not local and not _bound_in_module(index, func.id)


def _bound_in_module(index: ModuleIndex, name: str) -> bool:
    """The module's top level binds ``name`` (a ``def str``, ``str = ...``): not the builtin."""
    tree = index.tree or getattr(index.analysis, "tree", None)
    if not isinstance(tree, ast.Module):
        return False
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if stmt.name == name:
                return True
        elif _assigned_in(stmt, name):
            return True
    return False


def bound_once(function: ast.AST, name: str) -> ast.expr | None:
    """The one value ``function`` assigns ``name``, if nothing else binds or touches it."""
    stores, value = 0, None
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            stores += 1
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            value = node.value
        elif (
            isinstance(node, (ast.Subscript, ast.Attribute))
            and isinstance(node.value, ast.Name)
            and node.value.id == name
        ):
            return None  # ``meta["exc_type"] = ...``, ``meta.update(...)``: maybe changed
        elif isinstance(node, ast.arg) and node.arg == name:
            return None  # a parameter
    return value if stores == 1 else None


def _literal_keys(meta: ast.expr) -> tuple[str, ...] | None:
    """The keys of a literal ``{...}`` or ``dict(...)`` (``None``: cannot tell)."""
    if isinstance(meta, ast.Dict):
        keys: list[str] = []
        for key in meta.keys:
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                return None  # ** spread or computed key
            keys.append(key.value)
        return tuple(keys)
    if isinstance(meta, ast.Call) and isinstance(meta.func, ast.Name) and meta.func.id == "dict":
        names = keyword_names(meta.keywords)
        return None if names is None or meta.args else tuple(sorted(names))
    return None
