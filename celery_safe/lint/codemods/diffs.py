"""Line diffs that cost what the change costs, not the file.

A rewrite touches a few statements of a module; ``difflib`` would compare every line
of it. The common head and tail are cut off first and only the middle goes to the
matcher. Used for ``fix --diff``, for putting line endings back, and for carrying a
sliced rewrite back into the module.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher

__all__ = ["Opcode", "opcodes", "unified_diff"]

CONTEXT = 3
Opcode = tuple[str, int, int, int, int]


def _common(old: Sequence[str], new: Sequence[str]) -> tuple[int, int]:
    """How many lines the two share at the start, and then at the end."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return head, tail


def opcodes(old: Sequence[str], new: Sequence[str]) -> list[Opcode]:
    """``SequenceMatcher.get_opcodes()`` over the whole sequences, matched in the middle."""
    head, tail = _common(old, new)
    found: list[Opcode] = [("equal", 0, head, 0, head)] if head else []
    matcher = SequenceMatcher(None, old[head : len(old) - tail], new[head : len(new) - tail])
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        found.append((tag, head + i1, head + i2, head + j1, head + j2))
    if tail:
        found.append(("equal", len(old) - tail, len(old), len(new) - tail, len(new)))
    return found


def _range(start: int, length: int) -> str:
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"


def unified_diff(before: str, after: str, path: str) -> str:
    """``git diff``-style text between two versions of the module at ``path``."""
    old = before.splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    head, tail = _common(old, new)
    if head == len(old) == len(new):
        return ""
    start = max(head - CONTEXT, 0)
    old_mid = old[start : len(old) - max(tail - CONTEXT, 0)]
    new_mid = new[start : len(new) - max(tail - CONTEXT, 0)]
    name = path.lstrip("/")
    out = [f"--- a/{name}\n", f"+++ b/{name}\n"]
    matcher = SequenceMatcher(None, old_mid, new_mid)
    for group in matcher.get_grouped_opcodes(CONTEXT):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(start + i1, i2 - i1)} +{_range(start + j1, j2 - j1)} @@\n")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out += [" " + line for line in old_mid[a1:a2]]
                continue
            out += ["-" + line for line in old_mid[a1:a2]]
            out += ["+" + line for line in new_mid[b1:b2]]
    return "".join(
        line if line.endswith(("\n", "\r")) else line + "\n\\ No newline at end of file\n"
        for line in out
    )
