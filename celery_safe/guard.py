"""The join guard: refuse blocking joins inside tasks, in every pool and mode.

Celery refuses ``result.get()`` inside a task only in prefork workers, and only while
``disable_sync_subtasks`` is left on. Threads and solo pools, eager mode, gevent and
``celery.contrib.testing.worker.start_worker`` let the join through, where it deadlocks
or hides the bug until production. ``guard(app)`` tracks, per thread, which of ``app``'s
tasks is running (``task_prerun``/``task_postrun``) and makes every blocking join on a
Celery result raise :class:`JoinInTaskError` while one is. Joins outside tasks (views,
scripts, tests) keep working.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

from celery import Celery
from celery import result as celery_result
from celery.signals import task_postrun, task_prerun

__all__ = ["JoinInTaskError", "current_guarded_task", "guard", "is_guarded"]

#: Methods that block until another task finishes, per result class.
BLOCKING_METHODS: dict[type[Any], tuple[str, ...]] = {
    celery_result.AsyncResult: ("get", "wait", "collect", "get_leaf"),
    celery_result.EagerResult: ("get", "wait"),
    celery_result.ResultSet: ("get", "join", "join_native", "iter_native"),
}

#: Celery's own built-in tasks (``celery.chord_unlock``...) join by design.
BUILTIN_PREFIX = "celery."

_guarded_apps: weakref.WeakSet[Celery] = weakref.WeakSet()
_running = threading.local()
_install_lock = threading.Lock()
_patched = False


class JoinInTaskError(RuntimeError):
    """A task tried to wait for another task's result."""

    def __init__(self, task_name: str, method: str) -> None:
        self.task_name = task_name
        self.method = method
        super().__init__(
            f"task {task_name!r} called {method}() on a Celery result while running: a task "
            "must never wait for another task (it deadlocks the worker pool). Call the other "
            "task's plain function in-process (`other.logic(...)` with celery_safe.task), or "
            "compose the steps with celery_safe.workflows.chain/chord. [CSF101]"
        )


def guard(app: Celery) -> Celery:
    """Refuse blocking joins while any of ``app``'s tasks runs; returns ``app``.

        app = Celery("proj")
        celery_safe.guard(app)

    Calling it again is harmless.
    """
    if not isinstance(app, Celery):
        raise TypeError(f"celery_safe.guard(app): expected a Celery app, got {type(app).__name__}")
    _install()
    _guarded_apps.add(app)
    return app


def is_guarded(app: Celery) -> bool:
    """Whether :func:`guard` was called for ``app``."""
    return app in _guarded_apps


def current_guarded_task() -> str | None:
    """Name of the innermost guarded task running in this thread, or None.

    A Celery built-in task (``celery.chord_unlock`` joins its header by design)
    running innermost lifts the guard for its own duration.
    """
    stack: list[_Frame] = getattr(_running, "stack", [])
    if not stack or stack[-1].builtin:
        return None
    for frame in reversed(stack):
        if frame.guarded:
            return frame.name
    return None


def _install() -> None:
    global _patched
    with _install_lock:
        if _patched:
            return
        task_prerun.connect(_on_prerun, weak=False, dispatch_uid="celery_safe.guard.prerun")
        task_postrun.connect(_on_postrun, weak=False, dispatch_uid="celery_safe.guard.postrun")
        for cls, methods in BLOCKING_METHODS.items():
            for method in methods:
                original = cls.__dict__.get(method)
                if original is None or getattr(original, "__celery_safe_guarded__", False):
                    continue
                setattr(cls, method, _guarded(original, f"{cls.__name__}.{method}"))
        _patched = True


def _guarded(original: Callable[..., Any], label: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_running, "stack", None):
            running = current_guarded_task()
            if running is not None:
                raise JoinInTaskError(running, label)
        return original(self, *args, **kwargs)

    method.__celery_safe_guarded__ = True  # type: ignore[attr-defined]
    return method


def _task_app(sender: Any) -> Celery | None:
    app = getattr(sender, "_app", None) or getattr(sender, "app", None)
    return app if isinstance(app, Celery) else None


class _Frame(NamedTuple):
    name: str
    guarded: bool
    builtin: bool


def _on_prerun(sender: Any = None, task: Any = None, **_: Any) -> None:
    task = task or sender
    name = str(getattr(task, "name", None) or "?")
    app = _task_app(task)
    stack: list[_Frame] = _running.__dict__.setdefault("stack", [])
    # Every task gets a frame, guarded or not, so postrun pops symmetrically.
    stack.append(_Frame(name, app is not None and app in _guarded_apps, name.startswith(BUILTIN_PREFIX)))


def _on_postrun(sender: Any = None, task: Any = None, **_: Any) -> None:
    stack: list[_Frame] | None = getattr(_running, "stack", None)
    if stack:
        stack.pop()
