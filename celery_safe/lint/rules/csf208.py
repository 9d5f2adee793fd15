"""CSF208: an error callback that cannot take what Celery passes it (static front-end of
the canvas model's check: ``link_error=``, ``.on_error()``, ``.link_error()``)."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import CANVAS_WORDS, Report, rule


@rule("CSF208", without_tasks=CANVAS_WORDS, needs_tasks_elsewhere=True)
def error_callback_signature(report: Report) -> Iterator[Finding]:
    yield from report.canvas_findings("CSF208")
