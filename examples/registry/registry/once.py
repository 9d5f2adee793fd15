"""``replace_once``: ``Task.replace`` that a redelivered message does not do twice.

With ``task_acks_late`` a message is acknowledged after its task returns. A task that
replaced itself has sent its replacement by then; if its worker dies before the ack
reaches the broker, the same message (the same task id) is delivered again, and the
task would send a *second* replacement. For ``launch_enhancements`` that was a second
chord over the bundles still pending (the first chord had not enhanced them yet): every
bundle enhanced by one chord and "skipped" by the other, two bodies for one run.

So the replacing task marks its own id ``REPLACED`` in the result backend right after
the replacement is sent, and a delivery that finds its id marked (or already finished
by the replacement's body, which inherits the id) sends nothing. What remains is the
instant between the send and the mark: a worker killed exactly then still sends twice.
"""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.canvas import Signature, chord, group
from celery.exceptions import Ignore
from celery.states import READY_STATES

__all__ = ["REPLACED", "already_replaced", "replace_once"]

#: The state a task's id holds between its replacement being sent and that
#: replacement's body finishing (the trace shows the step as under way).
REPLACED = "REPLACED"


def already_replaced(task: Task) -> bool:
    """Did an earlier delivery of this task's message already send its replacement?"""
    if task.request.is_eager or not task.request.id:
        return False  # in-process: there is no earlier delivery
    state = task.AsyncResult(task.request.id).state
    return state == REPLACED or state in READY_STATES


def replace_once(task: Task, replacement: Signature, note: dict[str, Any]) -> Any:
    """``task.replace(replacement)``, then mark the task's id ``REPLACED`` with ``note``
    and, for a chord, the ids of its header's tasks (``parts``): a reader counts how many
    are done (:func:`registry.runs.observe_run`) while the chord runs.

    Call :func:`already_replaced` first, at the top of the task: a redelivery then ends
    before it does anything.
    """
    try:
        return task.replace(replacement)
    except Ignore:  # Celery's "replaced": the replacement, frozen, is on the broker now
        header: Any = replacement.tasks if isinstance(replacement, chord) else ()
        if isinstance(header, group):  # freezing a chord made its header a group
            header = header.tasks
        parts = [str(part.id) for part in header if getattr(part, "id", None)]
        task.update_state(state=REPLACED, meta={**note, "parts": parts})
        raise
