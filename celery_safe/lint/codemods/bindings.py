"""Is a name bound inside the functions around a line? (read from the ``ast`` index)

A join's task is looked up in the module's scope unless the name is bound in the
function around it (a parameter, an import inside the function, a local variable or
``def``). Most names are not, and saying so from the ``ast`` the engine already has
spares libcst's scope analysis, the costliest metadata of a rewrite. Conservative: any
binding of the name anywhere in those functions (nested scopes included) answers yes,
and the caller then asks libcst's scopes for the exact answer.
"""

from __future__ import annotations

import ast

from ..interp.index import FunctionInfo, ModuleIndex

__all__ = ["bound_around"]


def bound_around(name: str, line: int, index: ModuleIndex) -> bool:
    """May ``name`` be bound in a function enclosing ``line``? (``True`` when unsure)"""
    innermost: FunctionInfo | None = None
    for info in index.functions:
        node = info.node
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        if first <= line <= (node.end_lineno or node.lineno) and (
            innermost is None or node.lineno >= innermost.node.lineno
        ):
            innermost = info
    if innermost is None:
        return True  # not inside a function: let the scopes decide
    scope: FunctionInfo | None = innermost
    while scope is not None:
        if _binds(scope.node, name):
            return True
        scope = scope.parent
    return False


def _binds(function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    for node in ast.walk(function):
        if node is function:
            continue  # its own name is bound around it, not in it
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, ast.arg) and node.arg == name:
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and (
            node.name == name
        ):
            return True
        if isinstance(node, ast.alias) and (node.asname or node.name.partition(".")[0]) == name:
            return True
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return True
        if isinstance(node, ast.ExceptHandler) and node.name == name:
            return True
        if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name == name:
            return True
        if isinstance(node, ast.MatchMapping) and node.rest == name:
            return True
    return False
