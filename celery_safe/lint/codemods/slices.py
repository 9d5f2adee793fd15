"""Give libcst only the statements a rewrite touches.

libcst's metadata (positions, parents, scopes) costs the same for every line of a
module, rewritten or not: on a large module with a few findings, almost all of a fix
went into statements it never changes. :func:`skeleton` keeps the imports and the
top-level statements that hold a finding, and turns every other top-level statement
into comment lines, one per line, so line numbers and columns stay those of the real
module (the engine's spans and the task index, built from the real text, still
apply). :func:`splice` carries the codemod's changes back into the real text; when a
change touches a placeholder line it returns ``None`` and the caller rewrites the
whole module instead.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from ..findings import Finding, spans_of
from .diffs import opcodes

__all__ = ["lines_of", "skeleton", "splice"]

PLACEHOLDER = "# celery-safe: elided line {n}\n"
#: Below this many lines a module is rewritten whole: slicing would save nothing.
MIN_LINES = 400


def lines_of(finding: Finding) -> set[int]:
    """The lines a finding touches: its own, and those of the spans it names."""
    lines = {finding.span.line, finding.span.end_line}
    lines.update(line for span in spans_of(finding.detail) for line in (span.line, span.end_line))
    return lines


def skeleton(text: str, tree: ast.Module, findings: Sequence[Finding]) -> str | None:
    """``text`` with the top-level statements no finding is in elided; ``None`` when
    that would not leave out much."""
    lines = text.splitlines(keepends=True)
    if len(lines) < MIN_LINES or not text.endswith("\n"):
        return None
    wanted = set().union(*(lines_of(f) for f in findings)) if findings else set()
    elided: list[tuple[int, int]] = []
    for statement in tree.body:
        first = min(
            [statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", ()))]
        )
        last = statement.end_lineno or statement.lineno
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            continue
        if any(first <= line <= last for line in wanted):
            continue
        elided.append((first, last))
    if sum(last - first + 1 for first, last in elided) < len(lines) // 2:
        return None  # why: most of the module is rewritten anyway
    out = list(lines)
    kept = {n for f in findings for n in lines_of(f)}
    for first, last in elided:
        for n in range(first, last + 1):
            if n not in kept:  # a line shared with a kept statement (``a = 1; b()``)
                out[n - 1] = PLACEHOLDER.format(n=n)
    return "".join(out)


def splice(text: str, sliced: str, rewritten: str) -> str | None:
    """``text`` with the changes the codemod made to ``sliced``; ``None`` if a change
    touches an elided line."""
    real = text.splitlines(keepends=True)
    old = sliced.splitlines(keepends=True)
    new = rewritten.splitlines(keepends=True)
    out: list[str] = []
    for tag, i1, i2, j1, j2 in opcodes(old, new):
        if tag == "equal":
            out += real[i1:i2]
            continue
        if any(_elided(line) for line in (*old[i1:i2], *new[j1:j2])):
            return None
        out += new[j1:j2]
    return "".join(out)


def _elided(line: str) -> bool:
    return line.startswith("# celery-safe: elided line ")
