"""Which tasks replace themselves with a group: what CSF212 reads in a task's code.

Both front-ends read the task's ``def`` (the linter from the file it checks,
``validate`` from the function's source) and ask this one function; each supplies how a
name in that code resolves (the linter through imports, the runtime through the
function's globals).
"""

from __future__ import annotations

import ast
from collections.abc import Callable

__all__ = ["GROUP_FACTORIES", "replaces_with_group"]

#: What a call must resolve to to make a group: as imported, and as defined.
GROUP_FACTORIES = frozenset(
    {
        "celery.group",
        "celery.canvas.group",
        "celery_safe.workflows.group",
        "celery_safe.workflows.builders.group",
    }
)

Qualify = Callable[[ast.expr], "str | None"]


def replaces_with_group(
    function: ast.FunctionDef | ast.AsyncFunctionDef, qualify: Qualify
) -> bool:
    """True when the task's body calls ``self.replace(...)`` with a group: a
    ``group(...)`` call written there, or a name the function assigned one to.

    ``self`` is the function's first parameter (a bound task, or a ``Task`` method);
    ``qualify`` gives the qualified name an expression refers to (None if unknown).
    """
    positional = [*function.args.posonlyargs, *function.args.args]
    if not positional:
        return False  # not bound: it has no ``self`` to call ``replace`` on
    me = positional[0].arg

    def is_group(node: ast.expr | None) -> bool:
        return isinstance(node, ast.Call) and qualify(node.func) in GROUP_FACTORIES

    groups = {
        target.id
        for node in ast.walk(function)
        if isinstance(node, ast.Assign) and is_group(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    for node in ast.walk(function):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "replace"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == me
            and node.args
        ):
            continue
        sig = node.args[0]
        if is_group(sig) or (isinstance(sig, ast.Name) and sig.id in groups):
            return True
    return False
