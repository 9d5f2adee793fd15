"""A rule's page as ``celery-safe explain`` shows it: the catalogue's text with the
rule's own tested examples in its Example and Use instead sections.

A page marks where they go with ``<!-- invalid -->`` and ``<!-- valid -->``; the first
invalid and first valid example of the rule module fill them (``<!-- invalid 1 -->``: the
second). An example of a project (a rule reading several modules) is its files, each
after a ``# file: path`` line (:func:`example_files`). The examples are run by
the test suite through flake8 and ``celery-safe check`` (a deployment rule's through
``check_app``), so a page can only show code its rule really flags, and a fix that
really passes.
"""

from __future__ import annotations

import re

from .. import catalogue
from .registry import RULES

__all__ = ["FILE_MARK", "INVALID_MARK", "VALID_MARK", "example_files", "render_page"]

INVALID_MARK = "<!-- invalid -->"
VALID_MARK = "<!-- valid -->"
#: ``<!-- invalid -->``, ``<!-- valid 1 -->``: which example goes there
_MARK = re.compile(r"<!-- (invalid|valid)(?: (\d+))? -->")
#: the line before each file of a project example
FILE_MARK = "# file: "


def example_files(example: str) -> dict[str, str] | None:
    """The files of a project example (``# file: shop/celery.py`` before each), by
    path; None for an example that is one module."""
    if not example.startswith(FILE_MARK):
        return None
    files: dict[str, str] = {}
    current = ""
    for line in example.splitlines(keepends=True):
        if line.startswith(FILE_MARK):
            current = line[len(FILE_MARK):].strip()
            files[current] = ""
        else:
            files[current] += line
    return files


def render_page(code: str) -> str:
    """The docs of ``code`` with its examples filled in (runtime-only codes as written)."""
    from ..deployment import RULES as DEPLOY_RULES  # the runtime rules (CSF4xx) carry theirs
    from . import rules  # noqa: F401  (registers every rule)

    entry = catalogue.get(code)
    docs = entry.docs
    found = RULES.get(entry.code) or DEPLOY_RULES.get(entry.code)
    if found is None:
        return docs
    def example(match: re.Match[str]) -> str:
        examples = found.invalid if match[1] == "invalid" else found.valid
        return _block(examples[int(match[2] or 0)])

    return _MARK.sub(example, docs)


def _block(example: str) -> str:
    return f"```python\n{example}```"
