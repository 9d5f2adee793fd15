"""``celery-safe fix PATH... [--diff] [--check] [--split-logic] [--chains]``.

Exit codes follow ``ruff --fix``: 0 when no finding remains, 1 when findings remain
(or a file does not parse, or, with ``--check``/``--diff``, a file would change),
2 for usage and I/O errors. Files without findings are never written (not even
re-encoded); one broken file is reported and the others are still fixed.
"""

from __future__ import annotations

import argparse
import difflib
import io
import os
import sys
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from .codemods.fixer import FixOptions, FixResult, fix_source, split_source
from .codemods.taskdefs import ProjectTasks
from .config import Config, ConfigError, load_config
from .engine import InternalError
from .resolve import ModuleResolver

__all__ = ["fix_main", "fix_paths", "python_files"]

#: Directories never walked into (a path given explicitly is always used).
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".venv", "venv", ".tox", ".nox", "__pycache__", "node_modules", "build"}
)


def python_files(paths: Sequence[Path], config: Config) -> Iterator[Path]:
    """``.py`` files under ``paths``, sorted; ``[tool.celery-safe] exclude`` applies to
    what the walk finds, never to a path named on the command line."""
    root = config.root.resolve() if config.root else None
    excluded = [(root / e).resolve() for e in config.exclude] if root else []
    for path in paths:
        if path.is_file():
            yield path
            continue
        given = path.resolve()
        # A directory named on the command line is fixed even inside an exclusion.
        active = [e for e in excluded if not (e == given or e in given.parents)]
        for folder, dirs, files in os.walk(path):
            here = Path(folder)
            dirs[:] = sorted(
                d for d in dirs if d not in SKIPPED_DIRS and not _excluded(here / d, active)
            )
            for name in sorted(files):
                if name.endswith(".py") and not _excluded(here / name, active):
                    yield here / name


def _excluded(candidate: Path, excluded: list[Path]) -> bool:
    if not excluded:
        return False
    resolved = candidate.resolve()
    return any(e == resolved or e in resolved.parents for e in excluded)


@dataclass
class RunSummary:
    """What a fix run did, for the exit code and the closing line."""

    results: list[FixResult] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    io_errors: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return sum(len(r.remaining) for r in self.results)

    @property
    def changed(self) -> list[FixResult]:
        return [r for r in self.results if r.changed]


def _read(path: Path) -> tuple[str, str]:
    data = path.read_bytes()
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding), encoding


def fix_paths(
    paths: Sequence[Path], options: FixOptions, config: Config, *, write: bool
) -> RunSummary:
    """Fix every Python file under ``paths``; write the changed ones when ``write``."""
    summary = RunSummary()
    texts: dict[Path, str] = {}
    tasks = ProjectTasks(read=lambda p: texts.get(p) or _read_or_none(p))
    files = list(python_files(paths, config))
    resolver = ModuleResolver(config.task_decorators)
    converted = _split_first(files, config, texts) if options.split_logic else {}
    for path in files:
        try:
            original, encoding = _read(path)
        except (OSError, UnicodeDecodeError, SyntaxError) as exc:
            summary.io_errors.append(f"{path}: cannot read: {exc}")
            continue
        source = texts.get(path.resolve(), original)
        try:
            result = fix_source(
                source,
                str(path),
                options,
                config=config,
                tasks=tasks,
                tasks_elsewhere=resolver.for_file(path),
            )
        except (SyntaxError, cst.ParserSyntaxError) as exc:
            summary.broken.append(f"{path}: syntax error, not fixed: {_one_line(exc)}")
            continue
        except (InternalError, RecursionError) as exc:
            summary.broken.append(f"{path}: not fixed: {_one_line(exc)}")
            continue
        result.source = original
        result.converted = converted.get(path.resolve(), []) + result.converted
        summary.results.append(result)
        if result.changed:
            texts[path.resolve()] = result.fixed
            tasks.forget(path)
            if write:
                try:
                    path.write_bytes(result.fixed.encode(encoding))
                except OSError as exc:
                    summary.io_errors.append(f"{path}: cannot write: {exc}")
    return summary


def _split_first(
    files: Sequence[Path], config: Config, texts: dict[Path, str]
) -> dict[Path, list[str]]:
    """``--split-logic`` over every file before any join is rewritten (see ``split_source``)."""
    converted: dict[Path, list[str]] = {}
    for path in files:
        try:
            text, names = split_source(_read(path)[0], str(path), config)
        except (OSError, UnicodeDecodeError, SyntaxError, cst.ParserSyntaxError, RecursionError):
            continue  # why: reported when the file itself is fixed
        if names:
            texts[path.resolve()] = text
            converted[path.resolve()] = names
    return converted


def _read_or_none(path: Path) -> str | None:
    try:
        return _read(path)[0]
    except (OSError, UnicodeDecodeError, SyntaxError):
        return None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _diff(result: FixResult) -> str:
    return "".join(
        difflib.unified_diff(
            result.source.splitlines(keepends=True),
            result.fixed.splitlines(keepends=True),
            fromfile=f"a/{result.path.lstrip('/')}",
            tofile=f"b/{result.path.lstrip('/')}",
        )
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="celery-safe fix",
        description="Rewrite joins inside Celery tasks into in-process calls (libcst codemods).",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or directories")
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
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    return parser


def fix_main(argv: Sequence[str]) -> int:
    """Entry point of ``celery-safe fix``; returns the exit code."""
    args = _parser().parse_args(list(argv))
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        print(f"celery-safe fix: no such file or directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.paths[0] if args.paths[0].is_dir() else args.paths[0].parent)
    except ConfigError as exc:
        print(f"celery-safe fix: {exc}", file=sys.stderr)
        return 2
    options = FixOptions(split_logic=args.split_logic, chains=args.chains)
    dry = args.check or args.diff
    summary = fix_paths(args.paths, options, config, write=not dry)
    out = sys.stdout
    for result in summary.changed:
        if args.diff:
            out.write(_diff(result))
        elif not args.quiet:
            verb = "would fix" if dry else "fixed"
            out.write(f"{verb} {result.path}: {len(result.rewritten)} finding(s)")
            if result.converted:
                out.write(f", {len(result.converted)} task(s) split")
            out.write("\n")
    for result in summary.results:
        for skipped in result.remaining:
            out.write(skipped.format() + "\n")
    for line in summary.broken + summary.io_errors:
        print(line, file=sys.stderr)
    fixed = sum(len(r.rewritten) for r in summary.changed)
    if not args.quiet:
        verb = "Would fix" if dry else "Fixed"
        print(
            f"{verb} {fixed} finding(s) in {len(summary.changed)} file(s); "
            f"{summary.remaining} remain.",
            file=sys.stderr,
        )
    if summary.io_errors:
        return 2
    if summary.remaining or summary.broken or (dry and summary.changed):
        return 1
    return 0
