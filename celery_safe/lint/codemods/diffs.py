"""``fix --diff``: a unified diff that costs what the change costs, not the file.

``difflib.unified_diff`` compares every line of a large module; a rewrite touches a
few statements. The common head and tail are cut off first, and only the middle
goes to the matcher, with line numbers shifted back in the hunk headers.
"""

from __future__ import annotations

from difflib import SequenceMatcher

__all__ = ["unified_diff"]

CONTEXT = 3


def _range(start: int, length: int) -> str:
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"


def unified_diff(before: str, after: str, path: str) -> str:
    """``git diff``-style text between two versions of the module at ``path``."""
    old = before.splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
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
