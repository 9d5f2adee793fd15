"""CSF104: a join reached through a helper function that a task calls."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..joins import call_text, join_detail
from ..registry import Report, rule, span_of


@rule("CSF104")
def join_through_helper(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.task_facts():
        assert facts.info is not None
        for reached in report.analysis.helper_joins(facts):
            names = [facts.info.label, *(f.label for f in reached.path)]
            detail = join_detail(reached.join)
            detail["call_path"] = tuple(names)
            detail["helper_call"] = span_of(reached.call.node)
            yield report.finding(
                "CSF104",
                reached.call.node,
                function=facts.info,
                detail=detail,
                path=" -> ".join(names),
                call=call_text(reached.join.node),
                line=reached.join.node.lineno,
            )
