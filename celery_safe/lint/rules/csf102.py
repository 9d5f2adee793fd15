"""CSF102: ``disable_sync_subtasks=False`` on a join inside a task."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..joins import call_text
from ..registry import Report, rule, span_of


@rule("CSF102")
def sync_subtasks_enabled(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.task_facts():
        for call, keyword in facts.disable_sync:
            yield report.finding(
                "CSF102",
                keyword,
                function=facts.info,
                detail={"join_span": span_of(call)},
                call=call_text(call),
            )
