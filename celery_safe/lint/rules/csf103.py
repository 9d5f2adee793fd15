"""CSF103: ``with allow_join_result():`` inside a task."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import Report, rule


@rule("CSF103")
def allow_join_result_in_task(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.task_facts():
        joins = [j for j in facts.joins if j.allowed]
        for call in facts.allow_joins:
            inside = [j for j in joins if j.node.lineno >= call.lineno]
            yield report.finding(
                "CSF103",
                call,
                function=facts.info,
                detail={"joins": [j.method for j in inside]},
            )
