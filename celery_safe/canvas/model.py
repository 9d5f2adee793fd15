"""The canvas model: what a workflow is made of, as both front-ends describe it.

A front-end turns what it sees into these plain objects, then :func:`~.check.check`
decides every canvas problem on them:

* the runtime (``celery_safe.workflows``) from Celery ``Signature`` objects, with the
  registered task, its real arguments and the app's backend;
* the linter (``celery_safe.lint``) from source, with the ``def`` it resolved and the
  arguments as written.

What a front-end cannot know is ``None`` (an argument count behind ``*args``, keywords
behind ``**options``, a task it could not resolve), and a check that needs it stays
silent rather than guess.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .params import Params
from .types import MISSING

__all__ = ["Chain", "Chord", "Group", "Mapped", "Node", "Step", "TaskSpec", "Unregistered"]


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """What is known about a task: how Celery calls it and whether it stores results."""

    name: str
    #: None: the parameters cannot be read (no arity checks).
    params: Params | None
    ignore_result: bool = False
    #: Celery calls it as ``(request, exc, traceback)`` when it is an error callback.
    errback_style: bool = False
    #: Celery's own tasks (``celery.chord_unlock``...) take internal arguments.
    builtin: bool = False
    #: Its return annotation as a type hint (``types.MISSING``: none, or unreadable).
    returns: Any = MISSING
    #: Its code calls ``self.replace(group(...))`` (CSF212 in a chord header).
    replaces_with_group: bool = False


@dataclass(frozen=True, slots=True)
class Unregistered:
    """A task name the app does not know: the app, and the names it does know."""

    app: str
    known: Collection[str]
    #: why the worker does not register it, when the name is defined but its module is
    #: one the worker never imports (the linter's model of the worker's imports)
    reason: str = ""


#: The built-in task each kind of map runs as.
MAP_TASKS = {"map": "celery.map", "starmap": "celery.starmap", "chunks": "celery.chunks"}


@dataclass(frozen=True, slots=True)
class Mapped:
    """What ``task.map(it)``, ``task.starmap(it)`` or ``task.chunks(it, n)`` runs: Celery's
    built-in task calls ``task`` in the worker with each item of ``it``, as its one
    argument (``map``) or splatted (``starmap``, ``chunks``); the signature's own
    arguments are dropped, and so is a parent's result in a chain (measured:
    ``tests/workflows/test_wf_map_chunks.py``)."""

    task: Step
    #: "map", "starmap" or "chunks"
    kind: str
    #: Each item's arguments as written (None for an item whose arguments cannot be
    #: counted); None when the items are not known.
    items: Sequence[Sequence[Any] | None] | None = None

    def step(self, origin: Any = None) -> Step:
        """The step of the built-in task: immutable (a parent's result never reaches the
        items: ``xmap``/``xstarmap`` are immutable signatures, and a worker rebuilds
        ``chunks`` from its keyword arguments alone)."""
        return Step(immutable=True, origin=origin, name=MAP_TASKS[self.kind], mapped=self)


@dataclass(slots=True, eq=False)
class Node:
    """What every piece of a canvas has: callbacks, immutability, and its origin."""

    immutable: bool = False
    links: Sequence[Node] = ()
    errbacks: Sequence[Node] = ()
    #: What the front-end built it from (a ``Signature``, an ``ast`` node).
    origin: Any = None


@dataclass(slots=True, eq=False)
class Step(Node):
    """One task signature: ``add.s(2)``, ``add.si(2, 2)``, ``signature("add", ...)``."""

    name: str = ""
    spec: TaskSpec | None = None
    #: The positional arguments bound in the signature; None when not countable.
    args: Sequence[Any] | None = ()
    #: Keyword arguments by name; None when the names are not known.
    kwargs: Mapping[str, Any] | None = field(default_factory=dict)
    #: ``ignore_result`` set on the signature itself (``.set(ignore_result=True)``).
    ignore_result: bool | None = None
    #: The serializer the arguments will be sent with (None: not checked).
    serializer: str | None = None
    #: Known not to be registered with the app that sends it (CSF206).
    unregistered: Unregistered | None = None
    #: Seconds after sending that it is due (its countdown or ETA); None: at once.
    countdown: float | None = None
    #: A map/starmap/chunks over another task (this step is Celery's built-in).
    mapped: Mapped | None = None


@dataclass(slots=True, eq=False)
class Chain(Node):
    """Steps run one after another; each mutable step gets its parent's result."""

    steps: Sequence[Node | None] = ()


@dataclass(slots=True, eq=False)
class Group(Node):
    """Members run in parallel; the group's result is the list of theirs.

    ``exact`` is False when the members are a template repeated an unknown number of
    times (``group(t.s(x) for x in xs)``): one member stands for all of them.
    """

    members: Sequence[Node | None] = ()
    exact: bool = True


@dataclass(slots=True, eq=False)
class Chord(Node):
    """A header group whose list of results is passed to the body."""

    header: Group = field(default_factory=Group)
    body: Node | None = None
