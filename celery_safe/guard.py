"""The join guard: refuse blocking joins inside tasks, in every pool and mode.

Celery refuses ``result.get()`` inside a task only in prefork workers, and only while
``disable_sync_subtasks`` is left on. Threads and solo pools, eager mode, gevent and
``celery.contrib.testing.worker.start_worker`` let the join through, where it deadlocks
or hides the bug until production. ``guard(app)`` tracks, per thread, which of ``app``'s
tasks is running (``task_prerun``/``task_postrun``) and makes every blocking join on a
Celery result raise :class:`JoinInTaskError` while one is. Joins outside tasks (views,
scripts, tests) keep working.

Celery's own machinery joins by design and stays allowed: eager application of chains
and chords (``chain.apply``), chord bookkeeping in result backends
(``on_chord_part_return``) and built-in tasks (``celery.chord_unlock``). A user task's
``disable_sync_subtasks=False`` or ``allow_join_result()`` is still refused.
"""

from __future__ import annotations

import functools
import sys
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any, NamedTuple

from celery import Celery
from celery import result as celery_result
from celery.signals import task_postrun, task_prerun

__all__ = ["BLOCKING_METHODS", "JoinInTaskError", "current_guarded_task", "guard", "is_guarded"]

#: Methods that block until other tasks finish, per result class (subclasses inherit).
BLOCKING_METHODS: dict[type[Any], tuple[str, ...]] = {
    celery_result.AsyncResult: ("get", "wait", "collect", "get_leaf"),
    celery_result.EagerResult: ("get", "wait"),
    celery_result.ResultSet: ("get", "join", "join_native", "iter_native"),
}

_guarded_apps: weakref.WeakSet[Celery] = weakref.WeakSet()
_running = threading.local()
_install_lock = threading.Lock()
_installed = False


class JoinInTaskError(RuntimeError):
    """A task tried to wait for another task's result.

    ``args`` are ``(task_name, method)`` so the error survives a result backend: Celery
    rebuilds it as ``JoinInTaskError(*exc_message)`` on the caller's side.
    """

    def __init__(self, task_name: str, method: str = "get") -> None:
        super().__init__(task_name, method)
        self.task_name = task_name
        self.method = method

    def __str__(self) -> str:
        return (
            f"task {self.task_name!r} called {self.method}() on a Celery result while "
            "running: a task must never wait for another task (it deadlocks the worker "
            "pool). Call the other task's plain function in-process (`other.logic(...)` "
            "with celery_safe.task), or compose the steps with "
            "celery_safe.workflows.chain/chord. [CSF101]"
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
    """Name of the innermost task of a guarded app running in this thread, or None."""
    for frame in reversed(_stack()):
        if frame.guarded:
            return frame.name
    return None


class _Frame(NamedTuple):
    task_id: str | None
    name: str
    guarded: bool


def _stack() -> list[_Frame]:
    stack: list[_Frame] | None = getattr(_running, "stack", None)
    if stack is None:
        stack = _running.stack = []
    return stack


def _install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        task_prerun.connect(_on_prerun, weak=False, dispatch_uid="celery_safe.guard.prerun")
        task_postrun.connect(_on_postrun, weak=False, dispatch_uid="celery_safe.guard.postrun")
        for cls, methods in BLOCKING_METHODS.items():
            for method in methods:
                original = cls.__dict__.get(method)
                if original is None or getattr(original, "__celery_safe_guarded__", False):
                    continue
                setattr(cls, method, _guarded(original, f"{cls.__name__}.{method}"))
        _installed = True


def _guarded(original: Callable[..., Any], label: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Fast path: no task runs in this thread (every join outside workers).
        if getattr(_running, "stack", None):
            running = current_guarded_task()
            if running is not None and not _called_by_celery(sys._getframe(1)):
                raise JoinInTaskError(running, label)
        return original(self, *args, **kwargs)

    method.__celery_safe_guarded__ = True  # type: ignore[attr-defined]
    return method


def _called_by_celery(caller: FrameType) -> bool:
    """Whether the join comes from Celery's machinery rather than from task code.

    Result backends (chord bookkeeping), built-in tasks (``celery.chord_unlock``) and
    eager ``chain.apply``/``chord.apply`` join by design. A call from ``celery.result``
    is a nested step of a join already checked at its entry (``join`` calling ``get``).
    Anything else in Celery (``~signature`` joins for its caller) does not count.
    """
    module = str(caller.f_globals.get("__name__", ""))
    if module in ("celery.result", "celery.app.builtins") or module.startswith("celery.backends."):
        return True
    return module == "celery.canvas" and caller.f_code.co_name == "apply"


def _task_app(task: Any) -> Celery | None:
    app = getattr(task, "_app", None) or getattr(task, "app", None)
    return app if isinstance(app, Celery) else None


def _on_prerun(sender: Any = None, task_id: str | None = None, task: Any = None, **_: Any) -> None:
    task = task or sender
    app = _task_app(task)
    name = str(getattr(task, "name", None) or "?")
    # Every task gets a frame, guarded or not, so postrun pops symmetrically.
    _stack().append(_Frame(task_id, name, app is not None and app in _guarded_apps))


def _on_postrun(sender: Any = None, task_id: str | None = None, **_: Any) -> None:
    stack = _stack()
    for index in range(len(stack) - 1, -1, -1):
        if stack[index].task_id == task_id:
            del stack[index]
            return
