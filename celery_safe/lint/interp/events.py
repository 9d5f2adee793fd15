"""Typed events the interpreter raises as it walks a function; rules subscribe to them.

The walk (:class:`~.flow.FunctionFlow`) knows what every name holds at each point. At
the places that matter to Celery it raises an event — a call (:class:`CallEvent`), a
blocking join on a Celery result (:class:`~.facts.Join`), a loop (:class:`LoopEvent`),
a state written by ``update_state`` (:class:`StateEvent`), a canvas checked against
the canvas model (:class:`~.canvas.CanvasCheck`) — and calls the handlers subscribed
to it with a :class:`Scope` (what an expression evaluates to, the imports, where to
record). A handler records facts under its rule's code; the rule's check turns them
into findings. The walk never knows a rule, and only the enabled rules' handlers run:
the engine hands the walk their :class:`Subscribers`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from .canvas import CanvasCheck
from .facts import Join
from .imports import ImportMap
from .index import FunctionInfo, ModuleIndex
from .values import Value

__all__ = [
    "NOBODY",
    "CallEvent",
    "Handler",
    "Loop",
    "LoopEvent",
    "Scope",
    "StateEvent",
    "Subscribers",
]


class Scope(Protocol):
    """What a handler may ask of the walk where the event happened."""

    imports: ImportMap
    index: ModuleIndex
    info: FunctionInfo | None  # the function walked (``None``: the module's top level)

    def value(self, node: ast.expr | None) -> Value | None: ...

    def record(self, code: str, fact: Any) -> None: ...


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
class LoopEvent:
    """A ``while``/``for`` loop, once the walk has merged its names over the loop."""

    node: Loop


@dataclass(frozen=True)
class StateEvent:
    """``update_state(...)``: the state Celery will store and the meta stored with it.

    ``state`` is the state's name when it is a literal or one of ``celery.states``
    (``"FAILURE"``), else ``""``; ``meta`` the expression passed, if any.
    """

    node: ast.Call
    state: str
    meta: ast.expr | None


E = TypeVar("E")
Handler = Callable[[Scope, E], None]


@dataclass
class _Channel(Generic[E]):
    handlers: list[Handler[E]] = field(default_factory=list)

    def __call__(self, handler: Handler[E]) -> Handler[E]:
        """Subscribe ``handler`` (usable as a decorator)."""
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
    on_loop: _Channel[LoopEvent] = field(default_factory=_Channel)
    on_state: _Channel[StateEvent] = field(default_factory=_Channel)
    on_canvas: _Channel[CanvasCheck] = field(default_factory=_Channel)

    @property
    def channels(self) -> tuple[_Channel[Any], ...]:
        return (self.on_call, self.on_join, self.on_loop, self.on_state, self.on_canvas)

    def __bool__(self) -> bool:
        return any(channel.handlers for channel in self.channels)

    @classmethod
    def merged(cls, many: Iterable[Subscribers]) -> Subscribers:
        """One set of subscribers that calls every handler of ``many``, in order."""
        out = cls()
        for subscribers in many:
            for mine, theirs in zip(out.channels, subscribers.channels, strict=True):
                mine.handlers.extend(theirs.handlers)
        return out


#: No handler at all (the module analysis of a run with no rule that subscribes).
NOBODY = Subscribers()
