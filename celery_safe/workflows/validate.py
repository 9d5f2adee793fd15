"""``validate(canvas)``: every problem a worker would hit, found before anything is sent.

The runtime front-end of :mod:`celery_safe.canvas`: it describes a Celery canvas as the
canvas model (the registered task, its parameters as Celery calls it, the real
arguments, the serializer, the app's result backend) and lets the model's one set of
checks decide. The linter describes source code to the same checks.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
import textwrap
import weakref
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from celery import Celery
from celery.backends.base import DisabledBackend
from celery.canvas import Signature, signature

from ..canvas import OPEN, Chain, Chord, Group, Mapped, Node, Step, TaskSpec, Unregistered
from ..canvas import check as check_model
from ..canvas.check import Backend, workflow_arguments
from ..canvas.model import MAP_TASKS
from ..canvas.problems import Problem
from ..canvas.replaces import replaces_with_group
from ..celery_internals import (
    chord_orders_replaced_group,
    group_group_mislinks,
    header_ignoring_results_reaches_body,
    header_values_expire,
)
from .params import errback_style, params_of, returns_of
from .shapes import (
    app_of,
    chain_tasks,
    chord_header,
    group_members,
    is_chain,
    is_chord,
    is_group,
    link_errbacks,
    links,
)

__all__ = ["describe", "validate"]

#: Celery's built-in tasks (``celery.map``, ``celery.chord_unlock``...) take internal arguments.
_BUILTIN = "celery."
#: Celery's built-in task name -> the kind of map it runs (``canvas.Mapped``).
_MAP_KINDS = {name: kind for kind, name in MAP_TASKS.items()}


def validate(
    canvas: Signature,
    *,
    app: Celery | None = None,
    args: tuple[Any, ...] | None = None,
    ignore: Collection[str] = (),
) -> list[Problem]:
    """Every problem in ``canvas`` (a signature, chain, group or chord), in workflow order.

        problems = validate(chain(fetch.s(url), parse.s()), args=())
        assert problems == [], "\\n".join(map(str, problems))

    ``args`` are the arguments the canvas will be called with (``canvas.delay(*args)``).
    Left as None, they are unknown — the canvas may be a piece composed into a larger
    workflow later — so its first steps may take one argument more or not.
    ``app`` defaults to the canvas's own app; ``ignore`` skips codes (e.g. ``{"CSF206"}``
    for a workflow that sends tasks registered only in another service).
    """
    if not isinstance(canvas, Signature):
        raise TypeError(f"validate() expects a Celery signature or canvas, got {canvas!r}")
    owner = app_of(canvas, app)
    received = OPEN if args is None else workflow_arguments(args)
    return check_model(
        describe(canvas, owner),
        receives=received,
        backend=lambda: chord_backend(owner),
        ignore=(*ignore, *(() if group_group_mislinks() else ("CSF209",))),
    )


def describe(canvas: Signature, app: Celery) -> Node:
    """The canvas model of a Celery canvas, as ``app`` would send it."""
    return _Describer(app).node(canvas)


class _Describer:
    def __init__(self, app: Celery) -> None:
        self.app = app
        self.specs: dict[int, TaskSpec | None] = {}

    def node(self, sig: Signature) -> Node:
        # Signatures are dicts: item access skips Celery's property descriptors (hot path).
        options = sig["options"]
        node: Node
        if is_chord(sig):
            header = Group(members=[self.node(m) for m in chord_header(sig, self.app)])
            body = sig.body
            node = Chord(
                immutable=sig["immutable"], origin=sig, header=header,
                body=None if body is None else self.node(body),
            )
        elif is_chain(sig):
            steps = [self.node(s) for s in chain_tasks(sig, self.app)]
            node = Chain(immutable=sig["immutable"], origin=sig, steps=steps)
        elif is_group(sig):
            members = [self.node(m) for m in group_members(sig, self.app)]
            node = Group(immutable=sig["immutable"], origin=sig, members=members)
        else:
            node = self.step(sig, options)
        if "link" in options or "link_error" in options:
            node.links = [self.node(cb) for cb in links(sig)]
            node.errbacks = [self.node(eb) for eb in link_errbacks(sig)]
        return node

    def step(self, sig: Signature, options: dict[str, Any]) -> Step:
        name: str = sig["task"]
        task = sig._type
        app = sig._app or self.app
        if task is None:
            task = app.tasks.get(name)
        if task is None:
            return Step(
                immutable=sig["immutable"],
                origin=sig,
                name=name,
                args=sig["args"],
                kwargs=sig["kwargs"],
                unregistered=Unregistered(str(app.main), _Names(app)),
            )
        serializer = (
            options.get("serializer") or getattr(task, "serializer", None)
            or app.conf.task_serializer
        )
        kind = _MAP_KINDS.get(name)
        kwargs = sig["kwargs"]
        mapped = None
        if kind is not None and isinstance(kwargs, dict) and "task" in kwargs:
            mapped = self.mapped(sig, kind)
        return Step(
            # a map's parent result never reaches it (``Mapped.step``)
            immutable=sig["immutable"] or mapped is not None,
            origin=sig,
            name=name,
            spec=self.spec(task, name),
            args=sig["args"],
            kwargs=kwargs,
            ignore_result=options.get("ignore_result"),
            serializer=serializer,
            countdown=due_in(options),
            mapped=mapped,
        )

    def mapped(self, sig: Signature, kind: str) -> Mapped | None:
        """``task.map(it)``, ``starmap``, ``chunks``: the task each item is given to, and
        the items (read once: ``it`` may be a generator Celery keeps as ``regen``)."""
        kwargs = sig["kwargs"]
        task = self.node(signature(kwargs["task"], app=sig._app or self.app))
        items = kwargs.get("it")
        counted: list[tuple[Any, ...] | None] | None = None
        if isinstance(items, (list, tuple)) or type(items).__name__ == "_regen":
            counted = [
                (item,) if kind == "map"
                else tuple(item) if isinstance(item, (list, tuple)) else None
                for item in items
            ]
        return Mapped(task, kind, counted) if isinstance(task, Step) else None

    def spec(self, task: Any, name: str) -> TaskSpec | None:
        key = id(task)
        try:
            return self.specs[key]
        except KeyError:
            pass
        spec = TaskSpec(
            name,
            params_of(task),
            ignore_result=bool(getattr(task, "ignore_result", False)),
            errback_style=errback_style(task),
            builtin=name.startswith(_BUILTIN),
            returns=returns_of(task),
            replaces_with_group=_replaces_with_group(task),
        )
        self.specs[key] = spec
        return spec


class _Names(Collection[str]):
    """An app's task names, read only when a message needs them ("did you mean")."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def __iter__(self) -> Any:
        return iter(list(self.app.tasks.keys()))

    def __len__(self) -> int:
        return len(self.app.tasks)

    def __contains__(self, name: object) -> bool:
        return name in self.app.tasks


