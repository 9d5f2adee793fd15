"""libcst codemods behind ``celery-safe fix``, driven by the lint engine's findings.

    from celery_safe.lint.codemods import fix_source
    result = fix_source(open("tasks.py").read(), "tasks.py")

Each rewrite is one ``VisitorBasedCodemodCommand``, also runnable through
``python -m libcst.tool codemod`` (``inline_joins.InlineTaskJoins``,
``split_logic.SplitTaskLogic``, ``chains.ChainSequentialJoins``). The codemod classes
are imported when first named here, so ``fix_source`` alone does not load libcst.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from .fixer import FixOptions, FixResult, fix_source
from .report import Skipped

if TYPE_CHECKING:
    from .chains import ChainSequentialJoins
    from .inline_joins import InlineTaskJoins
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

_CODEMODS = {
    "ChainSequentialJoins": ".chains",
    "InlineTaskJoins": ".inline_joins",
    "SplitTaskLogic": ".split_logic",
}


def __getattr__(name: str) -> object:
    if name in _CODEMODS:
        return getattr(import_module(_CODEMODS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
