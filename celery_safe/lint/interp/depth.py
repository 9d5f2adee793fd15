"""How deep the analysis goes: a bound of its own, not the host's recursion limit.

The analysis recurses over the syntax tree (about three frames per level), so a
module nested deeper than Python's recursion limit allows used to be CSF000 only as
long as that limit stayed at its default: a host that raised it (mypy's API does,
for the rest of a pytest session) had such a module analysed, and could overflow the
C stack. The walk counts its own depth and stops with :class:`TooDeep` past
:data:`MAX_DEPTH`, whatever the limit.
"""

from __future__ import annotations

__all__ = ["MAX_DEPTH", "TooDeep"]

#: Levels of syntax tree the analysis follows. Real modules stay far below (a long
#: ``a + b + ...`` chain is one level per term); at Python's default recursion limit
#: the analysis manages about 300 levels, so this leaves room for the caller's frames.
MAX_DEPTH = 250


class TooDeep(RecursionError):
    """A module nested deeper than :data:`MAX_DEPTH` (a ``RecursionError``, so every
    place that reports one as CSF000 reports this too)."""

    def __init__(self, limit: int = MAX_DEPTH) -> None:
        super().__init__(f"more than {limit} levels; the analysis stops there")
