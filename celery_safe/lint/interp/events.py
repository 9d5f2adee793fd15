"""Typed events the interpreter raises as it walks a function; rules subscribe to them.

The walk (:class:`~.flow.FunctionFlow`) knows what every name holds at each point. At
the places that matter to Celery it raises an event — a call (:class:`CallEvent`), a
blocking join on a Celery result or on a parameter (:class:`Join`), a ``with
allow_join_result():`` block (:class:`AllowJoinEvent`), a function of the project that
runs as part of this one (:class:`HelperEvent`), a canvas's result being read
(:class:`ReadEvent`), a loop (:class:`LoopEvent`), a state written by ``update_state``
(:class:`StateEvent`), a canvas checked against the canvas model
(:class:`~.canvas.CanvasCheck`) — and calls the handlers subscribed to it with a
:class:`Scope` (what an expression evaluates to, the imports, where to record). A
handler records facts under a key (its rule's code, or one its family shares); the
rules turn them into findings. The walk records nothing for a rule by itself and never
knows one, and only the enabled rules' handlers run: the engine hands the walk their
:class:`Subscribers`, where a handler several rules subscribe runs once.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from .canvas import CanvasCheck
from .imports import ImportMap
from .index import FunctionInfo, ModuleIndex
from .values import Instance, Param, Result, Results, Value

if TYPE_CHECKING:
    from .facts import FunctionFacts

__all__ = [
    "NOBODY",
    "AllowJoinEvent",
    "CallEvent",
    "Handler",
    "HelperEvent",
    "Join",
    "Loop",
    "LoopEvent",
    "ReadEvent",
    "Scope",
    "StateEvent",
    "Subscribers",
    "Use",
]


class Scope(Protocol):
    """What a handler may ask of the walk where the event happened."""

    imports: ImportMap
    index: ModuleIndex
    info: FunctionInfo | None  # the function walked (``None``: the module's top level)

    def value(self, node: ast.expr | None) -> Value | None: ...

    def record(self, key: str, fact: Any) -> None:
        """Keep ``fact`` in this function's facts, under ``key`` (``FunctionFacts.found``)."""

    def summary(self, info: FunctionInfo) -> FunctionFacts | None:
        """The facts of the function ``info`` (a helper called here), its handlers' too;
        ``None`` while it is being computed (recursion)."""

    def method_named(self, base: Instance, name: str) -> FunctionInfo | None:
        """The method ``name`` of the project object ``base``, if its class has one."""


Loop = ast.While | ast.For | ast.AsyncFor


@dataclass(frozen=True)
class CallEvent:
    """A call, after its arguments were walked.

    ``method`` is the attribute called (``x.apply()``: ``"apply"``; ``f()``: ``None``)
    and ``receiver`` what the object it is called on evaluates to.
    """

    node: ast.Call
    method: str | None
    receiver: Value | None


@dataclass(frozen=True)
class Join:
    """A blocking join (``get``, ``wait``, ``join``...), or ``~sig`` (``method`` ``"~"``:
    Celery's ``Signature.__invert__`` is ``apply_async().get()``).

    ``value`` is what is joined: a Celery result, a parameter of the function walked
    (whoever passes it a result waits through it), or ``None`` when only Celery's own
    ``disable_sync_subtasks`` keyword says the object is a Celery result.
    """

    node: ast.Call | ast.UnaryOp
    method: str
    value: Result | Param | None
    allowed_by: ast.Call | None  # the ``allow_join_result()`` block it is in

    @property
    def allowed(self) -> bool:
        return self.allowed_by is not None

    @property
    def guard_off(self) -> bool:
        """It passes ``disable_sync_subtasks=False`` (only Celery's joins take it)."""
        return isinstance(self.node, ast.Call) and any(
            k.arg == "disable_sync_subtasks"
            and isinstance(k.value, ast.Constant)
            and k.value.value is False
            for k in self.node.keywords
        )


@dataclass(frozen=True)
class AllowJoinEvent:
    """``with allow_join_result():`` opens; the joins in its body carry it as ``allowed_by``."""

    node: ast.Call


