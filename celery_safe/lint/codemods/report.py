"""What a fix run says about the findings it leaves alone, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..findings import Finding, JoinDetail

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

#: The codes of joins the join rewrite acts on (CSF104's join is in a helper: refused).
JOIN_CODES = frozenset({"CSF101", "CSF104", "CSF105"})

#: Every comment a codemod writes starts with this, so a reader can find them all.
NOTE_PREFIX = "# celery-safe: "

#: Why a code has no automatic rewrite, and what to do instead.
NO_FIX: dict[str, str] = {
    "CSF102": "disable_sync_subtasks=False goes away with its join; that join could not be "
    "rewritten (see the CSF101 on the same line)",
    "CSF103": "allow_join_result() hides joins from Celery: rewrite the joins inside, then "
    "remove the block by hand",
    "CSF104": "the join is inside a helper the task calls: make the helper call the "
    "task's logic (`other.logic(...)`) instead of starting it and waiting",
    "CSF105": "the .apply() result is not joined where it is started",
    "CSF201": "choose between .si() and accepting the parent's result by hand",
    "CSF202": "make the chord body accept the list of header results by hand",
    "CSF203": "configure a result backend that supports chords",
    "CSF204": "drop ignore_result=True from the header/body task",
    "CSF301": "put exc_type and exc_message in the FAILURE meta, or raise instead",
}


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
    reason = NO_FIX.get(finding.code, f"{finding.code} has no automatic fix")
    detail = finding.detail if isinstance(finding.detail, JoinDetail) else JoinDetail()
    call_path = detail.call_path
    if finding.code == "CSF104" and detail.joins == "argument":
        reason = (
            "the join is inside a helper the task calls, and the result reaches it as an "
            "argument: let the helper take the value and start the task in-process"
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
