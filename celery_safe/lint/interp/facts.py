"""What the analysis learns about each function: what it returns, for the evaluation of
calls to it, and what the enabled rules' handlers recorded there (``found``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .index import FunctionInfo
from .values import Value

__all__ = ["FunctionFacts"]


@dataclass(eq=False)
class FunctionFacts:
    """One function (or the module's top level, ``info is None``) as a caller sees it."""

    info: FunctionInfo | None
    returns: Value | None = None
    #: the canvas it returns (``return [t.s(x) for x in xs]``), for a chord header
    returns_canvas: Value | None = None
    #: the project object (or tuple holding one) it returns: ``return self``, ``return r, self``
    returns_object: Value | None = None
    #: what every ``return`` of it gives, when they agree on a value a serializer
    #: decides about (a model object, a QuerySet, a container holding one: ``values.HELD``)
    returns_held: Value | None = None
    #: its returns disagree (or it may end without one, or is a generator, a coroutine)
    returns_mixed: bool = False
    #: a method's ``self.X`` holding Celery results when it ends, by ``X``: another
    #: method of the object reads them (``self.pending.append(t.delay())`` ... ``.get()``)
    stores: dict[str, Value] = field(default_factory=dict)
    #: facts the enabled rules' handlers recorded here (see ``events``), by key
    found: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def is_task(self) -> bool:
        return self.info is not None and self.info.task is not None
