"""The lint engine's API: ``check_source`` / ``check_tree`` -> ``list[Finding]``.

    findings = check_source(path.read_text(), str(path))
    findings = check_tree(tree, "m.py", lines)   # flake8: the tree it already parsed

Cost model: a text pre-filter that cannot miss (a module whose source never says
``task``, ``Task``, ``update_state`` or the name of a configured task decorator can
neither define a Celery task nor report CSF301), then a statement-only index that
finds the tasks, and only then the data-flow pass. Most modules stop at the first or second step.
"""

from __future__ import annotations

import ast
import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache

from . import rules as _rules  # noqa: F401  (importing registers every rule)
from .config import Config
from .findings import Finding, Span
from .interp.analysis import ModuleAnalysis, let_go
from .interp.depth import TooDeep
from .interp.events import Subscribers
from .interp.index import build_index
from .noqa import drop_suppressed
from .registry import RULES, Report, format_message
from .resolve import TaskLookup
from .supersede import kept, runs

__all__ = [
    "ENGINE_CODES",
    "Config",
    "InternalError",
    "check_source",
    "check_tree",
    "collect_when_grown",
    "file_problem",
    "might_report",
    "paused_gc",
    "prefilter_words",
    "wakes",
]

#: Codes the engine reports about a file rather than a rule about code in it.
ENGINE_CODES = ("CSF000", "CSF999")

#: Without one of these words a module can define no Celery task.
TASK_WORDS = ("task", "Task")


@lru_cache(maxsize=32)
def wake_words(config: Config, tasks_elsewhere: bool) -> tuple[str, ...]:
    """Words that make a module without tasks worth analysing, for the enabled rules."""
    words: list[str] = []
    for code, entry in RULES.items():
        if runs(config, code) and (tasks_elsewhere or not entry.needs_tasks_elsewhere):
            words += [w for w in entry.without_tasks if w not in words]
    return tuple(words)


@lru_cache(maxsize=32)
def subscribers(config: Config) -> Subscribers:
    """The handlers of the rules that run only (the enabled ones, and those superseding
    an enabled one: :mod:`.supersede`): a disabled rule's detection never runs."""
    return Subscribers.merged(e.events for c, e in RULES.items() if runs(config, c))


@lru_cache(maxsize=32)
def module_subscribers(config: Config) -> Subscribers:
    """The handlers of the enabled rules that read every function (not ``tasks_only``):
    the walks of functions no task runs raise only theirs."""
    return Subscribers.merged(
        e.events for c, e in RULES.items() if runs(config, c) and not e.tasks_only
    )


@lru_cache(maxsize=32)
def decorator_words(task_decorators: tuple[str, ...]) -> tuple[str, ...]:
    """Words without which a module cannot use a configured task decorator.

    ``myproj.jobs.job`` is reached through its own name (``from myproj.jobs import
    job``, ``jobs.job``) or, with ``from myproj.jobs import *``, its top package.
    """
    words: list[str] = []
    for name in task_decorators:
        parts = [part for part in name.split(".") if part]
        words += [word for word in (parts[-1:] + parts[:1]) if word not in words]
    return tuple(words)


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while one file is parsed and analysed.

    A module's ``ast`` is millions of live container objects; each collection of
    the oldest generation walks all of them, so a 5 MB file spent most of its time
    collecting nothing (its trees hold no cycles). Reference counting still frees
    everything; the collector runs again between files.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


#: How many more container objects than at the last collection a run paused for the
#: garbage collector lets live before it collects (~20 MB of them).
GARBAGE_LIMIT = 200_000


def collect_when_grown(limit: int = GARBAGE_LIMIT) -> None:
    """A full collection, inside a whole run's :func:`paused_gc`, once ``limit`` more
    objects than at the last collection are alive (Python's count, kept while paused).

    Why a run pauses the collector from its first file to its last: a collection walks
    every young object, and between files those are the project modules the resolver
    keeps (tens of thousands of objects each), walked again and again for nothing (0.05 s
    of a 0.55 s ``check`` of celery+kombu). What a run leaves in cycles (a module the
    resolver lets go, ~100 objects a file) waits for this, at a bounded cost in memory.
    """
    if gc.get_count()[0] > limit:
        gc.collect()


