"""What a task replaced itself with, kept where ``workflows.trace`` finds it.

``Task.replace(sig)`` sends ``sig`` with the task's own id on its last task and stores
nothing about it: the result backend shows the replaced task PENDING until the
replacement's last task ends, and the replacement's other tasks are found from no id a
caller holds. So, for the tasks of an app given to :func:`celery_safe.guard`, the
replacement's shape (task names and ids) is stored in the result backend under
``REPLACEMENT_PREFIX + task_id`` in state ``REPLACED`` once it has been sent. It expires
with the other results (``result_expires``); nothing here reads it back but the trace.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any

__all__ = ["REPLACED", "REPLACEMENT_PREFIX", "follow_replacements", "replacement_of", "shape"]

#: The state the record is stored in (never a task's own state).
REPLACED = "REPLACED"
#: The record of task ``X``'s replacement is the result ``REPLACEMENT_PREFIX + X``.
REPLACEMENT_PREFIX = "celery-safe-replaced-"

_lock = threading.Lock()
_installed = False


def shape(sig: Any) -> dict[str, Any]:
    """A frozen canvas as plain JSON: ``{"task": name, "id": id}``, ``{"chain": [...]}``,
    ``{"group": [...]}`` or ``{"chord": {"header": [...], "body": {...}}}``."""
    from celery.canvas import _chain, chord, group

    if isinstance(sig, chord):
        header: Any = sig.tasks
        members = header.tasks if isinstance(header, group) else header
        return {"chord": {"header": [shape(m) for m in members], "body": shape(sig.body)}}
    if isinstance(sig, group):
        return {"group": [shape(m) for m in sig.tasks]}
    if isinstance(sig, _chain):
        return {"chain": [shape(m) for m in sig.tasks]}
    options = getattr(sig, "options", {}) or {}
    return {"task": str(sig.get("task") or ""), "id": str(options.get("task_id") or "")}


def replacement_of(backend: Any, task_id: str) -> dict[str, Any] | None:
    """The record :func:`follow_replacements` stored for ``task_id``, or ``None``:
    ``{"shape": ..., "tail": n, "task": name}`` (``tail``: how many of the shape's last
    chain steps are the rest of the replaced task's own chain, already in its graph)."""
    meta = backend.get_task_meta(REPLACEMENT_PREFIX + task_id) or {}
    record = meta.get("result")
    if meta.get("status") != REPLACED or not isinstance(record, dict):
        return None
    if not isinstance(record.get("shape"), dict):
        return None
    return record


def _record(task: Any, sig: Any) -> None:
    from .join_guard import is_guarded

    request = task.request
    if request.is_eager or not request.id or not is_guarded(task.app):
        return
    record = {"shape": shape(sig), "tail": len(request.chain or []), "task": task.name}
    task.backend.store_result(REPLACEMENT_PREFIX + str(request.id), record, REPLACED)


def follow_replacements() -> None:
    """Make ``Task.on_replace`` record what each task of a guarded app became (once per
    process; :func:`celery_safe.guard` calls it). A record that cannot be stored is
    logged and skipped: the replacement itself goes on."""
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
        _installed = True
