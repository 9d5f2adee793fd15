"""``celery-safe check PATH...``: the same findings as flake8, for CI and pre-commit.

Exit status: 0 no findings, 1 findings (a file that does not parse is one: CSF000),
2 usage, configuration or I/O error.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import Config, ConfigError, load_config
from .engine import InternalError, check_source
from .files import python_files
from .findings import Finding, Span
from .formats import Located, locate, render_json, render_sarif, render_text
from .registry import format_message
from .resolve import ModuleResolver

__all__ = ["check_file", "check_main"]

RENDERERS = {"text": render_text, "json": render_json, "sarif": render_sarif}


def _codes(text: str) -> list[str]:
    return [part for part in text.replace(" ", ",").split(",") if part]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="celery-safe check",
        description="Find Celery tasks that wait for other tasks, broken canvases and "
        "undecodable failure states. Config: [tool.celery-safe] in pyproject.toml.",
    )
    parser.add_argument("paths", nargs="+", type=Path, help="files or directories to check")
    parser.add_argument("--format", choices=sorted(RENDERERS), default="text")
    parser.add_argument("--select", type=_codes, default=[], help="codes or prefixes to enable")
    parser.add_argument("--ignore", type=_codes, default=[], help="codes or prefixes to disable")
    parser.add_argument(
        "--exclude", action="append", default=[], help="path pattern to skip (repeatable)"
    )
    parser.add_argument(
        "--task-decorator",
        action="append",
        default=[],
        help="qualified name of an extra decorator that registers Celery tasks (repeatable)",
    )
    parser.add_argument(
        "--force-exclude",
        action="store_true",
        help="apply excludes to files named on the command line too (for pre-commit)",
    )
    parser.add_argument("--output", type=Path, help="write the report here instead of stdout")
    return parser


def _problem(code: str, path: str, line: int, col: int, error: str) -> Finding:
    return Finding(code, path, Span(line, col, line, col), format_message(code, {"action": "parse", "error": error}))


def check_file(
    path: Path, config: Config, resolver: ModuleResolver | None = None
) -> tuple[list[Finding], list[str]]:
    """Findings for one file, and its lines (for character columns)."""
    try:
        source = importlib.util.decode_source(path.read_bytes())
    except (UnicodeDecodeError, SyntaxError) as exc:
        return [_problem("CSF000", str(path), 1, 0, f"cannot decode: {exc}")], []
    lines = source.splitlines(keepends=True)
    try:
        elsewhere = resolver.for_file(path) if resolver is not None else None
        return check_source(source, str(path), config, tasks_elsewhere=elsewhere), lines
    except SyntaxError as exc:
        line, col = exc.lineno or 1, max((exc.offset or 1) - 1, 0)
        return [_problem("CSF000", str(path), line, col, f"{exc.msg} (line {line})")], lines
    except InternalError as exc:
        cause = exc.__cause__ or exc
        return [_problem("CSF999", str(path), 1, 0, f"{type(cause).__name__}: {cause}")], lines


def _relative_to_root(pattern: str, root: Path) -> str:
    """A command-line ``--exclude`` path is relative to the cwd; config ones to ``root``."""
    if "/" not in pattern:
        return pattern
    try:
        return (Path.cwd() / pattern).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return pattern


def check_main(argv: Sequence[str]) -> int:
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    try:
        config = load_config(args.paths[0])
        root = config.root or Path.cwd()
        config = config.merged(
            select=args.select,
            ignore=args.ignore,
            exclude=[_relative_to_root(pattern, root) for pattern in args.exclude],
            task_decorators=args.task_decorator,
        )
        files = list(
            python_files(args.paths, root, config.exclude, force_exclude=args.force_exclude)
        )
    except (ConfigError, FileNotFoundError) as exc:
        print(f"celery-safe check: {exc}", file=sys.stderr)
        return 2
    found: list[Located] = []
    io_error = False
    resolver = ModuleResolver(config.task_decorators)
    for path in files:
        try:
            findings, lines = check_file(path, config, resolver)
        except OSError as exc:
            print(f"celery-safe check: {path}: {exc.strerror or exc}", file=sys.stderr)
            io_error = True
            continue
        found.extend(locate(f, lines) for f in findings if config.enabled(f.code))
    report = RENDERERS[args.format](found)
    if args.output is not None:
        args.output.write_text(report, encoding="utf-8")
    else:
        sys.stdout.write(report)
    if io_error:
        return 2
    return 1 if found else 0
