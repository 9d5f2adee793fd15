"""The abstract values the data-flow pass tracks for local names.

Only values that matter are tracked: a Celery result, a container of results, a
canvas, a task, a parameter (for helpers that join what they are given), a bound join
method (``j = res.join_native``), a result class (``GroupResult=app.GroupResult``), and
"foreign" objects (a ``multiprocessing.Pool``) whose methods are never Celery's.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from typing import Literal

from ..canvas.model import Node
from .index import FunctionInfo, ModuleIndex

__all__ = ["JOINS", "Kind", "Value"]

#: Methods of a Celery result that block until the task finishes.
JOINS = frozenset({"get", "wait", "join", "join_native", "collect", "get_leaf", "iter_native"})

Kind = Literal[
    "result",
    "results",
    "canvas",
    "task",
    "param",
    "join_method",
    "result_class",
    "foreign",
    "eager",  # what ``x.apply()`` of an unknown ``x`` returns: no worker is waited for
    "instance",  # an object of a project class (``Poller()``): its methods can be followed
    "tuple",  # a fixed-length tuple whose items matter (``return work.delay(), self``)
]


@dataclass(frozen=True)
class Value:
    kind: Kind
    origin: ast.Call | None = None  # the call that produced the result
    method: str = ""  # delay / apply_async / apply / send_task / AsyncResult / ...
    callee: str = ""  # source of the task expression the result came from
    via: tuple[str, ...] = ()  # names the value flowed through
    param: str = ""  # for kind "param": the parameter's name
    canvas: Node | None = None  # for kind "canvas"
    task: FunctionInfo | None = None  # for kind "task", when its definition is known
    qualified: str = ""  # for kind "task": the imported name, to look the definition up
    origin_path: str = ""  # set when ``origin`` is in another file (an imported helper)
    join: str = ""  # for kind "join_method"
    base: Value | None = None  # for kind "join_method": the result it is bound to
    #: a tuple's items, by position, when its length is known (``a, b = f()`` unpacks them)
    items: tuple[Value | None, ...] = ()
    #: for kind "instance": the module where ``callee`` (a class defined there) or
    #: ``qualified`` (a name imported there) means that class; ``None``: the one checked
    home: ModuleIndex | None = None

    def named(self, name: str) -> Value:
        """This value, now also known as ``name``."""
        if name in self.via:
            return self
        return replace(self, via=(*self.via, name))

    def element(self) -> Value | None:
        """What iterating or indexing this value yields."""
        if self.kind in ("results", "result"):
            return replace(self, kind="result", items=())
        if self.kind == "param":
            return self
        return None

    def collection(self) -> Value:
        """A container holding this value."""
        if self.kind == "result":
            return replace(self, kind="results")
        return replace(self, items=()) if self.items else self
