"""``# noqa`` and ``# noqa: CSF101,CSF102`` comments, read as flake8 reads them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .findings import Finding

__all__ = ["drop_suppressed", "file_is_suppressed", "suppressed_codes"]

_NOQA = re.compile(r"# noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.I)
_FILE_NOQA = re.compile(r"#\s*flake8[:=]\s*noqa\s*$", re.I)
_SEPARATOR = re.compile(r"[,\s]+")
ALL = frozenset({"*"})


def suppressed_codes(line: str) -> frozenset[str] | None:
    """Codes a physical line suppresses (``{"*"}`` for a bare noqa), or None."""
    if "#" not in line:
        return None
    match = _NOQA.search(line)
    if match is None:
        return None
    codes = match.group("codes")
    if not codes:
        return ALL
    return frozenset(c.upper() for c in _SEPARATOR.split(codes.strip()) if c)


def file_is_suppressed(lines: Sequence[str]) -> bool:
    """A bare ``# flake8: noqa`` line silences the whole file."""
    return any("flake8" in line and _FILE_NOQA.search(line) for line in lines)


def drop_suppressed(findings: Iterable[Finding], lines: Sequence[str]) -> list[Finding]:
    """Findings not silenced by a noqa on any line of their span (or the whole file)."""
    findings = list(findings)
    if not findings:
        return []  # why first: most files have none, and the file-wide scan reads every line
    if file_is_suppressed(lines):
        return []
    kept = []
    for finding in findings:
        last = min(finding.span.end_line, len(lines))
        for number in range(finding.span.line, last + 1):
            codes = suppressed_codes(lines[number - 1])
            if codes is not None and (
                codes is ALL or any(finding.code.startswith(c) for c in codes)
            ):
                break
        else:
            kept.append(finding)
    return kept
