"""CSF103: ``with allow_join_result():`` inside a task."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import Report, rule, span_of


@rule("CSF103")
def allow_join_result_in_task(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.task_facts():
        for call in facts.allow_joins:
            inside = [span_of(j.node) for j in facts.joins if j.allowed_by is call]
            yield report.finding("CSF103", call, function=facts.info, detail={"joins": inside})
