"""The abstract values the interpreter tracks for names: a union of small frozen types.

Only values that matter are tracked: a Celery result (:class:`Result`), a container of
results (:class:`Results`), an eager result (:class:`Eager`), a canvas (:class:`Canvas`),
a task (:class:`TaskRef`), a parameter (:class:`Param`, for helpers that join what they
are given), a bound join method (:class:`JoinMethod`, ``j = res.join_native``), a result
class (:class:`ResultClass`, ``GroupResult=app.GroupResult``), a "foreign" object
(:class:`Foreign`: a ``multiprocessing.Pool``, whose methods are never Celery's), an
object of a project class (:class:`Instance`), a fixed-length tuple whose items
matter (:class:`TupleOf`), a Django QuerySet (:class:`QuerySet`), an object no serializer
but pickle carries (:class:`Refused`: a set, a generator, a function) and a list, tuple
or dict written in the source holding some of these (:class:`Holding`). Code asks what
a value is with ``match``/``isinstance``.

A value a name holds on some paths only (the merge of an ``if`` whose branches disagree,
a name bound in a loop's body) is ``unsure``: the join rules follow it all the same
(what a name *may* hold), the rules that report what a value *is* do not.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar, Union

from ...canvas.model import Node

if TYPE_CHECKING:
    from .index import FunctionInfo, ModuleIndex

__all__ = [
    "HELD",
    "JOINS",
    "Canvas",
    "Eager",
    "Foreign",
    "Holding",
    "Instance",
    "JoinMethod",
    "Param",
    "QuerySet",
    "Refused",
    "Result",
    "ResultClass",
    "Results",
    "TaskRef",
    "TupleOf",
    "Value",
    "Zipped",
    "collection",
    "element",
    "holds_results",
    "named",
]

#: Methods of a Celery result that block until the task finishes.
JOINS = frozenset({"get", "wait", "join", "join_native", "collect", "get_leaf", "iter_native"})


@dataclass(frozen=True, kw_only=True)
class _Tracked:
    #: the names the value flowed through, in order
    via: tuple[str, ...] = ()
    #: held on some paths only (see the module's doc)
    unsure: bool = False


@dataclass(frozen=True, kw_only=True)
class _Produced(_Tracked):
    """Something a call produced: where, by which method, on what."""

    origin: ast.Call | None = None  # the call that produced it
    method: str = ""  # delay / apply_async / apply / send_task / AsyncResult / ...
    callee: str = ""  # source of the task expression it came from
    origin_path: str = ""  # set when ``origin`` is in another file (an imported helper)
    #: the source nodes of the canvas whose run produced it (``chord(h, b).delay()``)
    runs: tuple[ast.AST, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Result(_Produced):
    """One Celery result: joining it waits for a worker.

    ``ignored``: sent with its result ignored (the task's ``ignore_result=True``, or
    ``apply_async(..., ignore_result=True)``): Celery's ``AsyncResult.get``/``wait``
    return ``None`` at once, before the join-in-task check (5.3-5.7). Not carried into
    containers (one of several results being ignored says nothing of the others).
    """

    ignored: bool = False


@dataclass(frozen=True, kw_only=True)
class Results(_Produced):
    """A container of Celery results (its elements are :class:`Result`)."""

    #: its items by position, when it is a tuple of known length
    items: tuple[Value | None, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Eager(_Produced):
    """What ``x.apply()`` of an unknown ``x`` returns: no worker is waited for."""


@dataclass(frozen=True, kw_only=True)
class Canvas(_Tracked):
    """A signature or canvas, with its shape when known.

    ``listed``: a Python list (or tuple) of signatures, not a Celery canvas: its shape is
    a :class:`~celery_safe.canvas.model.Group` of the items, ``exact`` when the items are
    known in order on every path (``chain(tasks)`` folds them; ``group(tasks)`` takes them).
    """

    canvas: Node | None = None
    listed: bool = False
    #: a lone signature of a task written here (``t.s(order)``): the task, and its own
    #: arguments where they decide what it can be sent as (``.args[0]``); forgotten once
    #: the signature may change (see ``Holding``)
    task: TaskRef | None = None
    arguments: Holding | None = None


@dataclass(frozen=True, kw_only=True)
class TaskRef(_Tracked):
    """A task: ``task`` when its definition is known, ``qualified`` to look it up."""

    callee: str = ""
    task: FunctionInfo | None = None
    qualified: str = ""


@dataclass(frozen=True, kw_only=True)
class Param(_Tracked):
    """A parameter of the function analysed (a helper may join what it is given)."""

    name: str


@dataclass(frozen=True, kw_only=True)
class JoinMethod(_Tracked):
    """A join method bound to a result: ``j = res.join_native``."""

    join: str
    base: Result


@dataclass(frozen=True, kw_only=True)
class ResultClass(_Tracked):
    """A class whose instances are results (``GroupResult=app.GroupResult``)."""

    callee: str = ""


@dataclass(frozen=True, kw_only=True)
class Foreign(_Tracked):
    """An object of a library that is not Celery (a process pool): never a result."""


@dataclass(frozen=True, kw_only=True)
class Instance(_Tracked):
    """An object of a project class (``Poller()``): its methods can be followed.

    ``home`` is the module where ``callee`` (a class defined there) or ``qualified``
    (a name imported there) means that class; ``None``: the module checked.
    """

    callee: str = ""
    qualified: str = ""
    home: ModuleIndex | None = None


@dataclass(frozen=True, kw_only=True)
class TupleOf(_Tracked):
    """A fixed-length tuple whose items matter (``return work.delay(), self``)."""

    items: tuple[Value | None, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Zipped(_Tracked):
    """``zip(xs, results)``: each item is a tuple whose positions hold what each zipped
    iterable's items are (``for x, r in zip(xs, results)``: ``r`` is a result, ``x`` is
    not). Made only when one of them holds results (or is a parameter)."""

    items: tuple[Value | None, ...] = ()


@dataclass(frozen=True, kw_only=True)
class QuerySet(_Tracked):
    """A Django QuerySet of ``model``'s rows (``M.objects.filter(...)``, ``.values()``):
    ``rows`` says what iterating it gives, ``"objects"`` of the model or ``"values"``
    (dicts, tuples, flat values). Empty or not, kombu's JSON refuses the QuerySet itself."""

    model: Instance
    rows: str = "objects"


