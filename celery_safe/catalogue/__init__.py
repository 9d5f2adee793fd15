"""The one catalogue of CSF codes, shared by the runtime (workflows) and the linter.

Each code is one Markdown page beside this module, ``CSF101.md``: a front matter
block (name, message, fix, scope, default) followed by the rule's documentation in
fixed sections. Everything about a code lives on its page and nowhere else; the
linter, the workflow validator, ``celery-safe explain`` and the docs all read it here.
Importing this module reads only these small files: no libcst, no flake8.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

__all__ = ["REQUIRED_SECTIONS", "Code", "all_codes", "get", "superseded_by"]

Scope = Literal["static", "runtime", "both"]

#: Sections every rule page must have, in this order (Ruff's rule docs form).
REQUIRED_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead")

_CODE_RE = re.compile(r"^CSF\d{3}$")


@dataclass(frozen=True)
class Code:
    """One catalogue entry: what a CSF code flags, how it reads, where it applies."""

    code: str
    name: str
    message: str
    fix: str
    scope: Scope
    default: bool
    docs: str
    #: Codes this one replaces where both describe the same call (front matter
    #: ``supersedes: CSF101``): one defect, one finding (see ``lint.supersede``).
    supersedes: tuple[str, ...] = ()

    def section(self, title: str) -> str:
        """The body of one ``## title`` section of the docs ('' when absent)."""
        match = re.search(
            rf"^## {re.escape(title)}[ \t]*\n(.*?)(?=^## |\Z)", self.docs, re.S | re.M
        )
        return match.group(1).strip() if match else ""

    def format(self, **facts: object) -> str:
        """``CSF201 <message with facts filled in>``."""
        return f"{self.code} {self.message.format(**facts)}"


def _parse(filename: str, text: str) -> Code:
    if not text.startswith("---\n"):
        raise ValueError(f"{filename}: a rule page starts with a '---' front matter block")
    head, _, docs = text[4:].partition("\n---\n")
    fields: dict[str, str] = {}
    for line in head.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"{filename}: front matter line without ':': {line!r}")
        fields[key.strip()] = value.strip()
    code = filename.removesuffix(".md")
    missing = {"name", "message", "fix", "scope"} - fields.keys()
    if missing:
        raise ValueError(f"{filename}: front matter lacks {', '.join(sorted(missing))}")
    scope = fields["scope"]
    if scope not in ("static", "runtime", "both"):
        raise ValueError(f"{filename}: scope must be static, runtime or both, not {scope!r}")
    return Code(
        code=code,
        name=fields["name"],
        message=fields["message"],
        fix=fields["fix"],
        scope=scope,  # type: ignore[arg-type]
        default=fields.get("default", "true").lower() != "false",
        docs=docs.strip() + "\n",
        supersedes=tuple(c.strip() for c in fields.get("supersedes", "").split(",") if c.strip()),
    )


@cache
def all_codes() -> dict[str, Code]:
    """Every code in the catalogue, sorted by code."""
    found: dict[str, Code] = {}
    for entry in resources.files(__name__).iterdir():
        name = entry.name
        if name.endswith(".md") and _CODE_RE.match(name.removesuffix(".md")):
            found[name.removesuffix(".md")] = _parse(name, entry.read_text(encoding="utf-8"))
    return dict(sorted(found.items()))


@cache
def superseded_by(code: str) -> tuple[str, ...]:
    """The codes whose pages say they supersede ``code`` at the same call."""
    return tuple(e.code for e in all_codes().values() if code in e.supersedes)


def get(code: str) -> Code:
    """The catalogue entry for ``code`` (``KeyError`` naming the known codes otherwise)."""
    codes = all_codes()
    try:
        return codes[code.upper()]
    except KeyError:
        raise KeyError(f"unknown code {code!r}; known codes: {', '.join(codes)}") from None
