"""CSF405: a queue that tasks are routed to and no live worker consumes (``--inspect``).

Only live workers know what they consume (``celery worker -Q``): this rule judges
only when :func:`check_app` is given their answer to ``inspect active_queues``
(``check_app(app, workers=live_workers(app))``, ``celery-safe check-app --inspect``).
A message on a queue nobody consumes waits on the broker until a worker for it starts,
or until it expires (measured by ``tests/workflows/test_wf_deploy_measure.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from ..canvas.problems import Problem
from .examples import EXAMPLES
from .registry import rule
from .view import AppView


def routed_queues(view: AppView) -> dict[str, list[str]]:
    """queue -> the tasks and beat entries sent to it (where routing is known)."""
    found: dict[str, list[str]] = defaultdict(list)
    for sender, where in view.sent():
        found[where.queue].append(sender)
    return dict(found)


@rule("CSF405", invalid=EXAMPLES["CSF405"].invalid, valid=EXAMPLES["CSF405"].valid)
def queue_without_worker(view: AppView) -> Iterator[Problem]:
    if view.workers is None:
        return  # why we bail: without the live workers' answer, what they consume is unknown
    consumed = frozenset().union(*view.workers.values())
    for queue, senders in sorted(routed_queues(view).items()):
        if queue not in consumed:
            who = ", ".join(senders) if len(senders) <= 3 else (
                f"{senders[0]} and {len(senders) - 1} more")
            facts = {"queue": queue, "senders": who, "workers": len(view.workers)}
            yield Problem.make("CSF405", ("queues", queue), None, facts)