def file_problem(path: str, action: str, reason: str, line: int = 1, col: int = 0) -> Finding:
    """CSF000: a file that cannot be read, parsed or analysed; never "no findings".

    ``action`` is what failed (``read``, ``parse``, ``analyse``).
    """
    facts = {"action": action, "error": reason}
    return Finding("CSF000", path, Span(line, col, line, col), format_message("CSF000", facts))


class InternalError(RuntimeError):
    """The engine failed on a file: a bug in celery-safe, never in the checked code."""

    def __init__(self, path: str, exc: BaseException) -> None:
        super().__init__(f"{path}: internal error in celery-safe ({type(exc).__name__}: {exc})")
        self.path = path


def might_report(source: str, config: Config | None = None, tasks_elsewhere: bool = False) -> bool:
    """False only when no enabled rule can report anything on ``source`` (a text test)."""
    return wakes(source, prefilter_words(config or Config(), tasks_elsewhere))


@lru_cache(maxsize=32)
def prefilter_words(config: Config, tasks_elsewhere: bool) -> tuple[str, ...]:
    """The words :func:`might_report` looks for (:func:`wakes`): a caller that tests many
    files under one config asks once."""
    return (
        *TASK_WORDS,
        *decorator_words(config.task_decorators),
        *wake_words(config, tasks_elsewhere),
    )


def wakes(source: str, words: Sequence[str]) -> bool:
    """A word is in ``source``; one written after a newline (``"\\nbeat_schedule"``: at a
    line's start) may also start the file."""
    return any(
        word in source or (word[:1] == "\n" and source.startswith(word[1:])) for word in words
    )


def check_source(
    source: str,
    path: str = "<string>",
    config: Config | None = None,
    *,
    noqa: bool = True,
    tasks_elsewhere: TaskLookup | None = None,
) -> list[Finding]:
    """Findings for ``source``; ``SyntaxError`` when it does not parse.

    Parsed before the pre-filter: a file Python cannot parse is never "no findings".
    """
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
    source: str | None = None,
) -> list[Finding]:
    """Findings for an already parsed module, sorted by position.

    ``lines`` (the source's physical lines) enables the pre-filter and, with
    ``noqa=True``, honours ``# noqa`` comments; flake8 passes ``noqa=False`` because
    it applies them itself. ``source``, the text itself, enables the pre-filter too
    (``check`` has it: no lines to split and join again). ``tasks_elsewhere`` finds
    tasks imported from other modules (see :class:`~.resolve.ModuleResolver`) for the
    canvas rules.
    """
    config = config or Config()
    if source is None and lines is not None:
        source = "".join(lines)
    if source is not None and not might_report(source, config, tasks_elsewhere is not None):
        return []
    try:
        findings = _run(tree, path, source, config, tasks_elsewhere)
    except RecursionError as exc:
        # why not a crash or silence: the user must learn this file was not checked
        return [file_problem(path, "analyse", _too_deep(exc))]
    except Exception as exc:
        raise InternalError(path, exc) from exc
    if noqa and lines is not None:
        findings = drop_suppressed(findings, lines)
    return findings


def _too_deep(exc: RecursionError) -> str:
    why = str(exc) if isinstance(exc, TooDeep) else "RecursionError"
    return f"too deeply nested ({why})"


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
    index.celery = config.target
    index.link_task_classes()
    index.lines = source.splitlines() if source is not None else None
    analysis: ModuleAnalysis | None = None
    try:
        words = wake_words(config, tasks_elsewhere is not None)
        defines_tasks = any(True for _ in index.tasks)
        if source is not None and not defines_tasks and not wakes(source, words):
            return []  # why bail: no enabled rule reports in a module without tasks here
        analysis = ModuleAnalysis.of(
            tree, index, subscribers=subscribers(config),
            module_subscribers=module_subscribers(config),
        )  # fmt: skip
        report = Report(analysis, path)
        found: dict[tuple[str, int, int], Finding] = {}
        for code, entry in RULES.items():
            if not runs(config, code):
                continue
            for finding in entry.check(report):
                found.setdefault((finding.code, finding.span.line, finding.span.col), finding)
    finally:
        let_go(index)  # why: see let_go; findings hold no part of the analysis
    # one defect, one finding: a code superseded at the same call gives way (.supersede)
    return sorted(kept(found.values(), config), key=lambda f: (f.span.line, f.span.col, f.code))
