"""``InlineTaskJoins``: a task that starts another task and waits for it calls it instead.

Driven by the lint engine's join findings (CSF101/CSF104/CSF105): every finding is
either rewritten or reported with the reason it is left alone. Two shapes are
rewritten, both inside one function:

- inline: ``other.delay(x).get(timeout=5)`` becomes ``other(x)`` (or ``other.logic(x)``);
- through one variable: ``r = other.apply_async(args=[x])`` ... ``r.get()`` becomes
  ``other(x)`` at the join, under the conditions in :mod:`.moves`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import (
    Assignment,
    BaseAssignment,
    ImportAssignment,
    PositionProvider,
)

from ..findings import Finding, JoinDetail
from ..interp.index import ModuleIndex
from .bindings import bound_around
from .driven import FindingsCodemod
from .inprocess import DISPATCH_METHODS, JOIN_METHODS, InProcessCall, Refusal, plan_call
from .moves import check_move
from .positions import CharRange, SpanConverter, index_calls
from .report import JOIN_CODES, Skipped, comment_line, reason_without_fix
from .taskdefs import CallStyle, ProjectTasks, logic_style

__all__ = ["JOIN_CODES", "InlineTaskJoins"]

_Node = TypeVar("_Node", bound=cst.CSTNode)



@dataclass(eq=False)
class _Plan:
    finding: Finding
    join: cst.Call
    origin: cst.Call
    style: CallStyle
    statement: cst.CSTNode  # the statement whose line gets the notes
    removed: cst.SimpleStatementLine | None = None  # ``r = other.delay(x)`` when moved
    covers: list[CharRange] = field(default_factory=list)


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a chain of attributes on a name, else ``None``."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def _root_name(node: cst.BaseExpression) -> cst.Name | None:
    while isinstance(node, cst.Attribute):
        node = node.value
    return node if isinstance(node, cst.Name) else None


def _comments(node: cst.CSTNode) -> list[str]:
    return [c.value for c in m.findall(node, m.Comment())]  # type: ignore[attr-defined]


class InlineTaskJoins(FindingsCodemod):
    """Replace joins on tasks started inside a task with in-process calls."""

    DESCRIPTION = (
        "celery-safe: replace `other.delay(...).get()` (and apply_async/apply, directly or "
        "through a variable) inside a task with an in-process call of `other`'s logic."
    )

    def __init__(
        self,
        context: CodemodContext,
        findings: Sequence[Finding] | None = None,
        tasks: ProjectTasks | None = None,
        text: str | None = None,
    ) -> None:
        super().__init__(context, findings, tasks, text)
        #: findings rewritten, and findings left alone with the reason, after a run
        self.rewritten: list[Finding] = []
        self.skipped: list[Skipped] = []
        self._plans: dict[cst.Call, _Plan] = {}
        self._origins: dict[cst.Call, cst.Call] = {}
        self._removed: dict[cst.SimpleStatementLine, _Plan] = {}
        self._notes: dict[cst.CSTNode, list[cst.EmptyLine]] = {}
        self._moved_lines: dict[cst.CSTNode, list[cst.EmptyLine]] = {}

    # -- planning -------------------------------------------------------------
    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        path = self.path
        findings = self.findings_for(tree)
        if not findings:
            return tree
        converter = SpanConverter(self.source_code(tree))
        calls = index_calls(self.metadata[PositionProvider])  # type: ignore[arg-type]
        index = self.module_index(tree)
        reasons: dict[int, str] = {}
        targets: dict[int, cst.Call | None] = {}
        for number, finding in enumerate(findings):
            span = _join_detail(finding).join_span
            targets[number] = calls.get(converter.convert(span or finding.span))
            outcome = self._plan_finding(
                finding, targets[number], calls, converter, index, Path(path)
            )
            if isinstance(outcome, Refusal):
                reasons[number] = outcome.reason
        covered = [r for plan in self._plans.values() for r in plan.covers]
        for number, finding in enumerate(findings):
            target = targets[number]
            if target in self._plans or (
                target is None and any(_within(converter.convert(finding.span), r) for r in covered)
            ):
                self.rewritten.append(finding)
                continue
            reason = reasons.get(number) or reason_without_fix(finding)
            self.skipped.append(Skipped(finding, reason))
            self.warn(
                f"{path}:{finding.line}:{finding.col + 1}: {finding.code} left as is: {reason}"
            )
        self._attach_notes()
        return tree.visit(self) if self._plans else tree

    def _plan_finding(
        self,
        finding: Finding,
        node: cst.Call | None,
        calls: dict[CharRange, cst.Call],
        converter: SpanConverter,
        index: ModuleIndex,
        path: Path,
    ) -> _Plan | Refusal | None:
        if finding.code not in JOIN_CODES or finding.code == "CSF104":
            return Refusal(reason_without_fix(finding))
        if node is None or not isinstance(node.func, cst.Attribute):
            return Refusal("the finding does not point at a call this fix understands")
        method = node.func.attr.value
        if method in DISPATCH_METHODS:
            # CSF105 on ``other.apply(...)``: fixed when a planned join consumes it.
            return Refusal(
                f"the result of .{method}() is not joined where it is started: .apply() keeps "
                "the task's exception inside the EagerResult, a call would raise it"
            )
        if method not in JOIN_METHODS:
            return Refusal(
                f".{method}() waits for a group, chord or chain: compose the steps with "
                "celery_safe.workflows instead"
            )
        if node in self._plans:
            return None
        return self._plan_join(finding, node, calls, converter, index, path)

    def _plan_join(
        self,
        finding: Finding,
        join: cst.Call,
        calls: dict[CharRange, cst.Call],
        converter: SpanConverter,
        index: ModuleIndex,
        path: Path,
    ) -> _Plan | Refusal:
        method = _join_detail(finding).origin_method
        if method == "send_task":
            return Refusal("the task is named by a string (send_task): there is no code to call")
        if method in ("AsyncResult", "restore") or "AsyncResult" in method:
            return Refusal("the result is rebuilt from an id: the task behind it is unknown here")
        if self._inside_allow_join_result(join):
            return Refusal("inside an allow_join_result() block: remove the block by hand")
        origin = self._origin(finding, join, calls, converter)
        via = list(_join_detail(finding).via)
        if len(via) > 1:
            return Refusal(
                f"the result flows through {' -> '.join(via)}: the tasks are all started "
                "before any is joined, in-process they would run (and fail) at the start; "
                "use celery_safe.workflows.group or rewrite by hand"
            )
        if origin is None:
            return Refusal(
                "the result comes from outside this function (a parameter, a container or "
                "another call): change where the task is started"
            )
        if origin in self._origins:
            return Refusal("another join already waits for the same started task")
        planned = plan_call(origin, join)
        if isinstance(planned, Refusal):
            return planned
        style = self._style(planned, index, path)
        if isinstance(style, Refusal):
            return style
        assert isinstance(join.func, cst.Attribute)
        holder = join.func.value
        removed: cst.SimpleStatementLine | None = None
        if holder is origin:
            pass
        elif isinstance(holder, cst.Name):
            moved = check_move(
                holder,
                origin,
                join,
                self.parent,
                self.scope_of,
            )
            if isinstance(moved, Refusal):
                return moved
            removed = moved
        else:
            return Refusal("the result reaches the join through an expression, not one variable")
        plan = _Plan(finding, join, origin, style, self._statement_of(join), removed)
        plan.covers.append(self._range(join))
        if removed is not None:
            plan.covers.append(self._range(removed))
            self._removed[removed] = plan
        self._plans[join] = plan
        self._origins[origin] = origin
        return plan

    def _range(self, node: cst.CSTNode) -> CharRange:
        where = self.get_metadata(PositionProvider, node)
        return (where.start.line, where.start.column, where.end.line, where.end.column)

    def _origin(
        self,
        finding: Finding,
        join: cst.Call,
        calls: dict[CharRange, cst.Call],
        converter: SpanConverter,
    ) -> cst.Call | None:
        span = _join_detail(finding).origin
        if span is not None:
            return calls.get(converter.convert(span))
        assert isinstance(join.func, cst.Attribute)
        holder = join.func.value
        return holder if isinstance(holder, cst.Call) else None

    def _style(self, planned: InProcessCall, index: ModuleIndex, path: Path) -> CallStyle | Refusal:
        name = dotted_name(planned.task)
        root = _root_name(planned.task)
        if name is None or root is None:
            return Refusal(f"`{cst.Module([]).code_for_node(planned.task)}` is not a task name")
        line = self.get_metadata(PositionProvider, root).start.line
        if not bound_around(root.value, line, index):
            return self._tasks.style(name, path, index)  # why: no scope needed (see there)
        scope = self.scope_of(root)
        assignments = list(scope[root.value]) if scope is not None else []
        if scope is not None and any(a.scope is not scope.globals for a in assignments):
            local = self._local_task(root.value, assignments, index)
            if local is None or name != root.value:
                return Refusal(_local_binding(root.value, assignments))
            return local
        return self._tasks.style(name, path, index)

    def _local_task(
        self, name: str, assignments: list[BaseAssignment], index: ModuleIndex
    ) -> CallStyle | Refusal | None:
        """A task defined inside the enclosing function (a task factory), or None."""
        if len(assignments) != 1 or not isinstance(assignments[0], Assignment):
            return None
        definition = assignments[0].node
        if not isinstance(definition, cst.FunctionDef):
            return None
        line = self.get_metadata(PositionProvider, definition.name).start.line
        for info in index.functions:
            if info.name == name and info.node.lineno == line and info.task is not None:
                return logic_style(info, index)
        return None

    def _inside_allow_join_result(self, node: cst.CSTNode) -> bool:
        current: cst.CSTNode | None = node
        while current is not None:
            if isinstance(current, cst.With) and any(
                isinstance(item.item, cst.Call)
                and (dotted_name(item.item.func) or "").endswith("allow_join_result")
                for item in current.items
            ):
                return True
            current = self.parent_of(current)
        return False

    def _statement_of(self, node: cst.CSTNode) -> cst.CSTNode:
        current = node
        while not isinstance(current, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            current = self.parent(current)
        return current

    # -- notes --------------------------------------------------------------------
    def _attach_notes(self) -> None:
        for plan in self._plans.values():
            target: cst.CSTNode = plan.statement
            while isinstance(target, cst.SimpleStatementLine) and target in self._removed:
                target = self._removed[target].statement
            planned = plan_call(plan.origin, plan.join)
            assert isinstance(planned, InProcessCall)
            notes = self._notes.setdefault(target, [])
            notes.extend(comment_line(f"dropped {option}") for option in planned.dropped)

        for line in sorted(self._removed, key=self._range):
            self._move_leading_lines(line)
        for plan in self._plans.values():
            self._explain_a_stale_wait(plan)

    def _explain_a_stale_wait(self, plan: _Plan) -> None:
        """A comment above the join that speaks of waiting is left as the user wrote it,
        with a note saying the call now runs in-process (once per statement)."""
        statement = plan.statement
        above = [*getattr(statement, "leading_lines", ()), *self._moved_lines.get(statement, ())]
        speaks_of_waiting = any(
            line.comment is not None and _WAITING.search(line.comment.value) for line in above
        )
        notes = self._notes.setdefault(statement, [])
        if speaks_of_waiting and not any(
            n.comment is not None and _IN_PROCESS in n.comment.value for n in notes
        ):
            was = cst.Module([]).code_for_node(plan.join)
            notes.append(comment_line(f"{_IN_PROCESS}: nothing waits on a worker (was `{was}`)"))

    def _move_leading_lines(self, line: cst.SimpleStatementLine) -> None:
        """A removed ``r = other.delay(x)`` keeps its comments on the next statement."""
        suite = self.parent(line)
        body = list(getattr(suite, "body", ()))
        following = next(s for s in body[body.index(line) + 1 :] if s not in self._removed)
        lines = [*line.leading_lines]
        trailing = line.trailing_whitespace.comment
        if trailing is not None:
            lines.append(cst.EmptyLine(comment=trailing))
        self._moved_lines.setdefault(following, []).extend(lines)

    # -- rewriting ----------------------------------------------------------------
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if original_node in self._origins:
            self._origins[original_node] = updated_node
        plan = self._plans.get(original_node)
        if plan is None:
            return updated_node
        origin = self._origins[plan.origin]
        planned = plan_call(origin, updated_node)
        assert isinstance(planned, InProcessCall), "validated while planning"
        func: cst.BaseExpression = planned.task
        if plan.style == "logic":
            func = cst.Attribute(value=func, attr=cst.Name("logic"))
        if planned.reused:
            replacement = origin.with_changes(
                func=func, lpar=updated_node.lpar, rpar=updated_node.rpar
            )
        else:
            replacement = cst.Call(
                func=func, args=planned.args, lpar=updated_node.lpar, rpar=updated_node.rpar
            )
        lost = _comments(original_node) + (_comments(plan.origin) if plan.removed else [])
        kept = set(_comments(replacement))
        for text in dict.fromkeys(lost):
            if text not in kept:
                self._notes.setdefault(plan.statement, []).append(
                    cst.EmptyLine(comment=cst.Comment(text))
                )
        return replacement

    def on_leave(self, original_node: _Node, updated_node: _Node) -> _Node | cst.RemovalSentinel:
        result = super().on_leave(original_node, updated_node)
        if isinstance(original_node, cst.SimpleStatementLine) and original_node in self._removed:
            return cst.RemovalSentinel.REMOVE
        if not isinstance(result, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return result
        extra = list(self._moved_lines.get(original_node, ()))
        extra += self._notes.get(original_node, [])
        if not extra:
            return result
        return result.with_changes(leading_lines=[*result.leading_lines, *extra])


def _within(inner: CharRange, outer: CharRange) -> bool:
    return (inner[0], inner[1]) >= (outer[0], outer[1]) and (inner[2], inner[3]) <= (
        outer[2],
        outer[3],
    )


#: A comment about the old wait ("wait for completion", "block until done"...).
_WAITING = re.compile(r"\b(wait|block|poll|until|complet|finish|done|result|join)", re.I)
_IN_PROCESS = "runs in-process now"


def _local_binding(name: str, assignments: list[BaseAssignment]) -> str:
    """Why a name bound inside the function is not followed to a task, as it is bound."""
    if any(isinstance(a, ImportAssignment) for a in assignments):
        return (
            f"`{name}` is imported inside the function: move the import to the top of the "
            "module so the fix can follow it to the task"
        )
    nodes = [a.node for a in assignments if isinstance(a, Assignment)]
    if any(isinstance(node, cst.Param) for node in nodes):
        return f"`{name}` is a parameter: which task it is, is only known to the caller"
    if len(assignments) > 1:
        return f"`{name}` is bound more than once in the function: which task it is varies"
    return f"`{name}` is a local name (a variable holding a signature or a canvas), not a task"


def _join_detail(finding: Finding) -> JoinDetail:
    """A join finding's detail (an empty one for a finding of another rule)."""
    return finding.detail if isinstance(finding.detail, JoinDetail) else JoinDetail()
