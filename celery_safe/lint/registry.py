"""Rules register here with ``@rule("CSF101")``; the catalogue holds everything else.

A rule is handlers on the interpreter's events (its detection: they record facts) and
a small function reading what they recorded in a :class:`~.analysis.ModuleAnalysis`,
yielding findings through :meth:`Report.finding`, which fills in the catalogue's
message. The canvas rules share one recorder (:data:`CANVAS_EVENTS`).
"""

from __future__ import annotations

import ast
import string
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import catalogue
from ..canvas import UNKNOWN, Problem, render_path
from .findings import CanvasDetail, Detail, Finding, Span
from .interp.analysis import ModuleAnalysis
from .interp.canvas import CanvasCheck
from .interp.events import Scope, Subscribers
from .interp.facts import FunctionFacts
from .interp.index import FunctionInfo

__all__ = [
    "CANVAS_EVENTS",
    "CANVAS_WORDS",
    "RULES",
    "Report",
    "Rule",
    "format_message",
    "rule",
    "span_of",
]

#: key of the canvases the canvas rules' handler records in ``FunctionFacts.found``
CANVASES = "canvases"


def record_canvas(scope: Scope, checked: CanvasCheck) -> None:
    scope.record(CANVASES, checked)


#: What every canvas rule (CSF2xx) subscribes: the canvases built, checked by the model.
CANVAS_EVENTS = Subscribers()
CANVAS_EVENTS.on_canvas(record_canvas)


@dataclass(frozen=True)
class Report:
    """What a rule needs besides the analysis: where it is, to build findings."""

    analysis: ModuleAnalysis
    path: str
    #: what rules of one family compute once per module (the outermost canvases)
    shared: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def finding(
        self,
        code: str,
        node: ast.AST,
        *,
        function: FunctionInfo | None = None,
        detail: Detail = None,
        **facts: object,
    ) -> Finding:
        """A finding at ``node``; ``function`` is the task it is in (fills ``{task}``)."""
        return self.make(code, node, function, detail, facts)

    def make(
        self,
        code: str,
        node: ast.AST,
        function: FunctionInfo | None,
        detail: Detail,
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
            detail=detail,
        )

    def canvas_findings(
        self, code: str, keep: Callable[[CanvasCheck, Problem], bool] | None = None
    ) -> Iterator[Finding]:
        """Canvas problems of one code (those ``keep`` keeps), from the canvas model's checks.

        A canvas nested in another one built in the source (``chain(a.s(), group(...))``)
        is checked again as part of the whole, which knows what it receives: only the
        outermost canvases are reported, and each step once.
        """
        seen: set[tuple[Span, str]] = set()
        if CANVASES not in self.shared:  # once per module, for every canvas rule
            self.shared[CANVASES] = outermost(self.analysis.all_facts())
        for checked in self.shared[CANVASES]:
            for problem in checked.problems:
                origin = problem.origin if isinstance(problem.origin, ast.AST) else checked.root
                span = span_of(origin)
                if problem.code != code or (span, code) in seen:
                    continue
                if keep is not None and not keep(checked, problem):
                    continue
                seen.add((span, code))
                yield Finding(
                    code=code,
                    path=self.path,
                    span=span,
                    message=f"{code} {problem.message}",
                    task=None,
                    detail=CanvasDetail(render_path(problem.path), problem.fix),
                )


def outermost(functions: Iterable[FunctionFacts]) -> list[CanvasCheck]:
    """The canvases not nested in another one; of two built at the same place, the one
    that knows what it receives (a callback) wins."""
    checks = [checked for facts in functions for checked in facts.found.get(CANVASES, ())]
    checks.sort(key=lambda c: (_start(c.root), _negated_end(c.root), c.receives is UNKNOWN))
    kept: list[CanvasCheck] = []
    end: tuple[int, int] = (0, -1)
    for checked in checks:
        if kept and _end(checked.root) <= end:
            continue  # inside the last canvas kept
        kept.append(checked)
        end = _end(checked.root)
    return kept


def _start(node: ast.AST) -> tuple[int, int]:
    span = span_of(node)
    return span.line, span.col


def _end(node: ast.AST) -> tuple[int, int]:
    span = span_of(node)
    return span.end_line, span.end_col


def _negated_end(node: ast.AST) -> tuple[int, int]:
    line, col = _end(node)
    return -line, -col


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
    #: Whole modules that give exactly this rule's code, and modules that give nothing;
    #: the first of each are the page's Example and Use instead (see ``lint.docs``).
    invalid: tuple[str, ...] = ()
    valid: tuple[str, ...] = ()
    #: Codes an invalid example gives besides this one, by design (two defects in one
    #: example; one defect under two codes is one finding: see ``supersede``).
    also: tuple[str, ...] = ()
    #: The interpreter's events the rule's detection subscribes to (only enabled rules'
    #: handlers run).
    events: Subscribers = field(default_factory=Subscribers)
    #: Its findings are joins ``celery-safe fix`` may rewrite (from their ``JoinDetail``).
    rewrites_joins: bool = False
    #: Why a finding is left as it is, and what to do instead (``celery-safe fix``).
    no_fix: str = ""
    #: Its findings are read from tasks and what they run only (``task_facts``): its
    #: handlers are not raised in the walks of the module's other functions.
    tasks_only: bool = False


#: code -> rule, filled by the ``rules`` package's modules as they are imported.
RULES: dict[str, Rule] = {}


#: A canvas of tasks cannot be written without one of these.
#: (``.map(`` is not one: it is everywhere, and a task's ``.map`` in a module without
#: tasks is rare; such a module is still checked when it also makes a signature)
CANVAS_WORDS = (".s(", ".si(", ".signature(", ".subtask(", ".starmap(", ".chunks(", "xmap(")


def rule(
    code: str,
    *,
    invalid: Sequence[str],
    valid: Sequence[str],
    also: tuple[str, ...] = (),
    without_tasks: tuple[str, ...] = (),
    needs_tasks_elsewhere: bool = False,
    events: Subscribers | None = None,
    rewrites_joins: bool = False,
    no_fix: str = "",
    tasks_only: bool = False,
) -> Callable[[Check], Check]:
    """Register ``check`` as the rule for ``code`` (which must be in the catalogue).

    ``invalid`` and ``valid`` are the rule's examples (Fixit's VALID/INVALID): whole
    modules that must give exactly ``code``, and look-alikes that must give nothing.
    By default a rule can only report in a module that defines a Celery task;
    ``without_tasks`` lists words whose presence makes it worth running anyway.
    ``events`` are the rule's handlers on the interpreter's events (its own detection);
    ``rewrites_joins`` and ``no_fix`` are its fixability (see ``Rule``). ``tasks_only``:
    it reads only what tasks run, so its handlers skip the walks of other functions.
    """
    if not invalid or not valid:
        raise ValueError(f"{code}: a rule needs at least one invalid and one valid example")
    catalogue.get(code)  # fails at import, naming the known codes, if the page is missing

    def register(check: Check) -> Check:
        if code in RULES:
            raise ValueError(
                f"{code} is registered twice ({RULES[code].module}, {check.__module__})"
            )
        RULES[code] = Rule(
            code,
            check,
            check.__module__,
            without_tasks,
            needs_tasks_elsewhere,
            tuple(_dedent(e) for e in invalid),
            tuple(_dedent(e) for e in valid),
            also,
            events or Subscribers(),
            rewrites_joins,
            no_fix,
            tasks_only,
        )
        return check

    return register


def _dedent(example: str) -> str:
    return textwrap.dedent(example).strip("\n") + "\n"


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
