"""``ChainSequentialJoins`` (``--chains``): fire-then-wait steps become one chain.

    a.delay().get()                          celery_safe.workflows.chain(
    b.apply(kwargs={"limit": 500}).get()  ->     a.si(),
    return "done"                                b.si(limit=500),
                                             ).apply_async()
                                             return "done"

Only where the task provably does not need the steps: a run of at least two join
statements directly in the task's body, followed by nothing but ``return`` of a plain
value (or the end of the function). A step's value may feed the *next* step only, as
its first positional argument: that step becomes an accepting ``.s(...)``; every other
step is immutable ``.si(...)`` — never the broken all-``.s()`` chain. The task now
returns before the steps finish, which is why this mode is explicit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import PositionProvider

from ..findings import Finding, JoinDetail
from ..interp.index import ModuleIndex
from .driven import FindingsCodemod
from .inline_joins import JOIN_CODES, dotted_name
from .inprocess import DISPATCH_METHODS, JOIN_METHODS, InProcessCall, Refusal, is_pure, plan_call
from .positions import SpanConverter, index_calls
from .report import comment_line
from .taskdefs import ProjectTasks

__all__ = ["ChainSequentialJoins"]

#: Join options that only governed the waiting this task no longer does.
MOOT_FOR_CHAIN = frozenset({"timeout", "interval", "no_ack", "disable_sync_subtasks", "propagate"})


@dataclass(frozen=True)
class _Step:
    statement: cst.SimpleStatementLine
    finding: Finding
    planned: InProcessCall
    result_name: str | None  # ``v`` in ``v = a.delay().get()``


def _indented(last: str) -> cst.ParenthesizedWhitespace:
    return cst.ParenthesizedWhitespace(
        first_line=cst.TrailingWhitespace(),
        indent=True,
        last_line=cst.SimpleWhitespace(last),
    )


class ChainSequentialJoins(FindingsCodemod):
    """Turn a task's trailing fire-then-wait steps into ``celery_safe.workflows.chain``."""

    DESCRIPTION = (
        "celery-safe --chains: sequential `a.delay().get(); b.delay().get()` steps at the end "
        "of a task become celery_safe.workflows.chain(a.si(), b.si()).apply_async()."
    )

    def __init__(
        self,
        context: CodemodContext,
        findings: Sequence[Finding] | None = None,
        tasks: ProjectTasks | None = None,
        text: str | None = None,
    ) -> None:
        super().__init__(context, findings, tasks, text)
        self._joins: dict[cst.Call, Finding] = {}
        self._index: ModuleIndex | None = None
        #: runs turned into chains, and the findings they resolved
        self.chained = 0
        self.rewritten: list[Finding] = []

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        findings = self.findings_for(tree)
        self._index = self.module_index(tree)
        converter = SpanConverter(self.source_code(tree))
        calls = index_calls(self.metadata[PositionProvider])  # type: ignore[arg-type]
        for finding in findings:
            detail = finding.detail
            span = detail.join_span if isinstance(detail, JoinDetail) else None
            span = span or finding.span
            if finding.code in JOIN_CODES:
                node = calls.get(converter.convert(span))
                if node is not None:
                    self._joins[node] = finding
        return tree.visit(self) if self._joins else tree

    def _step(self, statement: cst.BaseStatement) -> _Step | None:
        if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
            return None
        small = statement.body[0]
        name: str | None = None
        if isinstance(small, cst.Expr):
            join = small.value
        elif m.matches(small, m.Assign(targets=[m.AssignTarget(target=m.Name())])):
            assert isinstance(small, cst.Assign)
            join = small.value
            name = small.targets[0].target.value  # type: ignore[attr-defined]
        else:
            return None
        if not isinstance(join, cst.Call) or join not in self._joins:
            return None
        func = join.func
        if not (isinstance(func, cst.Attribute) and func.attr.value in JOIN_METHODS):
            return None
        origin = func.value
        if not isinstance(origin, cst.Call):
            return None
        if any(a.keyword is not None and a.keyword.value not in MOOT_FOR_CHAIN for a in join.args):
            return None
        planned = plan_call(origin, None)
        if isinstance(planned, Refusal) or planned.dropped:
            return None  # why bail: routing options keep their meaning in a chain
        if not all(is_pure(a.value) for a in planned.args) or not self._is_task(planned.task):
            return None
        assert isinstance(origin.func, cst.Attribute)
        if origin.func.attr.value not in DISPATCH_METHODS:
            return None
        return _Step(statement, self._joins[join], planned, name)

    def _is_task(self, task: cst.BaseExpression) -> bool:
        """A module-level or imported task (a local name may be a signature or canvas)."""
        name, root = dotted_name(task), task
        while isinstance(root, cst.Attribute):
            root = root.value
        if name is None or not isinstance(root, cst.Name) or self._index is None:
            return False
        scope = self.scope_of(root)
        if scope is None or any(a.scope is not scope.globals for a in scope[root.value]):
            return False
        found = self._tasks.find(name, Path(self.path), self._index)
        return not isinstance(found, Refusal)

    def _runs(self, body: Sequence[cst.BaseStatement]) -> tuple[int, list[_Step]] | None:
        """The trailing run of steps in a task body, if what follows cannot observe it."""
        end = len(body)
        if end and m.matches(body[-1], m.SimpleStatementLine(body=[m.Return()])):
            returned = body[-1].body[0].value  # type: ignore[attr-defined]
            if returned is not None and not is_pure(returned):
                return None
            end -= 1
        steps: list[_Step] = []
        start = end
        while start > 0:
            step = self._step(body[start - 1])
            if step is None:
                break
            steps.insert(0, step)
            start -= 1
        if len(steps) < 2:
            return None
        return start, steps

    def _feeds(self, steps: list[_Step], returned: cst.CSTNode | None) -> list[bool] | None:
        """Which steps take their parent's value; ``None`` when a value is used elsewhere."""
        feeds = [False] * len(steps)
        for number, step in enumerate(steps):
            if step.result_name is None:
                continue
            if number + 1 == len(steps):
                return None  # why bail: the last value would be read after the chain
            following = steps[number + 1].planned.args
            first = following[0] if following else None
            uses = [n for s in steps for n in m.findall(s.statement, m.Name(step.result_name))]
            if returned is not None and m.findall(returned, m.Name(step.result_name)):
                return None
            is_first = (
                first is not None
                and first.keyword is None
                and not first.star
                and m.matches(first.value, m.Name(step.result_name))
            )
            if not is_first or len(uses) != 2:
                return None
            feeds[number + 1] = True
        return feeds

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        body = original_node.body
        if not isinstance(body, cst.IndentedBlock):
            return updated_node
        found = self._runs(body.body)
        if found is None:
            return updated_node
        start, steps = found
        if any(
            (s.finding.task or "").rpartition(".")[2] != original_node.name.value for s in steps
        ):
            return updated_node  # why bail: the joins belong to an enclosing task, not this def
        tail = body.body[start + len(steps) :]
        feeds = self._feeds(steps, tail[0] if tail else None)
        if feeds is None:
            return updated_node
        signatures: list[cst.Arg] = []
        for number, (step, fed) in enumerate(zip(steps, feeds, strict=True)):
            args = list(step.planned.args[1:] if fed else step.planned.args)
            args = [a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in args]
            signature = cst.Call(
                func=cst.Attribute(value=step.planned.task, attr=cst.Name("s" if fed else "si")),
                args=args,
            )
            last = number + 1 == len(steps)
            signatures.append(
                cst.Arg(
                    signature, comma=cst.Comma(whitespace_after=_indented("" if last else "    "))
                )
            )
        chain = cst.Call(
            func=cst.Attribute(
                value=cst.Attribute(value=cst.Name("celery_safe"), attr=cst.Name("workflows")),
                attr=cst.Name("chain"),
            ),
            args=signatures,
            whitespace_before_args=_indented("    "),
        )
        started = cst.Call(func=cst.Attribute(value=chain, attr=cst.Name("apply_async")))
        notes = [line for s in steps for line in s.statement.leading_lines]
        notes.append(comment_line("these steps run as a chain after this task returns"))
        replacement = cst.SimpleStatementLine(body=[cst.Expr(started)], leading_lines=notes)
        new_body = [
            *updated_node.body.body[:start],
            replacement,
            *updated_node.body.body[start + len(steps) :],
        ]
        AddImportsVisitor.add_needed_import(self.context, "celery_safe.workflows")
        self.chained += 1
        self.rewritten += [s.finding for s in steps]
        return updated_node.with_changes(body=updated_node.body.with_changes(body=new_body))
