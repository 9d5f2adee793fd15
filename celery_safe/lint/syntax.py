"""Which Python a file that does not parse here was written for.

celery-safe parses with the Python it runs on. A file using syntax a later Python
added (3.12's f-strings and type parameters, 3.14's ``except A, B:``...) does not
parse, and is CSF000 like any other file that was not checked; the message then says
which Python's syntax it is and to run celery-safe under that Python. Each entry of
:data:`CHANGES` is a grammar change of a CPython release, recognised from the error the
older parser gives and the failing line; a syntax error none of them explains is left
as Python reported it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["CHANGES", "Change", "newer_syntax", "parse_problem"]


@dataclass(frozen=True)
class Change:
    """Syntax CPython ``version`` added (``pep``), and how an older parser fails on it."""

    version: tuple[int, int]
    pep: str
    what: str
    #: (the error's message, the failing line) -> does this change explain it?
    explains: Callable[[str, str], bool]


def _line_matches(pattern: str) -> Callable[[str, str], bool]:
    compiled = re.compile(pattern)
    return lambda message, line: compiled.search(line) is not None


_GENERIC_DEF = r"^\s*(?:async\s+def|def|class)\s+[A-Za-z_]\w*\s*\["
_TYPE_ALIAS = r"^\s*type\s+[A-Za-z_]\w*\s*(?:\[[^\]]*\])?\s*="
#: a string prefix with ``f`` (an f-string) or ``t`` (a template string), then a quote
_F_STRING = r"(?<![\w.'\"])(?:[fF][rR]?|[rR][fF])['\"]"
_T_STRING = r"(?<![\w.'\"])(?:[tT][rR]?|[rR][tT])['\"]"

CHANGES: tuple[Change, ...] = (
    Change((3, 11), "PEP 654", "`except*` for exception groups", _line_matches(r"^\s*except\s*\*")),
    Change(
        (3, 12),
        "PEP 695",
        "type parameters and the `type` statement",
        lambda message, line: (
            re.search(_TYPE_ALIAS, line) is not None
            or (re.search(_GENERIC_DEF, line) is not None and "=" not in line.partition("]")[0])
        ),
    ),
    Change(
        (3, 12),
        "PEP 701",
        "f-strings with quotes, backslashes or comments inside their braces",
        lambda message, line: re.search(_F_STRING, line) is not None,
    ),
    Change(
        (3, 13),
        "PEP 696",
        "type parameter defaults",
        _line_matches(_GENERIC_DEF + r"[^\]]*="),
    ),
    Change(
        (3, 14),
        "PEP 758",
        "`except A, B:` without parentheses",
        lambda message, line: (
            message == "multiple exception types must be parenthesized" and " as " not in line
        ),
    ),
    Change(
        (3, 14),
        "PEP 750",
        'template strings (`t"..."`)',
        _line_matches(_T_STRING),
    ),
)


def newer_syntax(
    error: SyntaxError,
    lines: Sequence[str],
    running: tuple[int, int] = (sys.version_info[0], sys.version_info[1]),
) -> Change | None:
    """The grammar change of a Python newer than ``running`` that explains ``error``."""
    number = error.lineno or 0
    line = lines[number - 1] if 0 < number <= len(lines) else (error.text or "")
    for change in CHANGES:
        if change.version > running and change.explains(error.msg, line):
            return change
    return None


def parse_problem(
    error: SyntaxError,
    lines: Sequence[str],
    running: tuple[int, int] = (sys.version_info[0], sys.version_info[1]),
) -> str:
    """CSF000's reason for ``error``: Python's message, and the Python the file needs."""
    reason = f"{error.msg} (line {error.lineno or 1})"
    change = newer_syntax(error, lines, running)
    if change is None:
        return reason
    needed = "{}.{}".format(*change.version)
    return (
        f"{reason}; this is Python {needed} syntax ({change.what}, {change.pep}) and "
        f"celery-safe runs on Python {running[0]}.{running[1]}: run celery-safe under "
        f"Python {needed} or newer (install it there: `python{needed} -m pip install "
        f"'celery-safe[lint]'`)"
    )