def chord_backend(app: Celery) -> Backend:
    """What ``app``'s result backend does to chords, on the installed Celery."""
    problem = _backend_problem(app)
    if problem is not None or app.conf.task_always_eager:
        return Backend(problem)
    kind = _backend_kind(app.backend)
    expires = getattr(app.backend, "expires", None) if header_values_expire(kind) else None
    return Backend(
        problem,
        keeps_header_values=header_ignoring_results_reaches_body(kind),
        orders_replaced_groups=chord_orders_replaced_group(kind),
        header_values_expire_after=_seconds(expires),
    )


def _seconds(value: Any) -> float | None:
    """``result_expires`` as seconds (a number or a timedelta; None or 0: never)."""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return float(value)


def due_in(options: dict[str, Any]) -> float | None:
    """Seconds after sending that a signature's message is due (``countdown`` or ``eta``)."""
    countdown = _seconds(options.get("countdown"))
    if countdown is not None:
        return countdown
    eta = options.get("eta")
    if isinstance(eta, str):
        try:
            eta = datetime.fromisoformat(eta)
        except ValueError:
            return None
    if isinstance(eta, datetime):
        now = datetime.now(eta.tzinfo) if eta.tzinfo else datetime.now()
        return _seconds(eta - now)
    return None


#: (module, class) -> the name :mod:`celery_safe.celery_internals` measures it under.
_KINDS = {
    ("celery.backends.redis", "RedisBackend"): "redis",
}
#: The package whose ``SQLiteBackend`` is the embedded backend: a backend of that class
#: exists only once the package is imported, so it is looked up there, never imported.
_EMBEDDED_PACKAGE = "celery_safe.embedded"


