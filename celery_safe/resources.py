"""Resources: context managers opened around each task run and passed by keyword.

A task declares ``resources={"db": session_factory}``; when the *task* runs, every
factory is called, its context manager entered, and the value passed as ``db=...``.
In-process callers of ``task.logic(...)`` pass their own (shared) value instead, so
several logic calls share one database session and one transaction.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, TypeAlias

ResourceFactory: TypeAlias = Callable[[], AbstractContextManager[Any]]
#: A task name, or a callable computing it (only needed when something fails).
TaskName: TypeAlias = str | Callable[[], str]

__all__ = [
    "ResourceError",
    "ResourceFactory",
    "call_with_resources",
    "check_resources",
    "open_resources",
]

logger = logging.getLogger(__name__)


class ResourceError(RuntimeError):
    """A task resource failed to open or close; the task fails with this error.

    ``args`` are four strings so the error survives a result backend (Celery rebuilds
    it as ``ResourceError(*exc_message)``); the original exception is ``__cause__``.
    Retry on it with ``autoretry_for=(ResourceError,)``. Published as
    ``celery_safe.ResourceError`` (``exc_module``) like :class:`JoinInTaskError`.
    """

    __module__ = "celery_safe"

    def __init__(self, task_name: str, resource: str, stage: str, error: str) -> None:
        super().__init__(task_name, resource, stage, error)
        self.task_name = task_name
        self.resource = resource
        self.stage = stage
        self.error = error

    @classmethod
    def wrap(
        cls, task_name: TaskName, resource: str, stage: str, cause: BaseException
    ) -> ResourceError:
        name = task_name if isinstance(task_name, str) else task_name()
        error = cls(name, resource, stage, f"{type(cause).__name__}: {cause}")
        error.__cause__ = cause
        return error

    def __str__(self) -> str:
        return (
            f"resource {self.resource!r} of task {self.task_name!r} "
            f"failed to {self.stage}: {self.error}"
        )


def check_resources(fn: Callable[..., Any], resources: Mapping[str, ResourceFactory]) -> None:
    """Refuse, at decoration time, resources the function cannot receive by keyword."""
    params = inspect.signature(fn).parameters
    takes_var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for name, factory in resources.items():
        if not callable(factory):
            raise TypeError(
                f"resource {name!r} of {fn.__qualname__} must be a zero-argument callable "
                f"returning a context manager, got {type(factory).__name__}"
            )
        param = params.get(name)
        if param is None and not takes_var_kw:
            raise TypeError(
                f"{fn.__qualname__} declares resource {name!r} but has no parameter "
                f"of that name; add `{name}` to its signature"
            )
        keyword_kinds = (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY) if param else ()
        if param is not None and param.kind not in keyword_kinds:
            raise TypeError(
                f"{fn.__qualname__}: resource {name!r} must be a parameter that can be "
                "passed by keyword"
            )


_Opened: TypeAlias = list[tuple[str, AbstractContextManager[Any]]]


def call_with_resources(
    task_name: TaskName,
    resources: Mapping[str, ResourceFactory],
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Call ``fn(*args, **kwargs, **opened)`` with every resource open around the call.

    What a ``celery_safe.task`` with resources runs: see :func:`open_resources`.
    """
    opened, values = _open_all(task_name, resources)
    try:
        result = fn(*args, **kwargs, **values)
    except BaseException as exc:
        _close_all(task_name, opened, exc)
        raise
    _close_all(task_name, opened, None)
    return result


@contextlib.contextmanager
def open_resources(
    task_name: TaskName, resources: Mapping[str, ResourceFactory]
) -> Iterator[dict[str, Any]]:
    """Open every resource in order; close those opened, in reverse, exactly once.

    The body's exception (if any) is passed to each resource's ``__exit__`` so a
    session can roll back; a resource cannot swallow it. A failure to open or close
    becomes :class:`ResourceError` naming the resource; a close failure never hides
    the body's own exception (it is logged instead). ``KeyboardInterrupt`` and other
    non-``Exception`` errors close what is open and propagate unchanged.
    """
    opened, values = _open_all(task_name, resources)
    try:
        yield values
    except BaseException as exc:
        _close_all(task_name, opened, exc)
        raise
    _close_all(task_name, opened, None)


def _open_all(
    task_name: TaskName, resources: Mapping[str, ResourceFactory]
) -> tuple[_Opened, dict[str, Any]]:
    opened: _Opened = []
    values: dict[str, Any] = {}
    for name, factory in resources.items():
        try:
            manager = factory()
            values[name] = manager.__enter__()
        except Exception as exc:
            error = ResourceError.wrap(task_name, name, "open", exc)
            _close_all(task_name, opened, error)
            raise error from exc
        except BaseException as exc:
            _close_all(task_name, opened, exc)
            raise
        opened.append((name, manager))
    return opened, values


def _close_all(task_name: TaskName, opened: _Opened, error: BaseException | None) -> None:
    first_close_error: ResourceError | None = None
    while opened:
        name, manager = opened.pop()
        try:
            if error is None:
                manager.__exit__(None, None, None)
            else:
                manager.__exit__(type(error), error, error.__traceback__)
        except Exception as exc:  # every opened resource must get its close
            close_error = ResourceError.wrap(task_name, name, "close", exc)
            if error is not None:
                logger.error("%s (while handling %r)", close_error, error, exc_info=exc)
            elif first_close_error is None:
                first_close_error = close_error
            else:
                logger.error("%s", close_error, exc_info=exc)
    if first_close_error is not None:
        raise first_close_error
