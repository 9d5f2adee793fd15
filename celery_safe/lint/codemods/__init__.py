"""libcst codemods behind ``celery-safe fix``, driven by the lint engine's findings.

    from celery_safe.lint.codemods import fix_source
    result = fix_source(open("tasks.py").read(), "tasks.py")

Each rewrite is one ``VisitorBasedCodemodCommand``, also runnable through
``python -m libcst.tool codemod`` (``inline_joins.InlineTaskJoins``,
``split_logic.SplitTaskLogic``, ``chains.ChainSequentialJoins``).
"""

from __future__ import annotations

from .chains import ChainSequentialJoins
from .fixer import FixOptions, FixResult, fix_source
from .inline_joins import InlineTaskJoins
from .report import Skipped
from .split_logic import SplitTaskLogic

__all__ = [
    "ChainSequentialJoins",
    "FixOptions",
    "FixResult",
    "InlineTaskJoins",
    "Skipped",
    "SplitTaskLogic",
    "fix_source",
]
