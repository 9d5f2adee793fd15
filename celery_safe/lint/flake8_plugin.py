"""The flake8 plugin (entry point ``CSF``): the engine on the tree flake8 already parsed.

flake8 applies ``# noqa``, ``--select``/``--extend-select`` and ``--extend-ignore``;
codes that are off by default (catalogue ``default: false``) are added to flake8's
default ignore list, so ``--extend-select CSF9`` turns them on, as with bugbear's B9.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from importlib import metadata
from typing import Any

from .. import catalogue
from .config import Config
from .engine import check_tree

__all__ = ["Plugin"]

try:
    _VERSION = metadata.version("celery-safe")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    _VERSION = "0"


def _ours(codes: Sequence[str] | None) -> tuple[str, ...]:
    """The CSF part of a flake8 code list (``C`` and ``CS`` cover every CSF code)."""
    chosen = [c.strip().upper() for c in codes or () if c.strip()]
    return tuple(
        dict.fromkeys(c if c.startswith("CSF") else "CSF" for c in chosen if _covers_csf(c))
    )


def _covers_csf(code: str) -> bool:
    return code.startswith("CSF") or "CSF".startswith(code)


class Plugin:
    """``flake8`` tree plugin: yields ``(line, col, "CSF101 message", type)``."""

    name = "celery-safe"
    version = _VERSION
    #: Rules that run; flake8's select/ignore decide what is shown.
    config = Config()

    def __init__(self, tree: ast.Module, filename: str = "<stdin>", lines: Sequence[str] = ()):
        self.tree = tree
        self.filename = filename
        self.lines = list(lines) if lines else None

    @classmethod
    def add_options(cls, manager: Any) -> None:
        manager.add_option(
            "--celery-task-decorators",
            default="",
            parse_from_config=True,
            comma_separated_list=True,
            help="Extra decorators (qualified names, e.g. myproj.jobs.job) that register "
            "Celery tasks, for celery-safe's CSF codes.",
        )
        opt_in = [e.code for e in catalogue.all_codes().values() if not e.default]
        if opt_in:
            manager.extend_default_ignore(opt_in)

    @classmethod
    def parse_options(cls, options: Any) -> None:
        decorators = tuple(getattr(options, "celery_task_decorators", None) or ())
        # flake8 decides what is shown; its --select/--extend-select also decide what
        # runs, with check's meaning: select restricts, extend-select adds (opt-in too).
        cls.config = Config(
            select=_ours(getattr(options, "select", None)),
            extend_select=_ours(getattr(options, "extend_select", None)),
            task_decorators=decorators,
        )

    def run(self) -> Iterator[tuple[int, int, str, type[Plugin]]]:
        for finding in check_tree(self.tree, self.filename, self.lines, self.config, noqa=False):
            yield finding.line, finding.col, finding.message, type(self)
