"""The lint engine's API: ``check_source`` / ``check_tree`` -> ``list[Finding]``.

    findings = check_source(path.read_text(), str(path))
    findings = check_tree(tree, "m.py", lines)   # flake8: the tree it already parsed

Cost model: a text pre-filter that cannot miss (a module whose source never says
``task``, ``Task`` or ``update_state`` can neither define a Celery task nor report
CSF301), then a statement-only index that finds the tasks, and only then the data-flow
pass. Most modules stop at the first or second step.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from functools import lru_cache

from . import rules as _rules  # noqa: F401  (importing registers every rule)
from .analysis import ModuleAnalysis
from .config import Config
from .findings import Finding
from .index import build_index
from .noqa import drop_suppressed
from .registry import RULES, Report
from .resolve import TaskLookup

__all__ = ["ENGINE_CODES", "Config", "InternalError", "check_source", "check_tree", "might_report"]

#: Codes the engine reports about a file rather than a rule about code in it.
ENGINE_CODES = ("CSF000", "CSF999")

#: Without one of these words a module can define no Celery task.
TASK_WORDS = ("task", "Task")


@lru_cache(maxsize=32)
def wake_words(config: Config, tasks_elsewhere: bool) -> tuple[str, ...]:
    """Words that make a module without tasks worth analysing, for the enabled rules."""
    words: list[str] = []
    for code, entry in RULES.items():
        if config.enabled(code) and (tasks_elsewhere or not entry.needs_tasks_elsewhere):
            words += [w for w in entry.without_tasks if w not in words]
    return tuple(words)


class InternalError(RuntimeError):
    """The engine failed on a file: a bug in celery-safe, never in the checked code."""

    def __init__(self, path: str, exc: BaseException) -> None:
        super().__init__(f"{path}: internal error in celery-safe ({type(exc).__name__}: {exc})")
        self.path = path


def might_report(source: str, config: Config | None = None, tasks_elsewhere: bool = False) -> bool:
    """False only when no enabled rule can report anything on ``source`` (a text test)."""
    words = (*TASK_WORDS, *wake_words(config or Config(), tasks_elsewhere))
    return any(word in source for word in words)


def check_source(
    source: str,
    path: str = "<string>",
    config: Config | None = None,
    *,
    noqa: bool = True,
    tasks_elsewhere: TaskLookup | None = None,
) -> list[Finding]:
    """Findings for ``source``; ``SyntaxError`` when it does not parse."""
    if not might_report(source, config, tasks_elsewhere is not None):
        return []
    tree = ast.parse(source, filename=path)
    lines = source.splitlines(keepends=True)
    return check_tree(tree, path, lines, config, noqa=noqa, tasks_elsewhere=tasks_elsewhere)


def check_tree(
    tree: ast.Module,
    path: str = "<string>",
    lines: Sequence[str] | None = None,
    config: Config | None = None,
    *,
    noqa: bool = True,
    tasks_elsewhere: TaskLookup | None = None,
) -> list[Finding]:
    """Findings for an already parsed module, sorted by position.

    ``lines`` (the source's physical lines) enables the pre-filter and, with
    ``noqa=True``, honours ``# noqa`` comments; flake8 passes ``noqa=False`` because
    it applies them itself. ``tasks_elsewhere`` finds tasks imported from other
    modules (see :class:`~.resolve.ModuleResolver`) for the canvas rules.
    """
    config = config or Config()
    source = "".join(lines) if lines is not None else None
    if source is not None and not might_report(source, config, tasks_elsewhere is not None):
        return []
    try:
        findings = _run(tree, path, source, config, tasks_elsewhere)
    except RecursionError:
        return []  # pathologically deep code: skip the file rather than fail the run
    except Exception as exc:
        raise InternalError(path, exc) from exc
    if noqa and lines is not None:
        findings = drop_suppressed(findings, lines)
    return findings


def _run(
    tree: ast.Module,
    path: str,
    source: str | None,
    config: Config,
    tasks_elsewhere: TaskLookup | None,
) -> list[Finding]:
    index = build_index(
        tree, config.task_decorators, getattr(tasks_elsewhere, "makes_tasks", None)
    )
    index.external = tasks_elsewhere
    index.lines = source.splitlines() if source is not None else None
    words = wake_words(config, tasks_elsewhere is not None)
    defines_tasks = any(True for _ in index.tasks)
    if source is not None and not defines_tasks and not any(word in source for word in words):
        return []  # why bail: no enabled rule reports in a module without tasks here
    report = Report(ModuleAnalysis.of(tree, index), path)
    found: dict[tuple[str, int, int], Finding] = {}
    for code, entry in RULES.items():
        if not config.enabled(code):
            continue
        for finding in entry.check(report):
            found.setdefault((finding.code, finding.span.line, finding.span.col), finding)
    return sorted(found.values(), key=lambda f: (f.span.line, f.span.col, f.code))