@dataclass(frozen=True)
class HelperEvent:
    """A ``def`` of the project runs as part of the function walked.

    ``called``: ``node`` is the call (its arguments are the call's). Otherwise the
    function is handed out at ``node`` — passed to a call, stored, returned
    (``pool.map(fn, xs)``, ``{"done": fn}``) — and runs later, as part of this
    function unless proven otherwise, with arguments nobody knows here.
    """

    node: ast.expr
    callee: FunctionInfo
    called: bool


#: How a result is used without a join (a join is a :class:`Join` event).
Use = Literal["polled", "id", "returned"]


@dataclass(frozen=True)
class ReadEvent:
    """A Celery result, or a parameter that may hold one, is used here other than by a
    join (joins are :class:`Join` events): ``polled`` (``.ready()``, ``.state``,
    ``.result``...), its ``id`` read (to be sent somewhere: a response, a database), or
    ``returned`` (the caller decides how it is used). ``value.runs``, for a result: the
    source nodes of the canvases it is the result of.
    """

    value: Result | Results | Param
    how: Use


@dataclass(frozen=True)
class LoopEvent:
    """A ``while``/``for`` loop, once the walk has merged its names over the loop."""

    node: Loop


@dataclass(frozen=True)
class StateEvent:
    """A state stored with a meta: ``update_state(...)``, or through a result backend
    (``backend.store_result(id, meta, state)``, ``backend.mark_as_failure(id, exc)``).

    ``state`` is the state's name when it can be told (a literal, one of
    ``celery.states``, a module constant, a parameter's default: ``"FAILURE"``), else
    ``""``; ``state_node`` the expression giving it (a parameter: the caller's choice);
    ``meta`` the expression stored, if any; ``call`` what stores it (``"update_state"``,
    ``"backend.store_result"``...).
    """

    node: ast.Call
    state: str
    meta: ast.expr | None
    state_node: ast.expr | None = None
    call: str = "update_state"


E = TypeVar("E")
Handler = Callable[[Scope, E], None]


@dataclass
class _Channel(Generic[E]):
    handlers: list[Handler[E]] = field(default_factory=list)

    def __call__(self, handler: Handler[E]) -> Handler[E]:
        """Subscribe ``handler`` (usable as a decorator); a second time changes nothing."""
        if handler not in self.handlers:
            self.handlers.append(handler)
        return handler

    def raise_(self, scope: Scope, event: E) -> None:
        for handler in self.handlers:
            handler(scope, event)


@dataclass
class Subscribers:
    """The handlers of one rule, or of every enabled rule once :meth:`merged`."""

    on_call: _Channel[CallEvent] = field(default_factory=_Channel)
    on_join: _Channel[Join] = field(default_factory=_Channel)
    on_allow_join: _Channel[AllowJoinEvent] = field(default_factory=_Channel)
    on_helper: _Channel[HelperEvent] = field(default_factory=_Channel)
    on_read: _Channel[ReadEvent] = field(default_factory=_Channel)
    on_loop: _Channel[LoopEvent] = field(default_factory=_Channel)
    on_state: _Channel[StateEvent] = field(default_factory=_Channel)
    on_canvas: _Channel[CanvasCheck] = field(default_factory=_Channel)

    @property
    def channels(self) -> tuple[_Channel[Any], ...]:
        return (
            self.on_call,
            self.on_join,
            self.on_allow_join,
            self.on_helper,
            self.on_read,
            self.on_loop,
            self.on_state,
            self.on_canvas,
        )

    def __bool__(self) -> bool:
        return any(channel.handlers for channel in self.channels)

    @classmethod
    def merged(cls, many: Iterable[Subscribers]) -> Subscribers:
        """One set of subscribers that calls every handler of ``many``, in order; a
        handler several of them share (a rule family's recorder) is called once."""
        out = cls()
        for subscribers in many:
            for mine, theirs in zip(out.channels, subscribers.channels, strict=True):
                for handler in theirs.handlers:
                    mine(handler)
        return out


#: No handler at all (the module analysis of a run with no rule that subscribes).
NOBODY = Subscribers()
