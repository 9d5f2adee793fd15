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
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, overload

from celery import Celery, shared_task

from .resources import ResourceFactory, check_resources, open_resources

if TYPE_CHECKING:
    from typing_extensions import Concatenate, ParamSpec
else:  # pragma: no cover - typing only
    try:
        from typing import Concatenate, ParamSpec
    except ImportError:  # Python 3.9 and older are not supported anyway
        from typing_extensions import Concatenate, ParamSpec

P = ParamSpec("P")
R = TypeVar("R", covariant=True)

__all__ = ["SafeTask", "task", "task_logic", "task_resources"]

#: Class attributes that ``celery_safe.task`` adds to the generated task class.
LOGIC_ATTR = "logic"
RESOURCES_ATTR = "__celery_safe_resources__"


class SafeTask(Protocol, Generic[P, R]):
    """What ``celery_safe.task`` returns: a Celery task that also carries ``.logic``."""

    name: str
    logic: Callable[P, R]

    def __call__(self, *args: Any, **kwargs: Any) -> Any: ...
    def delay(self, *args: Any, **kwargs: Any) -> Any: ...
    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any: ...
    def apply(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any: ...
    def s(self, *args: Any, **kwargs: Any) -> Any: ...
    def si(self, *args: Any, **kwargs: Any) -> Any: ...
    def signature(self, args: Any = None, *starargs: Any, **starkwargs: Any) -> Any: ...


class _Decorator(Protocol):
    @overload
    def __call__(self, fn: Callable[P, R]) -> SafeTask[P, R]: ...
    @overload
    def __call__(self, fn: Callable[..., R]) -> SafeTask[..., R]: ...


class _BoundDecorator(Protocol):
    def __call__(self, fn: Callable[Concatenate[Any, P], R]) -> SafeTask[P, R]: ...


@overload
def task(app: Callable[P, R], /) -> SafeTask[P, R]: ...
@overload
def task(
    app: Celery | None = None,
    /,
    *,
    bind: Literal[True],
    resources: Mapping[str, ResourceFactory] | None = None,
    **celery_options: Any,
) -> _BoundDecorator: ...
@overload
def task(
    app: Celery | None = None,
    /,
    *,
    resources: Mapping[str, ResourceFactory] | None = None,
    **celery_options: Any,
) -> _Decorator: ...
def task(
    app: Any = None,
    /,
    *,
    resources: Mapping[str, ResourceFactory] | None = None,
    **celery_options: Any,
) -> Any:
    """Register a function as a Celery task and keep it callable as ``task.logic``.

    ``app`` is the Celery app (``app.task`` registers it); without one the task is a
    ``shared_task``. ``resources`` maps parameter names to zero-argument factories of
    context managers opened around each task run. Every other keyword is a normal
    Celery task option (``bind``, ``name``, ``base``, ``autoretry_for``, ...).

    With ``bind=True`` the function's first parameter is the task (as in Celery);
    ``.logic`` is then bound to the task object, exactly like Celery's ``task.run``,
    so ``.logic(...)`` takes the remaining parameters.
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
    if not callable(fn) or isinstance(fn, type):
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
    if bind:

        @functools.wraps(fn)
        def run_bound(self: Any, *args: Any, **kwargs: Any) -> Any:
            with open_resources(self.name, resources) as opened:
                return fn(self, *args, **kwargs, **opened)

        wrapper = run_bound
    else:
        task_name = f"{fn.__module__}.{fn.__qualname__}"

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with open_resources(task_name, resources) as opened:
                return fn(*args, **kwargs, **opened)

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
