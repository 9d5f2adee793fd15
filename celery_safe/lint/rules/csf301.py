"""CSF301: ``update_state`` with a failure state and a meta without ``exc_type``."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding
from ..registry import Report, rule

INVALID = (
    """\
from celery import Celery, states
from celery.exceptions import Ignore

app = Celery("shop")


@app.task(bind=True)
def sync(self, slug):
    if not slug:
        self.update_state(state=states.FAILURE, meta={"reason": "repo not found"})
        raise Ignore()
    return slug
""",
)

VALID = (
    """\
from celery import Celery, states
from celery.exceptions import Ignore

app = Celery("shop")


@app.task(bind=True)
def sync(self, slug):
    if not slug:
        self.update_state(
            state=states.FAILURE,
            meta={"exc_type": "LookupError", "exc_message": ["repo not found"]},
        )
        raise Ignore()
    return slug
""",
)


@rule("CSF301", invalid=INVALID, valid=VALID, without_tasks=("update_state",))
def failure_meta_without_exc_type(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.all_facts():
        for update in facts.update_states:
            keys = ", ".join(repr(k) for k in update.keys) or "no keys"
            yield report.finding(
                "CSF301",
                update.node,
                function=facts.info if facts.is_task else None,
                detail={"state": update.state, "keys": update.keys},
                state=update.state,
                keys=keys,
            )
