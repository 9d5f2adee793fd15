"""What a task replaced itself with, and how often it retried, kept where
``workflows.trace`` finds them.

``Task.replace(sig)`` sends ``sig`` with the task's own id on its last task and stores
nothing about it: the result backend shows the replaced task PENDING until the
replacement's last task ends, and the replacement's other tasks are found from no id a
caller holds. A retry count is stored only with ``result_extended`` (which also stores
every task's arguments), and when the next attempt is due, never. So, for the tasks of
an app given to :func:`celery_safe.guard`, a small record is stored in the result
backend under ``REPLACEMENT_PREFIX + task_id`` (state ``REPLACED``): the replacement's
shape (task names and ids) once it has been sent, the retries and the next attempt's
time when a retry is sent. It expires with the other results (``result_expires``);
nothing reads it back but the trace.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = [
    "ENDED_PREFIX", "REPLACED", "REPLACEMENT_PREFIX", "UNLOCK_PREFIX",
    "follow_replacements", "record_of", "replacement_of", "shape",
]

#: The state the record is stored in (never a task's own state).
REPLACED = "REPLACED"
#: The record of task ``X``'s replacement is the result ``REPLACEMENT_PREFIX + X``.
REPLACEMENT_PREFIX = "celery-safe-replaced-"
#: ``celery.chord_unlock`` polling chord ``G`` keeps its record under
#: ``record_of(backend, UNLOCK_PREFIX + G)``: its id is in no result a caller holds.
UNLOCK_PREFIX = "chord-unlock-"
#: A retried task's attempt that succeeded or failed keeps its record under
#: ``record_of(backend, ENDED_PREFIX + task_id)``, apart from the retry record that a
#: late ``RETRY`` of the attempt before rewrites.
ENDED_PREFIX = "ended-"
_UNLOCK = "celery.chord_unlock"

_lock = threading.Lock()
_installed = False


def shape(sig: Any) -> dict[str, Any]:
    """A frozen canvas as plain JSON: ``{"task": name, "id": id}``, ``{"chain": [...]}``,
    ``{"group": [...]}`` or ``{"chord": {"header": [...], "body": {...}}}``."""
    from celery.canvas import _chain, chord, group

    if isinstance(sig, chord):
        header: Any = sig.tasks
        members = header.tasks if isinstance(header, group) else header
        found: dict[str, Any] = {"header": [shape(m) for m in members], "body": shape(sig.body)}
        group_id = (getattr(header, "options", None) or {}).get("task_id")
        if group_id:  # the header's id: the chord's counter is kept under it
            found["id"] = str(group_id)
        return {"chord": found}
    if isinstance(sig, group):
        return {"group": [shape(m) for m in sig.tasks]}
    if isinstance(sig, _chain):
        return {"chain": [shape(m) for m in sig.tasks]}
    options = getattr(sig, "options", {}) or {}
    return {"task": str(sig.get("task") or ""), "id": str(options.get("task_id") or "")}


def record_of(backend: Any, task_id: str) -> dict[str, Any]:
    """What :func:`follow_replacements` stored for ``task_id`` (``{}`` when nothing):
    ``task`` (its name); ``shape`` and ``tail`` when it replaced itself (``tail``: how
    many of the shape's last chain steps are the rest of its own chain, already in its
    graph); ``retries`` and ``next_retry`` (ISO time) when it retried."""
    meta = backend.get_task_meta(REPLACEMENT_PREFIX + task_id) or {}
    record = meta.get("result")
    if meta.get("status") != REPLACED or not isinstance(record, dict):
        return {}
    return record


def replacement_of(backend: Any, task_id: str) -> dict[str, Any] | None:
    """The record of ``task_id`` when it replaced itself, else ``None``."""
    record = record_of(backend, task_id)
    return record if isinstance(record.get("shape"), dict) else None


def _store(task: Any, fields: dict[str, Any], about: str | None = None) -> None:
    """Update the record of ``about`` (the running task's id unless given)."""
    from .join_guard import is_guarded

    request = task.request
    if request.is_eager or not request.id or not is_guarded(task.app):
        return
    about = about or str(request.id)
    record = {**record_of(task.backend, about), "task": task.name, **fields}
    task.backend.store_result(REPLACEMENT_PREFIX + about, record, REPLACED)


def _record(task: Any, sig: Any) -> None:
    _store(task, {"shape": shape(sig), "tail": len(task.request.chain or [])})


def _on_retry(sender: Any = None, request: Any = None, reason: Any = None,
              **_: Any) -> None:
    """``task_retry``: the count and, from Celery's ``Retry.when``, the next attempt."""
    if sender is None or request is None:
        return
    when = getattr(reason, "when", None)
    if isinstance(when, (int, float)):
        due: datetime | None = datetime.now(timezone.utc) + timedelta(seconds=when)
    elif isinstance(when, datetime):
        due = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    else:
        due = None
    fields = {"retries": int(request.retries or 0) + 1,
              "next_retry": due.isoformat() if due else None}
    with contextlib.suppress(Exception):
        _store(sender, fields)
        if sender.name == _UNLOCK and request.args:  # found from the chord's group id
            _store(sender, {**fields, "id": str(request.id)},
                   about=UNLOCK_PREFIX + str(request.args[0]))


def _ended(task: Any, state: str, error: str | None = None) -> None:
    """A retried attempt ended: which attempt, how, and when. A task retrying with
    ``countdown=0`` on several pool processes can have the attempt before store its
    ``RETRY`` after this one's ``SUCCESS`` or ``FAILURE`` (Celery reads, then writes):
    the backend then shows ``RETRY`` for ever, and this record says how it ended."""
    request = getattr(task, "request", None)
    if task is None or request is None or not request.retries:
        return  # a first attempt: no earlier attempt can store a RETRY over it
    with contextlib.suppress(Exception):
        _store(task, {"attempt": int(request.retries), "state": state, "error": error,
                      "at": datetime.now(timezone.utc).isoformat()},
               about=ENDED_PREFIX + str(request.id))


def _on_success(sender: Any = None, **_: Any) -> None:
    """``task_success``: see :func:`_ended`."""
    _ended(sender, "SUCCESS")


def _on_failure(sender: Any = None, exception: BaseException | None = None,
                **_: Any) -> None:
    """``task_failure``: see :func:`_ended`."""
    _ended(sender, "FAILURE", f"{type(exception).__name__}: {exception}")


def follow_replacements() -> None:
    """Make ``Task.on_replace`` record what each task of a guarded app became, each
    retry its count and due time, and a retried task's end its attempt (once per
    process; :func:`celery_safe.guard` calls it). A record that cannot be stored is
    skipped: the replacement, retry or success goes on."""
    global _installed
    from celery.app.task import Task
    from celery.exceptions import Ignore

    with _lock:
        if _installed:
            return
        original = Task.on_replace

        @functools.wraps(original)
        def on_replace(self: Any, sig: Any) -> Any:
            try:
                return original(self, sig)
            except Ignore:  # sent: the replacement's ids are final now
                with contextlib.suppress(Exception):
                    _record(self, sig)
                raise

        Task.on_replace = on_replace
        from celery.signals import task_failure, task_retry, task_success

        task_retry.connect(_on_retry, weak=False)
        task_success.connect(_on_success, weak=False)
        task_failure.connect(_on_failure, weak=False)
        _installed = True
