"""What the analysis learns about each function; rules read these, never the tree."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from .canvas import CanvasCheck
from .index import FunctionInfo
from .values import Param, Result, Value

__all__ = ["FunctionFacts", "HelperCall", "Join"]


@dataclass(frozen=True)
class Join:
    """A blocking join; ``value`` is the joined result (``None``: known only by its keyword)."""

    node: ast.Call
    method: str
    value: Result | Param | None
    allowed_by: ast.Call | None  # the ``allow_join_result()`` block it is in

    @property
    def allowed(self) -> bool:
        return self.allowed_by is not None


@dataclass(frozen=True)
class HelperCall:
    """A call to a ``def``; ``args`` maps parameters to tracked values.

    ``node`` is the call, or where the function is handed out to be run later (passed
    to a call, stored, returned: ``pool.map(fn, xs)``, ``{"done": fn}``): a function a
    task hands out runs as part of the task unless proven otherwise.
    """

    node: ast.expr
    callee: FunctionInfo
    args: dict[str, Value]


@dataclass(eq=False)
class FunctionFacts:
    """Everything one function (or the module's top level, ``info is None``) does."""

    info: FunctionInfo | None
    joins: list[Join] = field(default_factory=list)
    param_joins: dict[str, Join] = field(default_factory=dict)
    calls: list[HelperCall] = field(default_factory=list)
    allow_joins: list[ast.Call] = field(default_factory=list)
    canvas: list[CanvasCheck] = field(default_factory=list)
    returns: Value | None = None
    #: the canvas it returns (``return [t.s(x) for x in xs]``), for a chord header
    returns_canvas: Value | None = None
    #: the project object (or tuple holding one) it returns: ``return self``, ``return r, self``
    returns_object: Value | None = None
    #: the canvases (their source nodes, by ``id``) whose result is used here: joined or
    #: polled (``.ready()``, ``.state``), here or by a helper given it (not fire-and-forget;
    #: a result returned is used where the caller uses it)
    read_canvases: set[int] = field(default_factory=set)
    #: the canvases whose result's id is read here (stored, sent in a response)
    sent_canvases: set[int] = field(default_factory=set)
    #: a result made from an id (``AsyncResult(id)``, ``GroupResult.restore``) is used here
    uses_restored: bool = False
    #: its parameters it joins or polls
    param_reads: set[str] = field(default_factory=set)
    #: the methods it calls on each parameter (``def helper(runner): runner.run()``): a
    #: caller passing a project object runs those methods of its class
    param_methods: dict[str, set[str]] = field(default_factory=dict)
    #: facts the enabled rules' handlers recorded here (see ``events``), by code
    found: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def is_task(self) -> bool:
        return self.info is not None and self.info.task is not None
