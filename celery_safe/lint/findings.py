"""What the lint engine reports; the codemods, the CLI and flake8 all consume this."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Finding", "Span"]


@dataclass(frozen=True)
class Span:
    """A source range, ``ast`` conventions: 1-based lines, 0-based UTF-8 columns."""

    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class Finding:
    """One problem at one place.

    ``span`` covers the offending node (for CSF101: the whole join call,
    ``x.delay(1).get()``). ``task`` is the qualified name of the enclosing task
    function. ``detail`` carries rule-specific facts the codemods rely on; for
    join rules (CSF101/CSF104/CSF105) at least:

    - ``join``: the join method name (``"get"``, ``"join"``...)
    - ``origin``: a :class:`Span` of the call that produced the result
      (``other.delay(x)``), when it is known in this function
    - ``origin_method``: ``"delay"``, ``"apply_async"``, ``"apply"``, ``"send_task"``...
    - ``callee``: source text of the task expression the result came from (``"other"``)
    - ``via``: the variable names the result flowed through, in order (may be empty)
    - ``call_path`` (CSF104): the chain of function names from the task to the join

    Also present: ``join_span`` (the join call, e.g. inside the helper for CSF104),
    ``helper_call`` (CSF104: the call in the task), and — ``celery-safe check`` only,
    when a helper lives in another module — ``join_path`` / ``origin_path``: the file
    that ``join_span`` / ``origin`` refer to. CSF103 carries ``joins``: the spans of
    the joins its ``allow_join_result()`` block covers.
    """

    code: str
    path: str
    span: Span
    message: str
    task: str | None = None
    detail: Mapping[str, object] = field(default_factory=dict)

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def col(self) -> int:
        return self.span.col
