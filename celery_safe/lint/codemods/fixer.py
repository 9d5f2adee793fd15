"""Fix one module: the engine finds, the codemods rewrite, the engine checks again.

    result = fix_source(source, "tasks.py")
    result.fixed, result.rewritten, result.remaining

Cost model: the engine's cheap ``ast`` pass decides; libcst parses a module only when
the engine reported something in it (or, with ``split_logic``, when the ``ast`` index
found a task to convert). A module without findings comes back as the same string.
The codemods see the text with ``\n`` line endings; the file's own endings are put
back afterwards (:mod:`.newlines`), so bytes outside the rewrites never change.
libcst and the codemods are imported by the functions that parse with them: a run
whose findings no rewrite can consume never loads libcst (a third of a second).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config
from ..engine import check_source, check_tree
from ..findings import Finding
from ..interp.index import build_index
from ..resolve import TaskLookup
from .newlines import restore_endings, to_lf
from .report import JOIN_CODES, Skipped, reason_without_fix
from .slices import lines_of, skeleton, splice
from .taskdefs import ProjectTasks

if TYPE_CHECKING:
    from .inline_joins import InlineTaskJoins

__all__ = ["FixOptions", "FixResult", "fix_source", "split_source"]

#: A fix converges in one pass; the second only confirms it (and names what remains).
MAX_PASSES = 3


@dataclass(frozen=True)
class FixOptions:
    """Which rewrites run. The default rewrite (joins -> in-process calls) always runs."""

    split_logic: bool = False
    chains: bool = False


@dataclass
class FixResult:
    """One module before and after, what was rewritten and what was left, and why."""

    path: str
    source: str
    fixed: str
    rewritten: list[Finding] = field(default_factory=list)
    remaining: list[Skipped] = field(default_factory=list)
    converted: list[str] = field(default_factory=list)  # task definitions split (--split-logic)
    unchecked: Finding | None = None  # CSF000: the file could not be analysed, left as is
    chained: int = 0  # fire-then-wait runs turned into chains (--chains)

    @property
    def changed(self) -> bool:
        return self.fixed != self.source


def _wants_split(source: str, options: FixOptions, config: Config | None) -> bool:
    if not options.split_logic or "task" not in source:
        return False
    from .split_logic import convertible_tasks
    index = build_index(ast.parse(source), config.task_decorators if config else ())
    return bool(convertible_tasks(index))


def _carried_over(findings: list[Finding], skipped: list[Skipped]) -> list[Skipped] | None:
    """``findings`` (after a pass) with the reasons the pass gave, if it gave one for each.

    The rewrite converges in one pass: what it left alone, it left for a reason that
    the rewrites around it do not change. ``None`` when a finding is new to the pass.
    """
    reasons: dict[tuple[str, str, str | None], list[str]] = {}
    for item in skipped:
        key = (item.finding.code, item.finding.message, item.finding.task)
        reasons.setdefault(key, []).append(item.reason)
    carried = []
    for finding in findings:
        left = reasons.get((finding.code, finding.message, finding.task))
        if not left:
            return None
        carried.append(Skipped(finding, left.pop(0)))
    return carried


def split_source(source: str, path: str, config: Config | None = None) -> tuple[str, list[str]]:
    """``source`` with its task decorators converted (``--split-logic``), and their names.

    A run over many files converts every file first, so that joins in any module then
    see ``celery_safe.task`` callees (and call ``.logic``) whatever the file order.
    """
    if not _wants_split(source, FixOptions(split_logic=True), config):
        return source, []
    import libcst as cst
    from libcst.codemod import CodemodContext

    from .split_logic import SplitTaskLogic

    split = SplitTaskLogic(CodemodContext(filename=path))
    text = split.transform_module(cst.parse_module(to_lf(source))).code
    return restore_endings(source, text), split.converted


def fix_source(
    source: str,
    path: str = "<string>",
    options: FixOptions | None = None,
    *,
    config: Config | None = None,
    tasks: ProjectTasks | None = None,
    tasks_elsewhere: TaskLookup | None = None,
    tree: ast.Module | None = None,
) -> FixResult:
    """Rewrite ``source``; ``SyntaxError``/``libcst.ParserSyntaxError`` when it does not parse.

    ``tasks_elsewhere`` is the engine's cross-module lookup (as ``celery-safe check``
    uses it), so ``fix`` sees exactly the findings ``check`` reports. ``tree``, when
    given, is ``source`` already parsed by ``ast`` (``fix`` parses every file once).
    """
    options = options or FixOptions()
    tasks = tasks or ProjectTasks()

    def check(text: str) -> list[Finding]:
        return check_source(text, path, config, tasks_elsewhere=tasks_elsewhere)

    if tree is None:
        findings = check(source)
    else:
        lines = source.splitlines(keepends=True)
        findings = check_tree(tree, path, lines, config, tasks_elsewhere=tasks_elsewhere)
    result = FixResult(path, source, source)
    result.unchecked = next((f for f in findings if f.code == "CSF000"), None)
    if result.unchecked is not None:
        return result  # why: nothing in a file that could not be analysed is rewritten
    if not findings and not _wants_split(source, options, config):
        return result
    original = source
    source = to_lf(source)  # why: libcst rewrites line endings; restored at the end
    if not options.split_logic and not options.chains:
        return _inline_only(result, original, source, findings, tree, check, tasks)
    import libcst as cst
    from libcst.codemod import CodemodContext

    from .chains import ChainSequentialJoins
    from .inline_joins import InlineTaskJoins
    from .split_logic import SplitTaskLogic

    module = cst.parse_module(source)
    current = source
    if options.split_logic:
        split = SplitTaskLogic(CodemodContext(filename=path))
        module = split.transform_module(module)
        result.converted = split.converted
        if module.code != current:
            current = module.code
            tasks.forget(Path(path))
            findings = check(current)
    for _ in range(MAX_PASSES):
        if options.chains:
            chains = ChainSequentialJoins(
                CodemodContext(filename=path), findings, tasks, text=current
            )
            module = chains.transform_module(module)
            if module.code != current:
                result.chained += chains.chained
                result.rewritten += chains.rewritten
                current = module.code
                tasks.forget(Path(path))
                findings = check(current)
        inline = InlineTaskJoins(CodemodContext(filename=path), findings, tasks, text=current)
        module = inline.transform_module(module)
        code = module.code
        following = _next_pass(result, inline, code, current, check, tasks)
        current = code
        if following is None:
            break
        findings = following
    return _finished(result, original, source, current)


def _inline_only(
    result: FixResult,
    original: str,
    source: str,
    findings: list[Finding],
    tree: ast.Module | None,
    check: Callable[[str], list[Finding]],
    tasks: ProjectTasks,
) -> FixResult:
    """The default rewrite, each pass on a slice of the module when that is cheaper.

    libcst sees only the findings a rewrite may consume; the others are refused from
    the engine's facts alone, and a module with nothing else is never given to libcst.
    """
    path = result.path
    current = source
    for _ in range(MAX_PASSES):
        given, refused = _rewritable(findings)
        if not given:
            result.remaining = refused
            break
        inline, code = _inline_pass(path, current, given, tree, tasks)
        inline.skipped = _in_order(findings, [*inline.skipped, *refused])
        following = _next_pass(result, inline, code, current, check, tasks)
        current, tree = code, None
        if following is None:
            break
        findings = following  # why another pass: a rewrite revealed a new finding
    return _finished(result, original, source, current)


def _rewritable(findings: list[Finding]) -> tuple[list[Finding], list[Skipped]]:
    """The findings the join rewrite may act on (a join or an ``.apply()`` in a task, and
    whatever shares their lines), and the others, refused
    with the reason their code alone gives (as the rewrite itself would)."""
    joins = [f for f in findings if f.code in JOIN_CODES and f.code != "CSF104"]
    lines = set().union(*(lines_of(f) for f in joins)) if joins else set()
    given, refused = [], []
    for finding in findings:
        if finding in joins or any(
            line in lines for line in range(finding.line, finding.span.end_line + 1)
        ):
            given.append(finding)
        else:
            refused.append(Skipped(finding, reason_without_fix(finding)))
    return given, refused


def _in_order(findings: list[Finding], skipped: list[Skipped]) -> list[Skipped]:
    """``skipped`` in the order of the engine's findings (the order ``fix`` prints)."""
    at = {id(f): n for n, f in enumerate(findings)}
    return sorted(skipped, key=lambda item: at.get(id(item.finding), len(at)))


