"""CSF403, statically: ``celery_safe.deployment.csf403`` judges an app whose configuration
the source writes literally (see ``lint.deploy``); its examples are that rule's."""

from __future__ import annotations

from collections.abc import Iterator

from ...deployment.examples import EXAMPLES
from ..deploy import APP_WORDS, deployment_findings
from ..findings import Finding
from ..registry import Report, rule

NO_FIX = "a configuration change: see the page's fix"


@rule("CSF403", invalid=EXAMPLES["CSF403"].invalid,
      valid=EXAMPLES["CSF403"].valid,
      without_tasks=APP_WORDS, needs_tasks_elsewhere=False, no_fix=NO_FIX)
def static_csf403(report: Report) -> Iterator[Finding]:
    yield from deployment_findings(report, "CSF403")
