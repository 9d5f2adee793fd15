"""Resources: context managers opened around each task run and passed by keyword.

A task declares ``resources={"db": session_factory}``; when the *task* runs, every
factory is called, its context manager entered, and the value passed as ``db=...``.
In-process callers of ``task.logic(...)`` pass their own (shared) value instead, so
several logic calls share one database session and one transaction.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ContextManager

ResourceFactory = Callable[[], ContextManager[Any]]

__all__ = ["ResourceError", "ResourceFactory", "check_resources", "open_resources"]


class ResourceError(RuntimeError):
    """A task resource failed to open or close; the task fails with this error."""

    def __init__(self, task_name: str, resource: str, stage: str, cause: BaseException) -> None:
        self.task_name = task_name
        self.resource = resource
        self.stage = stage
        super().__init__(
            f"resource {resource!r} of task {task_name!r} failed to {stage}: "
            f"{type(cause).__name__}: {cause}"
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
        if param is not None and param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            raise TypeError(
                f"{fn.__qualname__}: resource {name!r} must be a keyword-capable parameter"
            )


@contextlib.contextmanager
def open_resources(
    task_name: str, resources: Mapping[str, ResourceFactory]
) -> Iterator[dict[str, Any]]:
    """Open every resource in order; close those opened, in reverse, exactly once.

    The body's exception (if any) is passed to each resource's ``__exit__`` so a
    session can roll back. A failure to open or close becomes :class:`ResourceError`
    naming the resource; a close failure never hides the body's own exception.
    """
    opened: list[tuple[str, ContextManager[Any]]] = []
    values: dict[str, Any] = {}
    try:
        for name, factory in resources.items():
            try:
                manager = factory()
                values[name] = manager.__enter__()
            except BaseException as exc:
                raise ResourceError(task_name, name, "open", exc) from exc
            opened.append((name, manager))
    except BaseException as exc:
        _close_all(task_name, opened, exc)
        raise
    try:
        yield values
    except BaseException as exc:
        _close_all(task_name, opened, exc)
        raise
    _close_all(task_name, opened, None)


def _close_all(
    task_name: str,
    opened: list[tuple[str, ContextManager[Any]]],
    error: BaseException | None,
) -> None:
    first_close_error: ResourceError | None = None
    while opened:
        name, manager = opened.pop()
        try:
            if error is None:
                manager.__exit__(None, None, None)
            else:
                manager.__exit__(type(error), error, error.__traceback__)
        except BaseException as exc:  # noqa: BLE001 - every resource must get its close
            if first_close_error is None:
                first_close_error = ResourceError(task_name, name, "close", exc)
                first_close_error.__cause__ = exc
    if first_close_error is not None and error is None:
        raise first_close_error
