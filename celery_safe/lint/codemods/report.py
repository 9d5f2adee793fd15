"""What a fix run says about the findings it leaves alone, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import rules as _rules  # noqa: F401  (importing registers every rule)
from ..findings import Finding, JoinDetail
from ..registry import RULES

if TYPE_CHECKING:
    import libcst as cst

__all__ = [
    "JOIN_CODES",
    "NOTE_PREFIX",
    "Refusal",
    "Skipped",
    "comment_line",
    "find_findings",
    "reason_without_fix",
]

#: The codes of joins the join rewrite acts on (CSF104's join is in a helper: refused);
#: each rule says so itself.
JOIN_CODES = frozenset(code for code, entry in RULES.items() if entry.rewrites_joins)

#: Every comment a codemod writes starts with this, so a reader can find them all.
NOTE_PREFIX = "# celery-safe: "

@dataclass(frozen=True)
class Refusal:
    """Why a join is left as it is."""

    reason: str


@dataclass(frozen=True)
class Skipped:
    """A finding the codemods left alone."""

    finding: Finding
    reason: str

    def format(self) -> str:
        f = self.finding
        return f"{f.path}:{f.line}:{f.col + 1}: {f.code} not fixed: {self.reason}"


def reason_without_fix(finding: Finding) -> str:
    entry = RULES.get(finding.code)
    reason = (entry.no_fix if entry else "") or f"{finding.code} has no automatic fix"
    detail = finding.detail if isinstance(finding.detail, JoinDetail) else JoinDetail()
    call_path = detail.call_path
    if finding.code == "CSF104" and detail.joins == "argument":
        reason = (
            "the join is inside a helper the task calls, and the result reaches it as an "
            "argument: let the helper take the value and start the task in-process"
        )
    if finding.code == "CSF104" and detail.join == "busy-wait":
        reason = (
            "the helper polls a result in a loop until it is done: let Celery run what "
            "comes next (a chain, or a chord whose body gets the results), or call the "
            "other task's logic in-process"
        )
    if finding.code == "CSF104" and call_path:
        reason += f" ({' -> '.join(str(p) for p in call_path)})"
    return reason


def comment_line(note: str) -> cst.EmptyLine:
    """A comment line above a rewritten statement, indented like it."""
    import libcst as cst  # why here: a fix run that rewrites nothing never loads libcst

    return cst.EmptyLine(comment=cst.Comment(NOTE_PREFIX + note))


def find_findings(source: str, path: str) -> list[Finding]:
    """The lint engine's findings, as ``celery-safe check`` reports them (with tasks
    imported from the project's other modules resolved); imported late."""
    from pathlib import Path

    from ..engine import check_source
    from ..resolve import ModuleResolver

    file = Path(path)
    elsewhere = ModuleResolver().for_file(file) if file.is_file() else None
    return list(check_source(source, path, tasks_elsewhere=elsewhere))
