"""How deep the analysis goes: a bound of its own, not the host's recursion limit.

The analysis recurses over the syntax tree (about three frames per level), so a
module nested deeper than Python's recursion limit allows used to be CSF000 only as
long as that limit stayed at its default: a host that raised it (mypy's API does,
for the rest of a pytest session) had such a module analysed, and could overflow the
C stack. The depth is measured first, without recursion, and a module deeper than
:data:`MAX_DEPTH` is :class:`TooDeep` whatever the limit.
"""

from __future__ import annotations

import ast

__all__ = ["MAX_DEPTH", "TooDeep", "check_depth"]

#: Levels of syntax tree the analysis follows. Real modules stay far below (a long
#: ``a + b + ...`` chain is one level per term); at Python's default recursion limit
#: the analysis manages about 300 levels, so this leaves room for the caller's frames.
MAX_DEPTH = 250


class TooDeep(RecursionError):
    """A module nested deeper than :data:`MAX_DEPTH` (a ``RecursionError``, so every
    place that reports one as CSF000 reports this too)."""


def check_depth(tree: ast.AST, limit: int = MAX_DEPTH) -> None:
    """Raise :class:`TooDeep` when ``tree`` nests deeper than ``limit`` levels."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            raise TooDeep(f"more than {limit} levels; the analysis stops there")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