def _inline_pass(
    path: str,
    text: str,
    findings: list[Finding],
    tree: ast.Module | None,
    tasks: ProjectTasks,
) -> tuple[InlineTaskJoins, str]:
    """One run of the join rewrite over ``text``: on its skeleton when it has one."""
    import libcst as cst
    from libcst.codemod import CodemodContext

    from .inline_joins import InlineTaskJoins

    try:
        sliced = skeleton(text, tree or ast.parse(text), findings)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        sliced = None
    if sliced is not None:
        inline = InlineTaskJoins(CodemodContext(filename=path), findings, tasks, text=text)
        inline.fresh = True
        spliced = splice(text, sliced, inline.transform_module(cst.parse_module(sliced)).code)
        if spliced is not None:
            return inline, spliced
    inline = InlineTaskJoins(CodemodContext(filename=path), findings, tasks, text=text)
    inline.fresh = True
    return inline, inline.transform_module(cst.parse_module(text)).code


def _next_pass(
    result: FixResult,
    inline: InlineTaskJoins,
    code: str,
    before: str,
    check: Callable[[str], list[Finding]],
    tasks: ProjectTasks,
) -> list[Finding] | None:
    """Record a join-rewrite pass; the findings for another pass, or None when done."""
    result.rewritten += inline.rewritten
    result.remaining = inline.skipped
    if code == before:
        return None
    tasks.forget(Path(result.path))
    findings = check(code)
    carried = _carried_over(findings, inline.skipped)
    if carried is not None:  # why: a confirming pass would cost libcst's whole-module
        result.remaining = carried  # metadata again to say what this pass said
        return None
    return findings


def _finished(result: FixResult, original: str, lf_source: str, current: str) -> FixResult:
    """``result`` with the fixed text, in the file's own line endings."""
    result.fixed = original if current == lf_source else restore_endings(original, current)
    return result
