"""Rules register here with ``@rule("CSF101")``; the catalogue holds everything else.

A rule is a small function reading a :class:`~.analysis.ModuleAnalysis` and yielding
findings through :meth:`Report.finding`, which fills in the catalogue's message.
"""

from __future__ import annotations

import ast
import string
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from .. import catalogue
from .analysis import ModuleAnalysis
from .findings import Finding, Span
from .index import FunctionInfo

__all__ = ["CANVAS_WORDS", "RULES", "Report", "Rule", "format_message", "rule", "span_of"]


@dataclass(frozen=True)
class Report:
    """What a rule needs besides the analysis: where it is, to build findings."""

    analysis: ModuleAnalysis
    path: str

    def finding(
        self,
        code: str,
        node: ast.AST,
        *,
        function: FunctionInfo | None = None,
        detail: Mapping[str, object] | None = None,
        **facts: object,
    ) -> Finding:
        """A finding at ``node``; ``function`` is the task it is in (fills ``{task}``)."""
        return self.make(code, node, function, detail, facts)

    def make(
        self,
        code: str,
        node: ast.AST,
        function: FunctionInfo | None,
        detail: Mapping[str, object] | None,
        facts: dict[str, object],
    ) -> Finding:
        if function is not None:
            facts.setdefault("task", function.label)
        return Finding(
            code=code,
            path=self.path,
            span=span_of(node),
            message=format_message(code, facts),
            task=function.qualname if function is not None else None,
            detail=dict(detail or {}),
        )

    def canvas_findings(self, code: str) -> Iterator[Finding]:
        """Canvas problems of one code, each link reported once however often it is built."""
        seen: set[Span] = set()
        for function in self.analysis.all_facts():
            for problem in function.canvas:
                span = span_of(problem.sig.node)
                if problem.code == code and span not in seen:
                    seen.add(span)
                    detail = {"step": problem.sig.label}
                    yield self.make(code, problem.sig.node, None, detail, dict(problem.facts))


Check = Callable[[Report], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    code: str
    check: Check
    module: str
    #: Words that make the rule relevant in a module that defines no task (the engine
    #: skips other such modules without analysing them).
    without_tasks: tuple[str, ...] = ()
    #: ... but only when tasks imported from other modules can be resolved.
    needs_tasks_elsewhere: bool = False


#: code -> rule, filled by the ``rules`` package's modules as they are imported.
RULES: dict[str, Rule] = {}


#: A canvas of tasks cannot be written without one of these.
CANVAS_WORDS = (".s(", ".si(", ".signature(", ".subtask(")


def rule(
    code: str, *, without_tasks: tuple[str, ...] = (), needs_tasks_elsewhere: bool = False
) -> Callable[[Check], Check]:
    """Register ``check`` as the rule for ``code`` (which must be in the catalogue).

    By default a rule can only report in a module that defines a Celery task;
    ``without_tasks`` lists words whose presence makes it worth running anyway.
    """
    catalogue.get(code)  # fails at import, naming the known codes, if the page is missing

    def register(check: Check) -> Check:
        if code in RULES:
            raise ValueError(
                f"{code} is registered twice ({RULES[code].module}, {check.__module__})"
            )
        RULES[code] = Rule(code, check, check.__module__, without_tasks, needs_tasks_elsewhere)
        return check

    return register


def span_of(node: ast.AST) -> Span:
    line = getattr(node, "lineno", 1)
    col = getattr(node, "col_offset", 0)
    return Span(
        line,
        col,
        getattr(node, "end_lineno", None) or line,
        getattr(node, "end_col_offset", None) or col,
    )


class _Facts(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def format_message(code: str, facts: Mapping[str, object]) -> str:
    """``CSF101 <message>``; a placeholder the rule did not fill stays visible, never crashes."""
    entry = catalogue.get(code)
    try:
        text = string.Formatter().vformat(entry.message, (), _Facts(facts))
    except (ValueError, IndexError, AttributeError):
        text = entry.message
    return f"{code} {text}"
