"""CSF202: a chord body that cannot accept the list of header results (static)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_WORDS, Report, rule


@rule("CSF202", without_tasks=CANVAS_WORDS, needs_tasks_elsewhere=True)
def chord_body_cannot_take_list(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF202")