def _embedded_backend_class() -> type | None:
    """celery-safe's embedded result backend class, if its package is loaded."""
    return getattr(sys.modules.get(_EMBEDDED_PACKAGE), "SQLiteBackend", None)


def _backend_kind(backend: Any) -> str:
    """``"redis"`` for Celery's Redis backend or a subclass (Sentinel), ``"embedded"``
    for celery-safe's (or a subclass), else ``"other"`` (without importing redis or
    sqlalchemy)."""
    embedded = _embedded_backend_class()
    if embedded is not None and isinstance(backend, embedded):
        return "embedded"
    for cls in type(backend).__mro__:
        kind = _KINDS.get((cls.__module__, cls.__name__))
        if kind is not None:
            return kind
    return "other"


_replaces: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _replaces_with_group(task: Any) -> bool:
    """Whether ``task``'s code calls ``self.replace(group(...))``: read once per task
    from its function's source (False when the source cannot be read)."""
    try:
        return _replaces[task]
    except KeyError:
        pass
    found = False
    try:
        function = inspect.unwrap(getattr(task.run, "__func__", task.run))
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (AttributeError, OSError, TypeError, SyntaxError, ValueError):
        tree = None
    if tree is not None:
        functions = (ast.FunctionDef, ast.AsyncFunctionDef)
        definition = next((node for node in tree.body if isinstance(node, functions)), None)
        if definition is not None:
            found = replaces_with_group(definition, _Resolver(function, definition))
    _replaces[task] = found
    return found


class _Resolver:
    """A name in a function's code -> the qualified name of what it is at runtime
    (``from x import y`` inside the function first, then its closure and globals)."""

    def __init__(self, function: Any, definition: ast.AST) -> None:
        try:
            seen = inspect.getclosurevars(function)
            self.globals: dict[str, Any] = {**seen.globals, **seen.nonlocals}
        except (TypeError, ValueError):
            self.globals = {}
        self.imported: dict[str, tuple[str, str]] = {
            alias.asname or alias.name: (node.module, alias.name)
            for node in ast.walk(definition)
            if isinstance(node, ast.ImportFrom) and node.module and not node.level
            for alias in node.names
        }

    def __call__(self, node: ast.expr) -> str | None:
        try:
            found = self.value(node)
        except (AttributeError, ImportError, KeyError):
            return None
        module = getattr(found, "__module__", None)
        name = getattr(found, "__qualname__", None)
        return f"{module}.{name}" if module and name else None

    def value(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Attribute):
            return getattr(self.value(node.value), node.attr)
        if not isinstance(node, ast.Name):
            raise KeyError(node)
        if node.id in self.imported:
            module, name = self.imported[node.id]
            return getattr(importlib.import_module(module), name)
        return self.globals[node.id]


def _backend_problem(app: Celery) -> str | None:
    """Why ``app`` cannot run a chord, or None when it can."""
    if app.conf.task_always_eager:
        return None  # eager chords run in-process, without a backend
    backend = app.backend
    if isinstance(backend, DisabledBackend):
        return f"app {app.main!r} has no result backend (result_backend is not set)"
    try:
        backend.ensure_chords_allowed()
    except NotImplementedError as exc:
        kind = type(backend).__name__
        return f"app {app.main!r} uses {kind}, which cannot: {str(exc).splitlines()[0]}"
    return None
