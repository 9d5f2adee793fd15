"""Branches a call path never takes: a helper's parameters bound to constants.

Python binds a helper's parameters to the call's arguments, or to their defaults when
a call leaves them out. Along one call path (a task calls ``collect(ids)``, which
joins only ``if wait:``) some parameters are therefore constants, and a branch whose
condition they decide is never taken on that path: what it contains (a join, a call
leading to one) does not happen there.

Precision first, both ways: a branch is dropped only when its condition is decided
for certain; anything else is unknown, and an unknown condition keeps both branches.
Unknown are: a task's own parameters (its callers pass anything), a parameter the
function assigns anywhere, any name that is not such a parameter (settings, globals),
a call whose arguments cannot be matched to parameters for certain (``*args``,
``**kwargs``, a decorated callee, a callee whose binding of ``self`` is not plain).

``bound_constants`` gives a callee's constant parameters for one call; ``never_runs``
says whether a node of a function is in a branch those constants rule out.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeAlias
from weakref import WeakKeyDictionary

from .index import Function, FunctionInfo

__all__ = ["Constants", "bound_constants", "never_runs", "truth"]

#: A function's parameters known to hold a constant on one call path, by name.
Constants: TypeAlias = Mapping[str, object]
#: A condition and the truth value it must have for a node to run.
Guard: TypeAlias = tuple[ast.expr, bool]
Guards: TypeAlias = tuple[Guard, ...]
#: Nodes of a function's body, each with the conditions it runs under.
Located: TypeAlias = Iterator[tuple[ast.AST, Guards]]

_UNKNOWN = object()
#: Objects whose identity ``is`` can decide: Python has one of each.
_SINGLETONS = (None, True, False, Ellipsis)
_BINDING_DECORATORS = frozenset({"staticmethod", "classmethod"})


def bound_constants(
    call: ast.expr, callee: FunctionInfo, caller: Constants
) -> dict[str, object]:
    """The parameters of ``callee`` that ``call`` binds to a constant: a literal
    argument (or an expression of the caller's constants), else a literal default.
    Nothing when the binding cannot be read for certain."""
    if not isinstance(call, ast.Call) or not _plain_binding(call.func, callee):
        return {}
    if any(isinstance(a, ast.Starred) for a in call.args) or any(
        k.arg is None for k in call.keywords
    ):
        return {}  # why we bail: ``*args``/``**kwargs`` may fill any parameter
    args = callee.node.args
    positional = [a.arg for a in (*args.posonlyargs, *args.args)]
    if _drops_first(callee):
        positional = positional[1:]
    if len(call.args) > len(positional):
        return {}  # why we bail: more arguments than we can place (a ``*args`` callee)
    given: dict[str, ast.expr] = dict(zip(positional, call.args, strict=False))
    for keyword in call.keywords:
        assert keyword.arg is not None
        given[keyword.arg] = keyword.value
    defaults = dict(zip(positional[len(positional) - len(args.defaults):], args.defaults,
                        strict=True)) if args.defaults else {}
    defaults.update(
        (a.arg, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
        if d is not None
    )
    constants: dict[str, object] = {}
    for name in (*positional, *(a.arg for a in args.kwonlyargs)):
        expr, env = (given[name], caller) if name in given else (defaults.get(name), {})
        if expr is None:
            continue
        value = _value(expr, env)
        if value is not _UNKNOWN:
            constants[name] = value
    reassigned = _assigned(callee.node)
    return {name: value for name, value in constants.items() if name not in reassigned}


def never_runs(function: FunctionInfo | None, node: ast.AST, constants: Constants) -> bool:
    """Whether ``node`` of ``function`` lies in a branch that ``constants`` (its
    parameters' values on one call path) decide is not taken."""
    if function is None:
        return False
    for test, wanted in _guards(function.node).get(id(node), ()):
        if truth(test, constants) is (not wanted):
            return True
    return False


def truth(test: ast.expr, constants: Constants) -> bool | None:
    """The truth value of ``test`` given ``constants``; None when it is not decided."""
    if isinstance(test, ast.BoolOp):
        # decided without every operand: ``a and b`` is false as soon as one is
        parts = [truth(v, constants) for v in test.values]
        stop = isinstance(test.op, ast.Or)  # the value that decides the whole
        if stop in parts:
            return stop
        return None if None in parts else not stop
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = truth(test.operand, constants)
        return None if inner is None else not inner
    value = _value(test, constants)
    if value is _UNKNOWN:
        return None
    try:
        return bool(value)
    except Exception:  # why: a constant whose truth raises is not decided here
        return None


def _value(expr: ast.expr, constants: Constants) -> object:
    """The constant ``expr`` evaluates to, or ``_UNKNOWN``."""
    if isinstance(expr, ast.Constant):
        return expr.value
    if isinstance(expr, ast.Name):
        return constants.get(expr.id, _UNKNOWN)
    if isinstance(expr, ast.UnaryOp):
        operand = _value(expr.operand, constants)
        if operand is _UNKNOWN:
            return _UNKNOWN
        if isinstance(expr.op, ast.Not):
            return not operand
        if isinstance(expr.op, ast.USub) and isinstance(operand, (int, float)):
            return -operand
        return _UNKNOWN
    if isinstance(expr, ast.BoolOp):
        values = [_value(v, constants) for v in expr.values]
        if _UNKNOWN in values:
            return _UNKNOWN
        for value in values[:-1]:  # Python returns the operand that decides
            if bool(value) is isinstance(expr.op, ast.Or):
                return value
        return values[-1]
    if isinstance(expr, ast.Compare):
        return _compare(expr, constants)
    return _UNKNOWN


def _compare(expr: ast.Compare, constants: Constants) -> object:
    left = _value(expr.left, constants)
    for op, right_node in zip(expr.ops, expr.comparators, strict=True):
        if isinstance(op, (ast.In, ast.NotIn)):
            right = _members(right_node, constants)
        else:
            right = _value(right_node, constants)
        if left is _UNKNOWN or right is _UNKNOWN:
            return _UNKNOWN
        result: object
        if isinstance(op, (ast.Is, ast.IsNot)):
            # identity is only certain for Python's singletons
            if not (_singleton(left) or _singleton(right)):
                return _UNKNOWN
            result = (left is right) is isinstance(op, ast.Is)
        else:
            try:
                result = _OPERATORS[type(op)](left, right)
            except Exception:  # why: ``1 < "a"`` raises: the branch is not decided
                return _UNKNOWN
        if not result:
            return False
        left = right
    return True


def _singleton(value: object) -> bool:
    return any(value is s for s in _SINGLETONS)


def _members(expr: ast.expr, constants: Constants) -> object:
    """A literal tuple, list or set of constants (for ``in``), or ``_UNKNOWN``."""
    if not isinstance(expr, (ast.Tuple, ast.List, ast.Set)):
        return _UNKNOWN
    values = [_value(e, constants) for e in expr.elts]
    return _UNKNOWN if _UNKNOWN in values else tuple(values)


_OPERATORS: dict[type[ast.cmpop], Callable[[Any, Any], object]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


def _plain_binding(func: ast.expr, callee: FunctionInfo) -> bool:
    """Whether a call through ``func`` binds its arguments to ``callee``'s parameters
    as written: an undecorated function called by name, or a method called on an
    object (``self.m(...)``, ``obj.m(...)``)."""
    if any(not _is_binding_decorator(d) for d in callee.node.decorator_list):
        return False  # why we bail: a decorator may change what the function is given
    if callee.class_name is None:
        # a plain function: by its name, or through a module (``helpers.collect``)
        return isinstance(func, ast.Name) or (
            isinstance(func, ast.Attribute)
            and not (isinstance(func.value, ast.Name) and func.value.id in ("self", "cls"))
        )
    # a method: on an object or the class (``cls.m``/``self.m``), under its own name
    return isinstance(func, ast.Attribute) and func.attr == callee.name


def _is_binding_decorator(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in _BINDING_DECORATORS


def _drops_first(callee: FunctionInfo) -> bool:
    """A method called on an object or class gets ``self``/``cls`` first; a
    ``staticmethod`` does not."""
    if callee.class_name is None:
        return False
    return not any(
        isinstance(d, ast.Name) and d.id == "staticmethod" for d in callee.node.decorator_list
    )


def _assigned(function: Function) -> frozenset[str]:
    """Every name the function (or a function nested in it) binds or deletes after
    the call: such a parameter no longer holds what the call gave it."""
    names: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, ast.arg) and node not in _own_args(function):
            names.add(node.arg)  # a nested def's or lambda's parameter shadows it
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).partition(".")[0] for a in node.names)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return frozenset(names)


def _own_args(function: Function) -> list[ast.arg]:
    args = function.args
    own = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    own += [a for a in (args.vararg, args.kwarg) if a is not None]
    return own


_GUARDS: WeakKeyDictionary[ast.AST, dict[int, Guards]] = WeakKeyDictionary()


def _guards(function: Function) -> dict[int, Guards]:
    """Each node of ``function``'s body (not of nested defs) -> the conditions that
    must hold for it to run, computed once per function."""
    found = _GUARDS.get(function)
    if found is None:
        found = {}
        for node, guards in _block(function.body, ()):
            found[id(node)] = guards
        _GUARDS[function] = found
    return found


def _block(body: list[ast.stmt], guards: Guards) -> Located:
    """The nodes of a block; after ``if c: return`` the rest of it runs only if not c."""
    for stmt in body:
        yield from _statement(stmt, guards)
        if isinstance(stmt, ast.If):
            body_ends, else_ends = _ends(stmt.body), _ends(stmt.orelse)
            if body_ends:
                guards = (*guards, (stmt.test, False))
            if else_ends:
                guards = (*guards, (stmt.test, True))


def _ends(body: list[ast.stmt]) -> bool:
    """Whether a block never falls through to the statement after it."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, (ast.Return, ast.Raise, ast.Continue, ast.Break)):
        return True
    return isinstance(last, ast.If) and _ends(last.body) and _ends(last.orelse)


def _statement(stmt: ast.stmt, guards: Guards) -> Located:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        # why: a nested def's body is its own function's; its decorators and defaults
        # run here
        yield stmt, guards
        for expr in (*stmt.decorator_list, *_defaults(stmt)):
            yield from _expression(expr, guards)
        return
    yield stmt, guards
    if isinstance(stmt, (ast.If, ast.While)):
        yield from _expression(stmt.test, guards)
        yield from _block(stmt.body, (*guards, (stmt.test, True)))
        orelse = (*guards, (stmt.test, False)) if isinstance(stmt, ast.If) else guards
        yield from _block(stmt.orelse, orelse)
        return
    for field_name, value in ast.iter_fields(stmt):
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            yield from _block(value, guards)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, ast.AST):
                    yield from _child(item, guards)
        elif isinstance(value, ast.AST) and field_name != "ctx":
            yield from _child(value, guards)


def _child(node: ast.AST, guards: Guards) -> Located:
    if isinstance(node, ast.expr):
        yield from _expression(node, guards)
    elif isinstance(node, ast.ExceptHandler):
        yield node, guards
        if node.type is not None:
            yield from _expression(node.type, guards)
        yield from _block(node.body, guards)
    elif isinstance(node, ast.match_case):
        yield node, guards
        yield from _block(node.body, guards)  # patterns and guards: nothing to join
    else:
        yield node, guards
        for child in ast.iter_child_nodes(node):
            yield from _child(child, guards)


def _defaults(stmt: ast.stmt) -> list[ast.expr]:
    if isinstance(stmt, ast.ClassDef):
        return [*stmt.bases, *(k.value for k in stmt.keywords)]
    assert isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef))
    return [*stmt.args.defaults, *(d for d in stmt.args.kw_defaults if d is not None)]


def _expression(expr: ast.expr, guards: Guards) -> Located:
    yield expr, guards
    if isinstance(expr, ast.Lambda):
        return  # its body runs when it is called: its own function's
    if isinstance(expr, ast.IfExp):
        yield from _expression(expr.test, guards)
        yield from _expression(expr.body, (*guards, (expr.test, True)))
        yield from _expression(expr.orelse, (*guards, (expr.test, False)))
        return
    if isinstance(expr, ast.BoolOp):
        # ``a and b``: b is evaluated only if a is true (``or``: only if it is false)
        wanted = isinstance(expr.op, ast.And)
        before = guards
        for value in expr.values:
            yield from _expression(value, before)
            before = (*before, (value, wanted))
        return
    for child in ast.iter_child_nodes(expr):
        if isinstance(child, ast.expr):
            yield from _expression(child, guards)
        elif isinstance(child, ast.comprehension):
            yield from _expression(child.iter, guards)
            yield from _expression(child.target, guards)
            for test in child.ifs:
                yield from _expression(test, guards)
