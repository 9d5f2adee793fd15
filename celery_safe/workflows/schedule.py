"""``validate_schedule(app)``: every ``beat_schedule`` entry checked before beat runs it.

Each entry is the signature beat will send (``app.signature(task, args, kwargs,
options)``), checked by the canvas model like any workflow step — registered (CSF206,
with "did you mean"), arguments that bind (CSF205) and serialise (CSF207) — plus what
only a schedule has (CSF213): a ``schedule`` beat understands and options
``apply_async`` takes. :func:`check_schedule_on_beat` runs it when beat starts, so a
wrong entry stops beat at once instead of failing silently when it is due.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from celery import Celery
from celery.schedules import BaseSchedule

from ..canvas import Path, Problem, WorkflowError, check
from .validate import describe

__all__ = ["APPLY_OPTIONS", "check_schedule_on_beat", "validate_schedule"]

logger = logging.getLogger(__name__)

#: Options ``apply_async`` takes that a schedule entry may pass on.
APPLY_OPTIONS = frozenset(
    {
        "queue", "exchange", "routing_key", "priority", "expires", "countdown", "serializer",
        "compression", "headers", "time_limit", "soft_time_limit", "ignore_result",
        "retry", "retry_policy", "shadow", "link", "link_error", "add_to_parent",
        "publisher", "producer", "delivery_mode", "mandatory", "immediate",
    }
)  # fmt: skip
_ENTRY_KEYS = frozenset({"task", "schedule", "args", "kwargs", "options", "relative"})


def validate_schedule(app: Celery, *, ignore: Collection[str] = ()) -> list[Problem]:
    """Every problem of ``app.conf.beat_schedule``, entry by entry.

    assert validate_schedule(app) == []
    """
    ignored = frozenset(code.upper() for code in ignore)
    # the task modules beat and workers import (``include``, ``imports``): their tasks
    # are the registered ones
    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule or {}
    if not isinstance(schedule, Mapping):
        return _invalid(("beat_schedule",), "beat_schedule is not a mapping of entries", ignored)
    problems: list[Problem] = []
    for name, entry in schedule.items():
        path: Path = ("beat_schedule", str(name))
        reason = _entry_problem(entry)
        if reason is not None:
            problems += _invalid(path, reason, ignored)
            continue
        signature = app.signature(
            entry["task"],
            args=tuple(entry.get("args") or ()),
            kwargs=dict(entry.get("kwargs") or {}),
            options=dict(entry.get("options") or {}),
        )
        # beat calls the task with exactly these arguments: nothing is prepended
        problems += check(
            describe(signature, app),
            receives=None,
            ignore=ignored,
            path=path,
            backend=None,
        )
    return problems


def check_schedule_on_beat(app: Celery) -> None:
    """Make ``celery beat`` for ``app`` refuse to start while its schedule has problems."""
    from celery.signals import beat_init

    def on_beat_init(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", app) is not app:
            return
        problems = validate_schedule(app)
        if problems:
            error = WorkflowError(problems, "beat_schedule")
            logger.critical("%s", error)
            # SystemExit passes through Celery's signal dispatch (it logs Exceptions)
            raise SystemExit(f"celery-safe: {error}")

    beat_init.connect(on_beat_init, weak=False)


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, Mapping):
        return f"an entry must be a mapping, not {type(entry).__name__}"
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        return f"unknown key(s) {', '.join(map(repr, unknown))}"
    if not isinstance(entry.get("task"), str) or not entry["task"]:
        return "'task' must be a task's registered name"
    if "schedule" not in entry:
        return "it has no 'schedule'"
    reason = _schedule_problem(entry["schedule"])
    if reason is not None:
        return reason
    if not isinstance(entry.get("args", ()), (list, tuple)):
        return f"'args' must be a list or a tuple, not {type(entry['args']).__name__}"
    if not isinstance(entry.get("kwargs", {}), Mapping):
        return f"'kwargs' must be a dict, not {type(entry['kwargs']).__name__}"
    options = entry.get("options", {})
    if not isinstance(options, Mapping):
        return f"'options' must be a dict, not {type(options).__name__}"
    return _options_problem(options)


def _schedule_problem(value: Any) -> str | None:
    if isinstance(value, BaseSchedule):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, timedelta)):
        return f"'schedule' must be seconds, a timedelta, crontab(...) or solar(...), not {value!r}"
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if not seconds > 0:
        return f"'schedule' must be a positive interval, not {value!r}"
    return None


def _options_problem(options: Mapping[str, Any]) -> str | None:
    unknown = sorted(set(options) - APPLY_OPTIONS)
    if unknown:
        return f"apply_async takes no option {', '.join(map(repr, unknown))}"
    priority = options.get("priority")
    if priority is not None and (
        isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 255
    ):
        return f"'priority' must be an int from 0 to 255, not {priority!r}"
    expires = options.get("expires")
    if expires is not None and (
        isinstance(expires, bool)
        or not isinstance(expires, (int, float, datetime))
        or (isinstance(expires, (int, float)) and expires <= 0)
    ):
        return f"'expires' must be positive seconds or a datetime, not {expires!r}"
    return None


def _invalid(path: Path, reason: str, ignored: frozenset[str]) -> list[Problem]:
    if "CSF213" in ignored:
        return []
    return [Problem.make("CSF213", path, None, {"reason": reason})]
