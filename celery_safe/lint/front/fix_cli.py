"""``celery-safe fix PATH... [--diff] [--check] [--split-logic] [--chains]``.

The same files, config and selection options as ``celery-safe check``. Exit codes
follow ``ruff --fix``: 0 when no finding remains, 1 when findings remain (or a file
was not checked: CSF000, or, with ``--check``/``--diff``, a file would change), 2 for
usage and I/O errors. Files without findings are never written (not even
re-encoded). Every new text is prepared first and then written all or nothing
(:mod:`.codemods.writes`): a failed write leaves every file as it was. A file ``fix``
must not replace (a symlink out of the paths given, a hard-linked or read-only file, one
whose owner cannot be kept) is reported and left alone; the others are written, except
under ``--split-logic``, whose files depend on each other: then none is.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..codemods.diffs import unified_diff
from ..codemods.fixer import FixOptions, FixResult, fix_source, split_source
from ..codemods.taskdefs import ProjectTasks
from ..codemods.writes import WriteError, refusal, write_all
from ..config import Config, add_options
from ..engine import InternalError
from ..files import Unreadable, python_files, read_source
from ..findings import printable
from ..resolve import ModuleResolver
from .cli import Parsed, Unchecked, gathered, parse_file, paused_gc

__all__ = ["RunSummary", "fix_main", "fix_paths"]


@dataclass
class RunSummary:
    """What a fix run did, for the exit code and the closing line."""

    results: list[FixResult] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    io_errors: list[str] = field(default_factory=list)
    encodings: dict[str, str] = field(default_factory=dict)
    #: path -> why ``fix`` does not write it (see :func:`.codemods.writes.refusal`);
    #: ``""``: a second path to a file written through the first
    refused: dict[str, str] = field(default_factory=dict)

    @property
    def remaining(self) -> int:
        return sum(len(r.remaining) for r in self.results)

    @property
    def changed(self) -> list[FixResult]:
        return [r for r in self.results if r.changed and r.path not in self.refused]


def fix_paths(
    paths: Sequence[Path],
    options: FixOptions,
    config: Config,
    *,
    write: bool,
    files: Sequence[Path] | None = None,
    symlinks_out: bool = False,
) -> RunSummary:
    """Fix every Python file under ``paths`` (or ``files``, already walked).

    With ``write``, the changed files are written at the end, all or nothing; a file
    :func:`.codemods.writes.refusal` refuses is reported in ``refused`` instead
    (``symlinks_out``: write through symlinks leading out of ``paths``).
    """
    summary = RunSummary()
    texts: dict[Path, str] = {}
    tasks = ProjectTasks(
        read=lambda p: texts.get(p) or _read_or_none(p, config),
        task_decorators=config.task_decorators,
    )
    if files is None:
        files = list(python_files(paths, config, links_out=True))
    resolver = ModuleResolver(config.task_decorators, config.max_file_size)
    converted = _split_first(files, config, texts) if options.split_logic else {}
    for path in files:
        with paused_gc():
            _fix_one(path, options, config, summary, texts, tasks, resolver, converted)
    _refuse(summary, paths, symlinks_out)
    refused = sum(1 for why in summary.refused.values() if why)
    if write and refused and options.split_logic and summary.changed:
        summary.io_errors.append(
            "not writing any file: the --split-logic changes depend on each other and "
            f"{refused} file(s) cannot be written (above); no file was changed"
        )
    if write and summary.changed and not summary.io_errors:
        changes = [
            (Path(r.path), r.fixed.encode(summary.encodings[r.path])) for r in summary.changed
        ]
        try:
            write_all(changes)
        except WriteError as exc:
            summary.io_errors.append(f"{exc}; no file was changed")
    elif write and summary.changed:
        summary.io_errors.append("not writing any file: an earlier error (above)")
    return summary


def _refuse(summary: RunSummary, paths: Sequence[Path], symlinks_out: bool) -> None:
    """Set aside the changed files ``fix`` must not replace, and a second path to a file
    already being written (a symlink to it inside the tree)."""
    seen: set[str] = set()
    for result in summary.changed:
        try:
            why = refusal(Path(result.path), paths, symlinks_out=symlinks_out)
            real = os.path.realpath(result.path)
        except OSError as exc:
            why, real = f"cannot inspect it: {exc.strerror or exc}", result.path
        if why is None and real in seen:
            summary.refused[result.path] = ""  # why: written once, through the other path
            continue
        seen.add(real)
        if why is not None:
            summary.refused[result.path] = why


def _fix_one(
    path: Path,
    options: FixOptions,
    config: Config,
    summary: RunSummary,
    texts: dict[Path, str],
    tasks: ProjectTasks,
    resolver: ModuleResolver,
    converted: dict[Path, list[str]],
) -> None:
    try:
        parsed = parse_file(path, config)
    except OSError as exc:
        summary.io_errors.append(f"{path}: cannot read: {exc.strerror or exc}")
        return
    if isinstance(parsed, Unchecked):
        why = "syntax error" if "cannot parse" in parsed.problem.message else "not checked"
        summary.broken.append(f"{path}: {why}, not fixed: {parsed.problem.message}")
        return
    source = texts.get(path.resolve())
    try:
        result = fix_source(
            source if source is not None else parsed.source.text,
            str(path),
            options,
            config=config,
            tasks=tasks,
            tasks_elsewhere=resolver.for_file(path),
            tree=None if source is not None else parsed.tree,
        )
    except _parse_errors() as exc:
        summary.broken.append(f"{path}: CSF000 cannot parse this file, not fixed: {_one_line(exc)}")
        return
    except (InternalError, RecursionError, MemoryError) as exc:
        summary.broken.append(
            f"{path}: CSF000 cannot analyse this file, not fixed: {_one_line(exc)}"
        )
        return
    except Exception as exc:  # why: a bug of ours in one file must not cost the others
        summary.broken.append(
            f"{path}: CSF999 internal error in celery-safe, not fixed: "
            f"{type(exc).__name__}: {_one_line(exc)}"
        )
        return
    _record(result, parsed, summary, texts, tasks, converted)


def _record(
    result: FixResult,
    parsed: Parsed,
    summary: RunSummary,
    texts: dict[Path, str],
    tasks: ProjectTasks,
    converted: dict[Path, list[str]],
) -> None:
    key = parsed.path.resolve()
    result.source = parsed.source.text
    result.converted = converted.get(key, []) + result.converted
    if result.unchecked is not None:
        summary.broken.append(f"{parsed.path}: not fixed: {result.unchecked.message}")
    summary.results.append(result)
    summary.encodings[result.path] = parsed.source.encoding
    if result.changed:
        texts[key] = result.fixed
        tasks.forget(parsed.path)


def _split_first(
    files: Sequence[Path], config: Config, texts: dict[Path, str]
) -> dict[Path, list[str]]:
    """``--split-logic`` over every file before any join is rewritten (see ``split_source``)."""
    converted: dict[Path, list[str]] = {}
    for path in files:
        try:
            source = read_source(path, config.max_file_size).text
            with paused_gc():
                text, names = split_source(source, str(path), config)
        except (OSError, Unreadable, RecursionError):
            continue  # why: reported when the file itself is fixed
        except _parse_errors():
            continue  # why: reported when the file itself is fixed
        if names:
            texts[path.resolve()] = text
            converted[path.resolve()] = names
    return converted


def _parse_errors() -> tuple[type[Exception], ...]:
    """What a file that does not parse raises: libcst's error only once libcst is loaded
    (a run with nothing to rewrite never loads it)."""
    cst = sys.modules.get("libcst")
    return (SyntaxError, cst.ParserSyntaxError) if cst is not None else (SyntaxError,)


def _read_or_none(path: Path, config: Config) -> str | None:
    try:
        return read_source(path, config.max_file_size).text
    except (OSError, Unreadable):
        return None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="celery-safe fix",
        description="Rewrite joins inside Celery tasks into in-process calls (libcst codemods).",
    )
    add_options(parser)
    parser.add_argument("--diff", action="store_true", help="print a diff, write nothing")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a file would change"
    )
    parser.add_argument(
        "--split-logic",
        action="store_true",
        help="also convert @app.task/@shared_task definitions to @celery_safe.task",
    )
    parser.add_argument(
        "--chains",
        action="store_true",
        help="turn trailing fire-then-wait steps of a task into celery_safe.workflows.chain",
    )
    parser.add_argument(
        "--allow-symlinks-out",
        action="store_true",
        help="write through symlinks whose target lies outside the paths given",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    return parser


def fix_main(argv: Sequence[str]) -> int:
    """Entry point of ``celery-safe fix``; returns the exit code."""
    run = gathered("fix", _parser(), argv)
    if isinstance(run, int):
        return run
    args, config, files, _ = run
    options = FixOptions(split_logic=args.split_logic, chains=args.chains)
    dry = args.check or args.diff
    summary = fix_paths(
        args.paths, options, config, write=not dry, files=files,
        symlinks_out=args.allow_symlinks_out,
    )  # fmt: skip
    written = not dry and not summary.io_errors
    out = sys.stdout
    for result in summary.changed:
        if args.diff:
            out.write(unified_diff(result.source, result.fixed, printable(result.path)))
        elif not args.quiet:
            verb = "fixed" if written else "would fix"
            out.write(f"{verb} {printable(result.path)}: {len(result.rewritten)} finding(s)")
            if result.converted:
                out.write(f", {len(result.converted)} task(s) split")
            out.write("\n")
    for result in summary.results:
        for skipped in result.remaining:
            out.write(printable(skipped.format()) + "\n")
    refused = [f"{path}: not written: {why}" for path, why in summary.refused.items() if why]
    for line in summary.broken + refused + summary.io_errors:
        print(printable(line), file=sys.stderr)
    fixed = sum(len(r.rewritten) for r in summary.changed)
    if not args.quiet:
        verb = "Fixed" if written else "Would fix"
        print(
            f"{verb} {fixed} finding(s) in {len(summary.changed)} file(s); "
            f"{summary.remaining} remain.",
            file=sys.stderr,
        )
    if summary.io_errors:
        return 2
    if summary.remaining or summary.broken or refused or (dry and summary.changed):
        return 1
    return 0
