"""How join findings describe themselves: the ``detail`` the codemods rely on."""

from __future__ import annotations

import ast
from dataclasses import replace

from .findings import JoinDetail
from .interp.facts import Join
from .interp.values import Param, Result, Results
from .registry import span_of

__all__ = ["call_text", "join_detail"]


def call_text(node: ast.AST, limit: int = 60) -> str:
    """Short source text of ``node`` for a message."""
    text = ast.unparse(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def join_detail(join: Join) -> JoinDetail:
    """What the codemods need of a join: where it is, and where its result came from."""
    value = join.value
    detail = JoinDetail(join=join.method, join_span=span_of(join.node))
    if isinstance(value, Param):
        return replace(detail, via=value.via)
    if isinstance(value, (Result, Results)):
        return replace(
            detail,
            origin=span_of(value.origin) if value.origin is not None else None,
            origin_method=value.method,
            callee=value.callee,
            via=value.via,
            origin_path=value.origin_path,  # ``origin`` is a span in that file, when set
        )
    return detail
