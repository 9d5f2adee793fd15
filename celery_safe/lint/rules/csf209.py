"""CSF209: a chain step after a chord whose body is a group (static front-end of the
canvas model's check)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_WORDS, Report, rule


@rule("CSF209", without_tasks=CANVAS_WORDS, needs_tasks_elsewhere=True)
def step_after_group_bodied_chord(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF209")
