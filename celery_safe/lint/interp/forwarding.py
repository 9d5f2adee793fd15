"""What a task's body really accepts when it forwards its arguments to another function.

Celery calls a task's ``run`` with the message's arguments. Two shapes put a function
between that call and the code that binds the arguments, and both are read here the
way Python runs them (measured on Celery 5.3-5.7, ``tests/workflows/test_wf_beat_calls``):

- a project decorator between ``@app.task`` and the ``def``, whose wrapper forwards
  ``*args, **kwargs`` to the wrapped function, with or without ``functools.wraps``
  (Celery's ``typing`` check reads the wrapper, ``(*args, **kwargs)``, and sends
  anything; the wrapped function raises ``TypeError`` in the worker);
- a ``Task`` subclass whose ``run(self, *args, **kwargs)`` forwards to another method
  (``return self.run_impl(db, *args, **kwargs)``), found on the task's own class.

Arguments the forwarding call puts first (``fn(session, *args, **kwargs)``) are taken
from the front of the callee's parameters. Anything else — a decorator of another
library, a wrapper that does not call what it wraps, or forwards some other way —
makes the parameters unknown, and no arity check guesses them.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .index import FunctionInfo

__all__ = ["forwarded_arguments", "returned_def", "without_leading"]

#: How many forwarding hops are followed (a wrapper of a wrapper of ``run``...).
MAX_HOPS = 4


def returned_def(factory: FunctionInfo) -> FunctionInfo | None:
    """The nested ``def`` a decorator returns (``return wrapper``), if any."""
    for stmt in factory.node.body:
        if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Name):
            return factory.local_defs.get(stmt.value.id)
    return None


def forwarded_arguments(
    wrapper: FunctionInfo, is_target: Callable[[ast.expr], bool]
) -> tuple[int, frozenset[str]] | None:
    """``(leading positional count, leading keyword names)`` of the calls by which
    ``wrapper(*args, **kwargs)`` forwards everything it gets to the function
    ``is_target`` recognises; None when it does not (or not always the same way)."""
    args = wrapper.node.args
    if args.vararg is None or args.kwarg is None or args.posonlyargs or args.kwonlyargs:
        return None
    if len(args.args) != (1 if wrapper.class_name is not None else 0):
        return None  # its own parameters before ``*args``: not read
    star, double = args.vararg.arg, args.kwarg.arg
    if _touched(wrapper.node, {star, double}):
        return None  # ``kwargs.pop("force")``: it takes more than what it forwards to
    found: set[tuple[int, frozenset[str]]] = set()
    for node in ast.walk(wrapper.node):
        if not isinstance(node, ast.Call) or not is_target(node.func):
            continue
        *lead, last = node.args or [ast.Constant(None)]
        forwards = (
            isinstance(last, ast.Starred) and isinstance(last.value, ast.Name)
            and last.value.id == star
            and not any(isinstance(a, ast.Starred) for a in lead)
            and sum(1 for k in node.keywords if k.arg is None) == 1
            and any(k.arg is None and isinstance(k.value, ast.Name) and k.value.id == double
                    for k in node.keywords)
        )
        if not forwards:
            return None  # it calls the target another way: what binds is not known
        found.add((len(lead), frozenset(k.arg for k in node.keywords if k.arg is not None)))
    return found.pop() if len(found) == 1 else None


def _touched(function: ast.AST, names: set[str]) -> bool:
    """Is ``*args`` or ``**kwargs`` used other than passed on whole (``f(*args, **kw)``)?
    Read, popped, changed or rebound, it may take arguments the callee does not."""
    passed: set[int] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Starred) or (isinstance(node, ast.keyword) and node.arg is None):
            passed.add(id(node.value))
    return any(
        isinstance(node, ast.Name) and node.id in names and id(node) not in passed
        for node in ast.walk(function)
    )


def without_leading(
    args: ast.arguments, count: int, keywords: frozenset[str], drop_first: bool
) -> ast.arguments | None:
    """``args`` once a forwarding call has filled its first ``count`` positional
    parameters and the ``keywords`` (None: the call cannot bind at all)."""
    plain = [*args.posonlyargs, *args.args][int(drop_first):]
    defaults = list(args.defaults)
    if count > len(plain) and args.vararg is None:
        return None
    kept = plain[count:]
    if any(arg.arg in keywords for arg in kept):
        return None  # a positional parameter filled by keyword: not read
    new = copy.copy(args)
    posonly = max(0, len(args.posonlyargs) - int(drop_first) - count)
    new.posonlyargs, new.args = kept[:posonly], kept[posonly:]
    new.defaults = defaults[max(0, len(defaults) - len(kept)):]
    pairs = [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
             if a.arg not in keywords]
    new.kwonlyargs = [a for a, _ in pairs]
    new.kw_defaults = [d for _, d in pairs]
    return new
