"""The task/logic split: register a Celery task and keep its plain function callable.

    @celery_safe.task(app, resources={"db": Session})
    def store(items, *, db): ...

    store.delay(items)            # a Celery task, exactly as with @app.task
    store.logic(items, db=db)     # the plain function, in-process, no Celery

Other tasks call ``other.logic(...)`` instead of ``other.delay(...).get()``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Concatenate, Generic, Literal, ParamSpec, Protocol, TypeVar, overload

from celery import Celery, shared_task

from .resources import ResourceFactory, call_with_resources, check_resources

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
F = TypeVar("F", bound=Callable[..., Any])
F_co = TypeVar("F_co", bound=Callable[..., Any], covariant=True)

__all__ = ["SafeTask", "TypedTask", "task", "task_logic", "task_resources"]

#: Class attributes that ``celery_safe.task`` adds to the generated task class.
LOGIC_ATTR = "logic"
RESOURCES_ATTR = "__celery_safe_resources__"


class SafeTask(Protocol, Generic[F_co]):
    """What ``celery_safe.task`` returns: a Celery task that also carries ``.logic``.

    ``F_co`` is the type of ``.logic``: the decorated function (minus ``self`` when bound).
    """

    name: str

    @property
    def logic(self) -> F_co: ...

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def delay(self, *args: Any, **kwargs: Any) -> Any: ...
    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any: ...
    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any: ...
    def s(self, *args: Any, **kwargs: Any) -> Any: ...
    def si(self, *args: Any, **kwargs: Any) -> Any: ...
    def signature(self, args: Any = None, *starargs: Any, **starkwargs: Any) -> Any: ...
    def retry(self, *args: Any, **kwargs: Any) -> Any: ...
    def update_state(self, task_id: Any = None, state: Any = None, meta: Any = None) -> None: ...


class TypedTask(Protocol[P, R_co]):
    """What ``celery_safe.task`` returns for a task without resources: calls that send
    it are typed by the function's own parameters.

        @celery_safe.task(app)
        def store(items: list[str]) -> int: ...

        store.delay(["a"])       # ok
        store.delay(1, "x")      # rejected by mypy and pyright
        store.si(["a"])          # ok; store.si(1) rejected

    Not typed (any arguments are accepted, as Celery accepts them): ``.s(...)``, which
    takes a *prefix* of the parameters (the rest come from the parent's result, and
    Python's type system cannot express "some leading parameters"), and
    ``.apply_async(args=..., kwargs=...)``, whose arguments are a tuple and a dict. A
    task *with* resources is a :class:`SafeTask`: its resources are hidden from
    callers, and a type cannot remove a parameter from a signature.
    """

    name: str

    @property
    def logic(self) -> Callable[P, R_co]: ...

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co: ...
    def delay(self, *args: P.args, **kwargs: P.kwargs) -> Any: ...
    def si(self, *args: P.args, **kwargs: P.kwargs) -> Any: ...
    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any: ...
    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any: ...
    def s(self, *args: Any, **kwargs: Any) -> Any: ...
    def signature(self, args: Any = None, *starargs: Any, **starkwargs: Any) -> Any: ...
    def retry(self, *args: Any, **kwargs: Any) -> Any: ...
    def update_state(self, task_id: Any = None, state: Any = None, meta: Any = None) -> None: ...


class _CeleryApp(Protocol):
    """What typing needs to tell an app (or an untyped ``Any``) from a function."""

    @property
    def conf(self) -> Any: ...

    def task(self, *args: Any, **options: Any) -> Any: ...


# Celery ships no type hints, so users' apps are ``Any``. With TypeVars for both the
# app and the bare function, ``task(app)`` is not ambiguous with ``@task`` to mypy
# (which would answer ``Any``): an ``Any`` argument picks the first, app, overload.
AppT = TypeVar("AppT", bound="_CeleryApp | None")


class _Decorator(Protocol):
    def __call__(self, fn: F, /) -> SafeTask[F]: ...


class _BoundDecorator(Protocol):
    def __call__(self, fn: Callable[Concatenate[Any, P], R], /) -> SafeTask[Callable[P, R]]: ...


class _TypedDecorator(Protocol):
    def __call__(self, fn: Callable[P, R], /) -> TypedTask[P, R]: ...


class _TypedBoundDecorator(Protocol):
    def __call__(self, fn: Callable[Concatenate[Any, P], R], /) -> TypedTask[P, R]: ...


@overload
def task(
    app: AppT,
    *,
    bind: Literal[True],
    resources: None = None,
    **celery_options: Any,
) -> _TypedBoundDecorator: ...
@overload
def task(
    app: AppT,
    *,
    bind: Literal[True],
    resources: Mapping[str, ResourceFactory],
    **celery_options: Any,
) -> _BoundDecorator: ...
@overload
def task(
    app: AppT,
    *,
    resources: None = None,
    **celery_options: Any,
) -> _TypedDecorator: ...
@overload
def task(
    app: AppT,
    *,
    resources: Mapping[str, ResourceFactory],
    **celery_options: Any,
) -> _Decorator: ...
@overload
def task(
    *,
    bind: Literal[True],
    resources: None = None,
    **celery_options: Any,
) -> _TypedBoundDecorator: ...
@overload
def task(
    *,
    bind: Literal[True],
    resources: Mapping[str, ResourceFactory],
    **celery_options: Any,
) -> _BoundDecorator: ...
@overload
def task(
    *,
    resources: None = None,
    **celery_options: Any,
) -> _TypedDecorator: ...
@overload
def task(
    *,
    resources: Mapping[str, ResourceFactory],
    **celery_options: Any,
) -> _Decorator: ...
@overload
def task(app: F) -> SafeTask[F]: ...
def task(
    app: Any = None,
    *,
    resources: Mapping[str, ResourceFactory] | None = None,
    **celery_options: Any,
) -> Any:
    """Register a function as a Celery task and keep it callable as ``task.logic``.

        @celery_safe.task(app, resources={"db": Session}, autoretry_for=(IOError,))
        def store(items, *, db): ...

    ``app`` is the Celery app (``app.task`` registers the task); without one it is a
    ``shared_task``, registered on every app. ``resources`` maps parameter names to
    zero-argument factories of context managers opened around each task run. Every
    other keyword is a Celery task option (``bind``, ``name``, ``base``, ``queue``,
    ``autoretry_for``, ...), passed through unchanged. Usable bare (``@task``) too.

    With ``bind=True`` the function's first parameter is the task, as in Celery, and
    ``.logic`` is bound to the task object exactly like Celery's ``task.run``:
    ``.logic(...)`` takes the remaining parameters.
    """
    if app is not None and not isinstance(app, Celery) and callable(app):
        # Bare ``@celery_safe.task``: ``app`` is the decorated function.
        return _register(app, None, resources or {}, celery_options)
    if app is not None and not isinstance(app, Celery):
        raise TypeError(f"celery_safe.task(app): expected a Celery app, got {type(app).__name__}")

    def decorator(fn: Callable[..., Any]) -> Any:
        return _register(fn, app, resources or {}, celery_options)

    return decorator


def _register(
    fn: Callable[..., Any],
    app: Celery | None,
    resources: Mapping[str, ResourceFactory],
    options: dict[str, Any],
) -> Any:
    if not callable(fn) or isinstance(fn, (type, staticmethod, classmethod)):
        raise TypeError(f"celery_safe.task decorates a function, got {fn!r}")
    for reserved in (LOGIC_ATTR, RESOURCES_ATTR):
        if reserved in options:
            raise TypeError(f"celery_safe.task: {reserved!r} is set by celery_safe, not an option")
    resources = dict(resources)
    check_resources(fn, resources)
    bind = bool(options.get("bind", False))
    run = _with_resources(fn, resources, bind) if resources else fn
    # Celery copies unknown options onto the generated task class: the plain
    # function becomes ``task.logic`` (a method when bound, like ``task.run``).
    options = {
        **options,
        LOGIC_ATTR: fn if bind else staticmethod(fn),
        RESOURCES_ATTR: resources,
    }
    if app is None:
        return shared_task(**options)(run)
    return app.task(**options)(run)


def _with_resources(
    fn: Callable[..., Any], resources: Mapping[str, ResourceFactory], bind: bool
) -> Callable[..., Any]:
    """Wrap ``fn`` so each task run opens its resources; hide them from the task's signature."""
    signature = inspect.signature(fn)
    visible = [p for name, p in signature.parameters.items() if name not in resources]
    wrapper: Callable[..., Any]
    if bind:

        @functools.wraps(fn)
        def run_bound(self: Any, *args: Any, **kwargs: Any) -> Any:
            return call_with_resources(self.name, resources, fn, (self, *args), kwargs)

        wrapper = run_bound
    else:

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            return call_with_resources(_running_task_name, resources, fn, args, kwargs)

        def _running_task_name() -> str:
            from celery import current_task  # only when a resource failed

            name = getattr(current_task, "name", None)
            return str(name) if name else f"{fn.__module__}.{fn.__qualname__}"

        wrapper = run
    # Celery checks call arity against this signature: callers never pass resources.
    wrapper.__signature__ = signature.replace(parameters=visible)  # type: ignore[attr-defined]
    return wrapper


def task_logic(task_obj: Any) -> Callable[..., Any] | None:
    """The plain function behind a ``celery_safe.task``, or None for any other task."""
    # Looked up on the class (``__class__`` sees through Celery's lazy proxies),
    # where a staticmethod or a plain function both come back as the function.
    logic: Callable[..., Any] | None = getattr(task_obj.__class__, LOGIC_ATTR, None)
    return logic


def task_resources(task_obj: Any) -> Mapping[str, ResourceFactory]:
    """The resources a ``celery_safe.task`` opens around each run (empty otherwise)."""
    return dict(getattr(task_obj.__class__, RESOURCES_ATTR, None) or {})
