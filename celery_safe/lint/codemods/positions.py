"""From the engine's ``ast`` spans to libcst nodes.

The engine reports ``ast`` positions (1-based lines, UTF-8 *byte* columns); libcst's
``PositionProvider`` counts *characters*. One conversion table per module keeps the
two in step, so a finding always lands on the node it was reported for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import libcst as cst
from libcst.metadata import CodeRange

from ..findings import Span

__all__ = ["CharRange", "SpanConverter", "index_calls"]

#: (line, column, end line, end column), characters, the way libcst counts.
CharRange = tuple[int, int, int, int]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class SpanConverter:
    """Converts byte-column spans of one source text into character-column ranges."""

    def __init__(self, source: str) -> None:
        self._lines = _LINE_BREAK.split(source)

    def _column(self, line: int, byte_col: int) -> int:
        if not 1 <= line <= len(self._lines):
            return byte_col
        text = self._lines[line - 1]
        if text.isascii():
            return byte_col
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))

    def convert(self, span: Span) -> CharRange:
        return (
            span.line,
            self._column(span.line, span.col),
            span.end_line,
            self._column(span.end_line, span.end_col),
        )


def index_calls(positions: Mapping[cst.CSTNode, CodeRange]) -> dict[CharRange, cst.Call]:
    """Every call of a module by its range (parentheses around it excluded, as in ``ast``)."""
    calls: dict[CharRange, cst.Call] = {}
    for node, where in positions.items():
        if isinstance(node, cst.Call):
            key = (where.start.line, where.start.column, where.end.line, where.end.column)
            calls.setdefault(key, node)
    return calls
