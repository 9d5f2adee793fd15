"""Keep a file's own line endings through a libcst rewrite.

libcst writes every line with the module's first line ending and drops a final
lone ``\\r``, so a CR-only file lost its last ``\\r`` and a comment inserted in a
mixed-ending file used the wrong one. The codemods therefore run on the text with
``\\n`` endings, and :func:`restore_endings` gives every line its original ending
back: unchanged lines keep theirs, a rewritten or inserted line takes the ending of
the original line it replaces or follows. Files with only ``\\n`` skip all of this.
"""

from __future__ import annotations

import re
from collections import Counter

from .diffs import opcodes

__all__ = ["restore_endings", "to_lf"]

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def _split(text: str) -> tuple[list[str], list[str]]:
    """Each physical line without its ending, and its ending (``""`` for a last open line)."""
    bare, endings = [], []
    for match in _LINE.finditer(text):
        line = match.group()
        stripped = line.rstrip("\r\n")
        bare.append(stripped)
        endings.append(line[len(stripped) :])
    return bare, endings


def to_lf(text: str) -> str:
    """``text`` with ``\\r\\n`` and lone ``\\r`` line endings turned into ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def restore_endings(original: str, fixed_lf: str) -> str:
    """``fixed_lf`` (a rewrite of ``to_lf(original)``) with ``original``'s line endings."""
    if "\r" not in original:
        return fixed_lf
    old, old_endings = _split(original)
    new, new_endings = _split(fixed_lf)
    common = Counter(e for e in old_endings if e).most_common(1)
    default = common[0][0] if common else "\n"
    chosen: list[str] = []
    for tag, i1, i2, j1, j2 in opcodes(old, new):
        if tag == "equal":
            chosen += old_endings[i1:i2]
            continue
        near = i1 if i1 < len(old) else i1 - 1
        ending = old_endings[near] if 0 <= near < len(old) and old_endings[near] else default
        chosen += [ending] * (j2 - j1)
    out: list[str] = []
    for line, ending, had in zip(new, chosen, new_endings, strict=True):
        ending = (ending or default) if had else ""
        if ending.startswith("\n") and not line and out and out[-1].endswith("\r"):
            ending = "\r"  # why: "\r" then an empty "\n" line would read as one "\r\n"
        out.append(line + ending)
    return "".join(out)
