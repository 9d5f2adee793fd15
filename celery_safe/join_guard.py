"""The join guard: refuse blocking joins inside tasks, in every pool and mode.

Celery refuses ``result.get()`` inside a task only in prefork workers, and only while
``disable_sync_subtasks`` is left on. Threads and solo pools, eager mode, gevent and
eventlet pools and ``celery.contrib.testing.worker.start_worker`` let the join through,
where it deadlocks or hides the bug until production. After ``guard(app)``, every
blocking join on a Celery result raises :class:`JoinInTaskError` while one of ``app``'s
tasks runs in the calling thread. Joins outside tasks (views, scripts, tests) keep
working.

"Runs" is read from Celery's own per-thread stack of executing tasks (the one behind
``current_task``), which Celery's tracer maintains in every pool and in eager mode: the
guard costs nothing per task, only a lookup when a join happens. On gevent and eventlet
pools that stack (and each task's ``request_stack``) is per greenlet, as Celery keys its
locals by ``greenlet.getcurrent()`` whenever greenlet is importable: a task parked in one
greenlet does not guard, nor unguard, a join in another greenlet of the same thread.
A task called as a plain function (``task(...)``, like ``.logic``) does not count as
running.

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
from typing import Any

from celery import Celery
from celery import _state as celery_state
from celery import result as celery_result
from celery.backends.base import BaseBackend

from .celery_internals import JOIN_METHODS, require

__all__ = ["BLOCKING_METHODS", "JoinInTaskError", "current_guarded_task", "guard", "is_guarded"]

#: Methods that block until other tasks finish, per result class (subclasses inherit).
BLOCKING_METHODS: dict[type[Any], tuple[str, ...]] = {
    getattr(celery_result, name): methods
    for name, methods in JOIN_METHODS.items() if hasattr(celery_result, name)
}

#: Celery's per-thread stack of running tasks; None when Celery moved it (``guard`` raises).
_task_stack: Any = getattr(celery_state, "_task_stack", None)

_guarded_apps: weakref.WeakSet[Celery] = weakref.WeakSet()
_install_lock = threading.Lock()
_installed = False


class JoinInTaskError(RuntimeError):
    """A task tried to wait for another task's result.

    ``args`` are ``(task_name, method)`` so the error survives a result backend: Celery
    rebuilds it as ``JoinInTaskError(*exc_message)`` on the caller's side. Its module is
    the package (``exc_module: celery_safe``), which a caller that imported celery_safe
    always has loaded, so the caller gets this type back, not a stand-in.
    """

    __module__ = "celery_safe"

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

    Calling it again is harmless. On a Celery that moved a name the guard relies on, it
    raises :class:`celery_safe.CeleryInternalsError` naming it, rather
    than guard nothing.
    """
    if not isinstance(app, Celery):
        raise TypeError(f"celery_safe.guard(app): expected a Celery app, got {type(app).__name__}")
    _install()
    from .replacements import follow_replacements

    follow_replacements()  # so that ``workflows.trace`` can follow ``Task.replace``
    # ``current_app`` is a proxy: remember the app behind it, which tasks point to.
    _guarded_apps.add(getattr(app, "_get_current_object", lambda: app)())
    return app


def is_guarded(app: Celery) -> bool:
    """Whether :func:`guard` was called for ``app``."""
    return app in _guarded_apps


def current_guarded_task() -> str | None:
    """Name of the innermost task of a guarded app running in this thread (greenlet), or None."""
    for running in reversed(_task_stack.stack):
        if not _executing(running):
            continue  # ``task(...)`` called as a function, not executed as a task
        app = _task_app(running)
        if app is not None and app in _guarded_apps:
            return str(running.name)
    return None


def _install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        require("guard")  # before patching anything: all or nothing
        for cls, methods in BLOCKING_METHODS.items():
            for method in methods:
                original = cls.__dict__[method]  # checked by ``require``
                if getattr(original, "__celery_safe_guarded__", False):
                    continue
                setattr(cls, method, _guarded(original, f"{cls.__name__}.{method}"))
        _installed = True


def _guarded(original: Callable[..., Any], label: str) -> Callable[..., Any]:
    @functools.wraps(original)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        # Fast path: no task runs in this thread (every join outside workers).
        if _task_stack.top is not None:
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
    if isinstance(caller.f_locals.get("self"), BaseBackend):
        return True  # a result backend's own method, wherever it is defined
    module = str(caller.f_globals.get("__name__", ""))
    if module in ("celery.result", "celery.app.builtins") or module.startswith("celery.backends."):
        return True
    return module == "celery.canvas" and caller.f_code.co_name == "apply"


def _executing(task: Any) -> bool:
    """Whether Celery's tracer runs ``task`` (worker, eager, ``apply``) in this thread.

    Any of its requests counts: a base class with a custom ``__call__`` pushes a
    "called directly" request on top of the tracer's.
    """
    requests = getattr(getattr(task, "request_stack", None), "stack", None) or ()
    return any(not getattr(request, "called_directly", True) for request in requests)


def _task_app(task: Any) -> Celery | None:
    app = getattr(task, "_app", None) or getattr(task, "app", None)
    return app if isinstance(app, Celery) else None
