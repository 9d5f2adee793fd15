"""A rule's page as ``celery-safe explain`` shows it: the catalogue's text with the
rule's own tested examples in its Example and Use instead sections.

A page marks where they go with ``<!-- invalid -->`` and ``<!-- valid -->``; the first
invalid and first valid example of the rule module fill them. The examples are run by
the test suite through flake8 and ``celery-safe check`` (a deployment rule's through
``check_app``), so a page can only show code its rule really flags, and a fix that
really passes.
"""

from __future__ import annotations

from .. import catalogue
from .registry import RULES

__all__ = ["INVALID_MARK", "VALID_MARK", "render_page"]

INVALID_MARK = "<!-- invalid -->"
VALID_MARK = "<!-- valid -->"


def render_page(code: str) -> str:
    """The docs of ``code`` with its examples filled in (runtime-only codes as written)."""
    from ..deployment import RULES as DEPLOY_RULES  # the runtime rules (CSF4xx) carry theirs
    from . import rules  # noqa: F401  (registers every rule)

    entry = catalogue.get(code)
    docs = entry.docs
    found = RULES.get(entry.code) or DEPLOY_RULES.get(entry.code)
    if found is None:
        return docs
    docs = docs.replace(INVALID_MARK, _block(found.invalid[0]))
    return docs.replace(VALID_MARK, _block(found.valid[0]))


def _block(example: str) -> str:
    return f"```python\n{example}```"
