"""CSF401: a task may hold its message longer than Redis's ``visibility_timeout``.

Kombu's Redis transport keeps a delivered message in ``unacked`` until it is acknowledged;
any consumer's sweep (at start, then periodically) puts back every message held longer
than ``visibility_timeout``, though its worker is alive and still holds it. A countdown
or ETA is held unacknowledged until it is due, an ``acks_late`` task until it finishes:
past the timeout both are delivered again and run twice (measured on Celery 5.3-5.7 by
``tests/workflows/test_wf_deploy_measure.py``). Only the Redis transport is judged: the
embedded broker renews what a live worker holds, and RabbitMQ has no such timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Real
from typing import Any

from celery import Task

from ..canvas.problems import Problem
from .examples import EXAMPLES
from .registry import rule
from .view import REDIS_SCHEMES, AppView

#: kombu's Redis ``Channel.visibility_timeout``.
REDIS_DEFAULT_VISIBILITY_TIMEOUT = 3600.0


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    return float(value)


def _held(task: Task, conf: Any) -> Iterator[tuple[float, str]]:
    """How long ``task``'s message may be held unacknowledged, and why."""
    if getattr(task, "acks_late", False):
        # the worker applies task_time_limit to a task without its own (Celery < 5.7
        # leaves the task's attribute None; 5.7 copies the setting onto it)
        hard = _seconds(task.time_limit if task.time_limit is not None else conf.task_time_limit)
        soft = _seconds(task.soft_time_limit if task.soft_time_limit is not None
                        else conf.task_soft_time_limit)
        if hard is not None:
            yield hard, "acks_late and time_limit"
        elif soft is not None:
            yield soft, "acks_late and soft_time_limit"
    if getattr(task, "autoretry_for", ()):
        # each retry is a message with a countdown, held until it is due
        if not getattr(task, "retry_backoff", False):
            delay = _seconds(task.default_retry_delay)
            if delay is not None:
                yield delay, "autoretry_for and default_retry_delay"
        elif not getattr(task, "retry_jitter", True):
            factor = _seconds(task.retry_backoff) if task.retry_backoff is not True else 1.0
            ceiling = _seconds(getattr(task, "retry_backoff_max", 600))
            retries = task.max_retries
            if factor is not None and ceiling is not None and isinstance(retries, int):
                longest = min(ceiling, factor * 2 ** max(retries - 1, 0))
                yield longest, "autoretry_for and retry_backoff"


@rule("CSF401", invalid=EXAMPLES["CSF401"].invalid, valid=EXAMPLES["CSF401"].valid)
def held_past_visibility_timeout(view: AppView) -> Iterator[Problem]:
    if view.scheme not in REDIS_SCHEMES:
        return  # why we bail: only Redis restores messages a live worker still holds
    timeout = _seconds(view.transport_options.get("visibility_timeout"))
    timeout = REDIS_DEFAULT_VISIBILITY_TIMEOUT if timeout is None else timeout
    for name, task in view.tasks.items():
        longest = max(_held(task, view.conf), default=None)
        if longest is not None and longest[0] > timeout:
            yield _problem(("tasks", name), name, longest, timeout)
    for index, (task_name, sent_with) in enumerate(view.sends()):
        if sent_with > timeout:
            held = (sent_with, "a countdown where it is sent")
            yield _problem(("sends", str(index)), task_name, held, timeout)
    for entry_name, entry in view.beat_entries.items():
        countdown = _seconds(entry.get("options", {}).get("countdown"))
        if countdown is not None and countdown > timeout:
            path = ("beat_schedule", entry_name)
            held = (countdown, "a countdown in its beat entry")
            yield _problem(path, entry["task"], held, timeout)


def _problem(path: tuple[str, ...], task: str, held: tuple[float, str], timeout: float) -> Problem:
    return Problem.make(
        "CSF401", path, task, {"held": f"{held[0]:g}", "why": held[1], "timeout": f"{timeout:g}"}
    )
