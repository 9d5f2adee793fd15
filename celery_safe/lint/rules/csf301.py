"""CSF301: ``update_state`` with a failure state and a meta without ``exc_type``.

Detection lives here: an ``on_state`` handler reads the literal meta of each state
update whose state the backend decodes as an exception.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from ..findings import Finding, StateDetail
from ..interp.evaluate import keyword_names
from ..interp.events import Scope, StateEvent, Subscribers
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


#: States whose meta the result backend decodes as an exception.
EXCEPTION_STATES = frozenset({"FAILURE", "RETRY", "REVOKED"})
EVENTS = Subscribers()


@dataclass(frozen=True)
class UpdateState:
    """``update_state`` with a failure state and a literal meta lacking ``exc_type``."""

    node: ast.Call
    state: str
    keys: tuple[str, ...]


@EVENTS.on_state
def record_undecodable_failure(scope: Scope, event: StateEvent) -> None:
    if event.state not in EXCEPTION_STATES or event.meta is None:
        return
    keys = _literal_keys(event.meta)
    if keys is not None and "exc_type" not in keys:
        scope.record("CSF301", UpdateState(event.node, event.state, keys))


def _literal_keys(meta: ast.expr) -> tuple[str, ...] | None:
    """The keys of a literal ``{...}`` or ``dict(...)`` meta (``None``: cannot tell)."""
    if isinstance(meta, ast.Dict):
        keys: list[str] = []
        for key in meta.keys:
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                return None  # ** spread or computed key
            keys.append(key.value)
        return tuple(keys)
    if isinstance(meta, ast.Call) and isinstance(meta.func, ast.Name) and meta.func.id == "dict":
        names = keyword_names(meta.keywords)
        return None if names is None or meta.args else tuple(sorted(names))
    return None


NO_FIX = "put exc_type and exc_message in the FAILURE meta, or raise instead"


@rule(
    "CSF301",
    invalid=INVALID,
    valid=VALID,
    without_tasks=("update_state",),
    events=EVENTS,
    no_fix=NO_FIX,
)
def failure_meta_without_exc_type(report: Report) -> Iterator[Finding]:
    for facts in report.analysis.all_facts():
        for update in facts.found.get("CSF301", ()):
            assert isinstance(update, UpdateState)
            keys = ", ".join(repr(k) for k in update.keys) or "no keys"
            yield report.finding(
                "CSF301",
                update.node,
                function=facts.info if facts.is_task else None,
                detail=StateDetail(update.state, update.keys),
                state=update.state,
                keys=keys,
            )