@dataclass(frozen=True, kw_only=True)
class Refused(_Tracked):
    """An object of a kind kombu's JSON refuses, by its key in
    :data:`~celery_safe.canvas.encoding.JSON_REFUSES` (a set literal, a generator)."""

    kind: str


@dataclass(frozen=True, kw_only=True)
class Holding(_Tracked):
    """A list, tuple or dict made here (``[order]``, ``{"user": user}``, ``dict(o=o)``)
    with, at some of its places (``"[0]"``, ``"['user']"``), a value that decides what it
    can be sent as (:data:`HELD`); ``origin`` is where it was made (a change through any
    name holding it forgets it)."""

    items: tuple[tuple[str, Value], ...] = ()
    origin: ast.AST | None = None


Value = Union[  # noqa: UP007 (a runtime alias: ``X | Y`` of classes needs 3.10's types)
    Result,
    Results,
    Eager,
    Canvas,
    TaskRef,
    Param,
    JoinMethod,
    ResultClass,
    Foreign,
    Instance,
    TupleOf,
    Zipped,
    QuerySet,
    Refused,
    Holding,
]

#: What a :class:`Holding` keeps: values that say what a serializer can do with it.
HELD = (Instance, QuerySet, Refused, Holding, TupleOf)

_V = TypeVar("_V", bound=_Tracked)


def named(value: _V, name: str) -> _V:
    """``value``, now also known as ``name``."""
    if name in value.via:
        return value
    return replace(value, via=(*value.via, name))


_P = TypeVar("_P", bound=_Produced)


def _as(kind: type[_P], value: _Produced) -> _P:
    """``value``'s provenance, as a value of ``kind`` (one result <-> a container of them)."""
    return kind(
        origin=value.origin,
        method=value.method,
        callee=value.callee,
        origin_path=value.origin_path,
        via=value.via,
        runs=value.runs,
    )


def element(value: Value) -> Value | None:
    """What iterating or indexing ``value`` yields."""
    match value:
        case Result() | Results():
            return _as(Result, value)
        case Param():
            return value
        case Zipped(items=items, via=via):
            return TupleOf(items=items, via=via)
        case QuerySet(model=model, rows="objects", unsure=unsure):
            return replace(model, unsure=unsure)  # ``for order in Order.objects.all()``
    return None


def collection(value: Value) -> Value:
    """A container holding ``value``."""
    match value:
        case Result():
            return _as(Results, value)
        case Results(items=items) | TupleOf(items=items) if items:
            return replace(value, items=())
    return value


def holds_results(value: Value | None) -> bool:
    """A result, or a container of them."""
    return isinstance(value, (Result, Results))
