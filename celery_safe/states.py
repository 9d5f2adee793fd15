"""Write task states that every reader can decode.

    raise report_failure(self, ValueError("bad bundle"))     # FAILURE, then stop
    report_progress(self, 3, 10, stage="parsing")             # PROGRESS meta

Celery rebuilds a FAILURE result from ``exc_type``/``exc_module``/``exc_message``; a
FAILURE written by hand (``update_state(state="FAILURE", meta={...})``) lacks them, and
every later read (``AsyncResult.state``, ``.get()``, chord bookkeeping in the worker)
fails with ``ValueError('Exception information must include the exception type')``.
:func:`report_failure` always stores the exception through the backend's own
``prepare_exception``, so the state decodes back into the exception.
"""

from __future__ import annotations

import traceback as traceback_module
from typing import Any

from celery import states
from celery.backends.base import DisabledBackend
from celery.exceptions import Ignore

__all__ = ["PROGRESS", "report_failure", "report_progress"]

#: The custom state :func:`report_progress` writes.
PROGRESS = "PROGRESS"


def report_failure(
    task: Any, exc: BaseException, *, task_id: str | None = None, traceback: str | None = None
) -> Ignore:
    """Record ``exc`` as the FAILURE of ``task``'s current run; return ``Ignore`` to raise.

        raise report_failure(self, ValueError("bad bundle"))

    Raising the returned ``Ignore`` stops the task without the worker overwriting the
    state. ``traceback`` defaults to the traceback of ``exc`` (if it was raised).
    Writes nothing when the app has no result backend.
    """
    if not isinstance(exc, BaseException):
        raise TypeError(f"report_failure: expected an exception, got {type(exc).__name__}")
    task_id = task_id or _running_id(task)
    if task_id is None:
        raise RuntimeError(
            f"report_failure({getattr(task, 'name', task)!r}): the task is not running "
            "(called in-process through .logic?); raise the exception instead, or pass task_id="
        )
    backend = task.backend
    if not isinstance(backend, DisabledBackend):
        if traceback is None and exc.__traceback__ is not None:
            lines = traceback_module.format_exception(type(exc), exc, exc.__traceback__)
            traceback = "".join(lines)
        backend.store_result(
            task_id,
            backend.prepare_exception(exc),
            states.FAILURE,
            traceback=traceback,
            request=task.request if task_id == _running_id(task) else None,
        )
    return Ignore(f"{type(exc).__name__}: {exc} (FAILURE state written by report_failure)")


def report_progress(task: Any, current: int | float, total: int | float, **info: Any) -> bool:
    """Write a ``PROGRESS`` state with ``{"current", "total", **info}``; True if written.

    A no-op (False) when the task is not running as a task (its ``.logic`` called
    in-process) or the app has no result backend, so logic code can always call it.
    """
    if total < 0 or current < 0:
        raise ValueError(f"report_progress: current={current!r} and total={total!r} must be >= 0")
    task_id = _running_id(task)
    if task_id is None or isinstance(task.backend, DisabledBackend):
        return False
    meta = {"current": current, "total": total, **info}
    task.update_state(task_id=task_id, state=PROGRESS, meta=meta)
    return True


def _running_id(task: Any) -> str | None:
    request = getattr(task, "request", None)
    task_id = getattr(request, "id", None)
    return str(task_id) if task_id else None
