"""CSF201: a chain link or callback that cannot accept the parent's result (static)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_WORDS, Report, rule


@rule("CSF201", without_tasks=CANVAS_WORDS, needs_tasks_elsewhere=True)
def link_cannot_take_parent_result(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF201")
