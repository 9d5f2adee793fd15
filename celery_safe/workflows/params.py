"""What a task object accepts, read once per task (the runtime side of :mod:`celery_safe.canvas`).

``inspect.signature`` costs tens of microseconds; a 10,000-signature chord of one task
must not pay it 10,000 times. :func:`params_of` reads the task's ``run`` (Celery's own
view of the call: ``bind=True`` drops ``self``, ``celery_safe.task`` hides resources
through ``__signature__``) once and caches a :class:`Params` per task object.
"""

from __future__ import annotations

import inspect
import typing
import weakref
from functools import partial
from typing import Any

from ..canvas.params import Params
from ..canvas.types import MISSING

__all__ = ["errback_in_process", "errback_style", "params_of", "returns_of"]

_cache: weakref.WeakKeyDictionary[Any, Params | None] = weakref.WeakKeyDictionary()
_errback_cache: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
_hint_cache: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def params_of(task: Any) -> Params | None:
    """The parameters Celery calls ``task`` with (None when they cannot be read)."""
    try:
        return _cache[task]
    except KeyError:
        pass
    try:
        params: Params | None = Params.from_signature(inspect.signature(task.run))
    except (AttributeError, TypeError, ValueError):
        params = None
    if params is not None:
        params = params.with_hints(_hints(task))
    _cache[task] = params
    return params


def returns_of(task: Any) -> Any:
    """The task function's return annotation as a type hint (``MISSING`` if none)."""
    return _hints(task).get("return", MISSING)


def _hints(task: Any) -> dict[str, Any]:
    """The annotations of the function behind ``task.run``, resolved (string annotations
    too); empty when they cannot be resolved, so nothing is compared."""
    try:
        return _hint_cache[task]
    except KeyError:
        pass
    try:
        function = inspect.unwrap(getattr(task.run, "__func__", task.run))
        hints: dict[str, Any] = typing.get_type_hints(function)
    except Exception:  # a forward reference that does not resolve, a C function...
        hints = {}
    _hint_cache[task] = hints
    return hints


def errback_in_process(task: Any, sig: Any, counts_partial: bool) -> bool:
    """True when a worker calls the error callback ``sig`` (of task ``task``) in its own
    process as ``sig(request, exc, traceback)``, False when it sends it with the failed
    task's id.

    :func:`errback_style` decides, except that from Celery 5.7 (``counts_partial``) the
    signature's own arguments are bound first and only what is left counts
    (``_errback_arity_greater``): ``def on_error(task_id, extra)`` linked as
    ``on_error.s("x")`` is sent.
    """
    if not errback_style(task):
        return False
    if not counts_partial or sig.immutable or not (sig.args or sig.kwargs):
        return True
    header = task.__header__
    try:
        return _arity_greater_1(partial(header, *sig.args, **sig.kwargs))
    except (TypeError, ValueError):
        return True


def _arity_greater_1(function: Any) -> bool:
    spec = inspect.getfullargspec(function)
    return bool(spec.varargs) or len(spec.args) > 1


def errback_style(task: Any) -> bool:
    """True when Celery calls ``task`` as ``(request, exc, traceback)`` on failure.

    Celery's rule (``celery.backends.base``): a task whose generated ``__header__``
    takes more than one positional argument, and is not bound, gets the request, the
    exception and the traceback; any other is sent as a task with the failed task's id.
    """
    try:
        return _errback_cache[task]
    except KeyError:
        pass
    header = getattr(task, "__header__", None)
    new_style = False
    if header is not None and not isinstance(header, partial):
        try:
            new_style = _arity_greater_1(header)
        except TypeError:
            new_style = False
    _errback_cache[task] = new_style
    return new_style
