"""May ``r = other.delay(x)`` ... ``r.get()`` become ``other(x)`` at the join?

Moving the call to the join keeps what the caller observes: the value arrives where it
was waited for and an exception is raised there (inside the same ``try``). It is only
allowed when nothing can tell the difference:

- ``r`` is assigned once, by a plain ``r = ...`` statement, and read once, by the join;
- the join runs exactly once whenever the start did: later in the same block, or in a
  ``try``/``with`` body inside it, never behind a branch, loop, nested scope,
  short-circuit or ``assert``;
- no ``return``/``raise``/``break``/``continue`` in between skips the join (the started
  task would have run anyway);
- the arguments are plain values (no calls) that no statement in between rebinds or
  mutates through a method call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import libcst as cst
import libcst.matchers as m
from libcst.metadata import Scope

from .inprocess import Refusal, is_pure

__all__ = ["check_move"]

ParentOf = Callable[[cst.CSTNode], cst.CSTNode]
ScopeOf = Callable[[cst.CSTNode], Scope | None]

#: Expressions that may evaluate a part of themselves zero times, or many times.
_CONDITIONAL = (
    cst.Lambda, cst.IfExp, cst.BooleanOperation, cst.ListComp, cst.SetComp, cst.DictComp,
    cst.GeneratorExp, cst.Assert,
)  # fmt: skip
_SCOPES = (cst.Module, cst.FunctionDef, cst.ClassDef)


def _root_name(node: cst.BaseExpression) -> cst.Name | None:
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        node = node.value
    return node if isinstance(node, cst.Name) else None


class _Effects(cst.CSTVisitor):
    """Names (re)bound or mutated by method calls, and jumps, in some statements."""

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.jumps: list[str] = []

    def _bind(self, node: cst.BaseExpression) -> None:
        if isinstance(node, (cst.Tuple, cst.List)):
            for element in node.elements:
                self._bind(element.value)
        elif isinstance(node, cst.StarredElement):
            self._bind(node.value)
        else:
            root = _root_name(node)
            if root is not None:
                self.names.add(root.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        if isinstance(node.name, cst.BaseExpression):
            self._bind(node.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        self._bind(node.target)

    def visit_Call(self, node: cst.Call) -> None:
        # ``items.append(x)`` may change ``items``: a method call counts as a rebinding.
        if isinstance(node.func, cst.Attribute):
            root = _root_name(node.func.value)
            if root is not None:
                self.names.add(root.value)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.names.add(node.name.value)
        return False  # why: a nested def's returns and bindings are its own

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self.names.add(node.name.value)
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False

    def visit_Return(self, node: cst.Return) -> None:
        self.jumps.append("return")

    def visit_Raise(self, node: cst.Raise) -> None:
        self.jumps.append("raise")

    def visit_Break(self, node: cst.Break) -> None:
        self.jumps.append("break")

    def visit_Continue(self, node: cst.Continue) -> None:
        self.jumps.append("continue")


def _conditional(parent: cst.CSTNode, child: cst.CSTNode) -> bool:
    if isinstance(parent, _CONDITIONAL + _SCOPES):
        return True
    if isinstance(parent, cst.Comparison) and len(parent.comparisons) > 1:
        return True  # why: ``a < b < r.get()`` may stop before the join
    if isinstance(parent, cst.BaseCompoundStatement):
        # a ``try`` or ``with`` body runs once, straight through, when reached
        return not (isinstance(parent, (cst.Try, cst.With)) and child is parent.body)
    return False


def check_move(
    holder: cst.Name, origin: cst.Call, join: cst.Call, parent_of: ParentOf, scope_of: ScopeOf
) -> cst.SimpleStatementLine | Refusal:
    """The ``r = ...`` statement to remove, or why the call must stay where it is."""
    name = holder.value
    assign = parent_of(origin)
    line = parent_of(assign)
    if not (
        m.matches(assign, m.Assign(targets=[m.AssignTarget(target=m.Name(name))]))
        and isinstance(line, cst.SimpleStatementLine)
        and len(line.body) == 1
    ):
        return Refusal(f"`{name}` is not simply assigned the started task (`{name} = ...`)")
    scope = scope_of(holder)
    if scope is None:
        return Refusal(f"`{name}` is not in a scope the fix can follow")
    if len(scope.assignments[name]) != 1:
        return Refusal(
            f"`{name}` is assigned again in the function; the fix only moves a result "
            "bound once"
        )
    if len(scope.accesses[name]) != 1:
        return Refusal(f"`{name}` is used for more than the join; it must stay a result")
    suite = parent_of(line)
    body = getattr(suite, "body", None)
    if not isinstance(body, Sequence):
        return Refusal(f"`{name} = ...` is not in a block of statements")
    between: list[cst.CSTNode] = []
    current: cst.CSTNode = join
    while (parent := parent_of(current)) is not suite:
        if _conditional(parent, current):
            return Refusal(
                f"`{name}` is joined conditionally, in a loop or in a nested scope away "
                "from where the task is started"
            )
        if isinstance(parent, cst.IndentedBlock):
            between += parent.body[: list(parent.body).index(current)]  # type: ignore[arg-type]
        current = parent
    statements = list(body)
    start, end = statements.index(line), statements.index(current)
    if end <= start:
        return Refusal(f"`{name}` is joined before it is assigned")
    moved = [origin.func, *[a.value for a in origin.args]]
    if not all(is_pure(node) for node in moved):
        return Refusal(
            f"the arguments of `{name} = ...` are computed by calls; moving them to the "
            "join would run those calls later"
        )
    effects = _Effects()
    for statement in [*statements[start + 1 : end], *between]:
        statement.visit(effects)
    if effects.jumps:
        return Refusal(
            f"a `{effects.jumps[0]}` between starting the task and joining `{name}` may skip "
            "the join, but the started task would have run"
        )
    statements[end].visit(effects)  # why: the join's own statement may rebind before it
    used = {n.value for node in moved for n in m.findall(node, m.Name())}  # type: ignore[attr-defined]
    changed = sorted(used & effects.names)
    if changed:
        return Refusal(f"`{changed[0]}` may change between starting the task and joining `{name}`")
    return line
