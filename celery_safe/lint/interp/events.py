"""Rule-owned detection: handlers a rule module registers on the per-function walk.

The walk (:class:`~.flow.FunctionFlow`) knows what every name holds at each point; a
rule that needs more than the shared facts registers a handler for the statements it
cares about. The walk calls it with a :class:`Scope` (what an expression evaluates to,
the imports, where to record) and the handler records facts under its rule's code;
the rule's check turns them into findings. The walk never knows a rule's message.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any, Protocol

from .imports import ImportMap
from .values import Value

__all__ = ["LOOP_HANDLERS", "LoopHandler", "Scope", "on_loop"]


class Scope(Protocol):
    """What a handler may ask of the walk at the statement it is called for."""

    imports: ImportMap

    def value(self, node: ast.expr | None) -> Value | None: ...

    def record(self, code: str, fact: Any) -> None: ...


Loop = ast.While | ast.For | ast.AsyncFor
LoopHandler = Callable[[Scope, Loop], None]

#: Called after the walk has been through a loop (its names merged over the loop).
LOOP_HANDLERS: list[LoopHandler] = []


def on_loop(handler: LoopHandler) -> LoopHandler:
    """Register ``handler`` to run on every ``while``/``for`` loop of every function."""
    LOOP_HANDLERS.append(handler)
    return handler
