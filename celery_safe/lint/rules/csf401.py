"""CSF401, statically: ``celery_safe.deployment.csf401`` judges an app whose configuration
the source writes literally (see ``lint.deploy``); its examples are that rule's."""

from __future__ import annotations

from collections.abc import Iterator

from ...deployment.examples import EXAMPLES
from ..deploy import APP_WORDS, deployment_findings
from ..findings import Finding
from ..registry import Report, rule

NO_FIX = "a configuration change: see the page's fix"


@rule("CSF401", invalid=EXAMPLES["CSF401"].invalid,
      valid=EXAMPLES["CSF401"].valid,
      without_tasks=APP_WORDS, needs_tasks_elsewhere=False, no_fix=NO_FIX)
def static_csf401(report: Report) -> Iterator[Finding]:
    yield from deployment_findings(report, "CSF401")
