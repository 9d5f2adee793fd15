"""CSF204: a chord header or body task with ``ignore_result=True`` (static)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_WORDS, Report, rule


@rule("CSF204", without_tasks=CANVAS_WORDS, needs_tasks_elsewhere=True)
def ignore_result_in_chord(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF204")
