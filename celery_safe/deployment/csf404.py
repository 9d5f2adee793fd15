"""CSF404: priorities the broker ignores.

RabbitMQ orders a queue by priority only when it is declared with ``x-max-priority``
(Celery adds it from ``task_queue_max_priority``); otherwise it delivers in arrival order
whatever the priority, and clamps priorities above the maximum to it. Kombu's Redis
transport clamps priorities to 0-9 and keeps one list per ``priority_steps`` step
(``[0, 3, 6, 9]``): priorities on one step are served in arrival order. Measured by
``tests/workflows/test_wf_deploy_measure.py``. A message without a priority counts as 0.
"""

from __future__ import annotations

from bisect import bisect
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..canvas.problems import Problem
from .examples import EXAMPLES
from .registry import rule
from .view import AMQP_SCHEMES, REDIS_SCHEMES, AppView

#: kombu's Redis ``PRIORITY_STEPS`` and the range its virtual transport clamps to.
REDIS_PRIORITY_STEPS = (0, 3, 6, 9)
REDIS_MAX_PRIORITY = 9


def _steps(view: AppView) -> Sequence[int]:
    steps = view.transport_options.get("priority_steps")
    if isinstance(steps, (list, tuple)) and steps and all(isinstance(s, int) for s in steps):
        return sorted(steps)
    return REDIS_PRIORITY_STEPS


def _level(priority: int, view: AppView, arguments: Mapping[str, Any]) -> int:
    """The priority the broker really orders the message by."""
    if view.scheme in REDIS_SCHEMES:
        steps = _steps(view)
        clamped = max(min(priority, REDIS_MAX_PRIORITY), 0)
        return steps[max(bisect(steps, clamped) - 1, 0)]
    return min(priority, int(arguments["x-max-priority"]))


@rule("CSF404", invalid=EXAMPLES["CSF404"].invalid, valid=EXAMPLES["CSF404"].valid)
def priority_ignored(view: AppView) -> Iterator[Problem]:
    if view.scheme not in AMQP_SCHEMES | REDIS_SCHEMES:
        return
    by_queue: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    unread: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    places: dict[tuple[str, str], tuple[str, str]] = {}
    for sender, where in view.sent():
        priority = where.priority
        if where.given is not None and priority is None:
            if view.scheme in AMQP_SCHEMES:
                continue  # why: py-amqp refuses to send it (struct.error), a loud failure
            priority = _redis_reads(where.given)
            if priority is None:
                key = (where.queue, repr(where.given))
                unread[key][repr(where.given)].append(sender)
                places.setdefault(key, where.place if where.place and not where.routed
                                  else ("queues", where.queue))
                continue
        by_queue[where.queue][0 if priority is None else priority].append(sender)
    for (queue, shown), senders_of in sorted(unread.items()):
        yield _problem(queue, senders_of,
                       "kombu's Redis transport cannot read it as a number and sends it, "
                       "silently, with priority 0 (on Redis the first served)",
                       places[queue, shown])
    for queue, senders in sorted(by_queue.items()):
        arguments: Mapping[str, Any] = {}
        if view.scheme in AMQP_SCHEMES:
            found = view.queue_arguments(queue)
            if found is None:
                continue  # why we bail: Celery refuses the queue before priority matters
            arguments = found
            if "x-max-priority" not in arguments:
                ignored = {priority: names for priority, names in senders.items() if priority}
                if ignored:  # one problem per queue, as the linter reports it at the queue
                    yield _problem(queue, ignored,
                                   "RabbitMQ declares it without x-max-priority and "
                                   "delivers it in arrival order")
                continue
        levels: dict[int, list[int]] = defaultdict(list)
        for priority in senders:
            levels[_level(priority, view, arguments)].append(priority)
        for level, together in sorted(levels.items()):
            if len(together) < 2:
                continue
            broker = ("Redis's priority_steps make" if view.scheme in REDIS_SCHEMES
                      else f"its x-max-priority of {arguments['x-max-priority']} makes")
            yield _problem(queue, {priority: senders[priority] for priority in together},
                           f"{broker} them one level ({level}), served in arrival order")


def _redis_reads(given: Any) -> int | None:
    """The priority kombu's virtual transport reads ``given`` as (``int(given)``, clamped to
    0-9); None when it cannot, and then uses its default, 0, without a word (measured)."""
    try:
        return max(min(int(given), REDIS_MAX_PRIORITY), 0)
    except (TypeError, ValueError, OverflowError):
        return None


def _problem(queue: str, senders: Mapping[Any, list[str]], why: str,
             place: tuple[str, str] | None = None) -> Problem:
    """``priorities 0 (shop.a and 14 more) and 1 (shop.health)``: each priority, who sends it."""
    parts = []
    for priority, names in sorted(senders.items()):
        who = ", ".join(names) if len(names) <= 3 else f"{names[0]} and {len(names) - 1} more"
        parts.append(f"{priority} ({who})")
    shown = f"priorit{'ies' if len(parts) > 1 else 'y'} {' and '.join(parts)}"
    facts = {"queue": queue, "priorities": shown, "why": why}
    return Problem.make("CSF404", place or ("queues", queue), None, facts)
