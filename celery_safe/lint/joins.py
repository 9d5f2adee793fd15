"""How join findings describe themselves: the ``detail`` the codemods rely on."""

from __future__ import annotations

import ast

from .interp.facts import Join
from .interp.values import Result, Results
from .registry import span_of

__all__ = ["call_text", "join_detail"]


def call_text(node: ast.AST, limit: int = 60) -> str:
    """Short source text of ``node`` for a message."""
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def join_detail(join: Join) -> dict[str, object]:
    """``join``, ``origin``, ``origin_method``, ``callee``, ``via`` (see ``Finding``)."""
    value = join.value
    detail: dict[str, object] = {
        "join": join.method,
        "join_span": span_of(join.node),
        "origin": None,
        "origin_method": "",
        "callee": "",
        "via": (),
    }
    if value is not None:
        detail["via"] = value.via
    if isinstance(value, (Result, Results)):
        detail.update(
            origin=span_of(value.origin) if value.origin is not None else None,
            origin_method=value.method,
            callee=value.callee,
        )
        if value.origin_path:
            detail["origin_path"] = value.origin_path  # ``origin`` is a span in that file
    return detail
