"""``celery-safe check PATH...``: the same findings as flake8, for CI and pre-commit.

Exit status: 0 no findings, 1 findings (a file that was not checked is one: CSF000),
2 usage, configuration or I/O error. A symlinked file whose target is outside the
folder named is not read: it is said on stderr, once, and under ``CI`` it fails the run
(exit 1) as a file not checked does. The files, the config and the selection
options are the ones ``celery-safe fix`` uses (:mod:`.config`, :mod:`.files`).
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ...output_file import write_output
from ..cache import FindingsCache, default_cache_dir
from ..config import Config, ConfigError, add_options, config_from_args
from ..engine import (
    ENGINE_CODES,
    InternalError,
    check_tree,
    collect_when_grown,
    file_problem,
    might_report,
    paused_gc,
)
from ..files import Source, Unreadable, Walker, read_source
from ..findings import Finding, Span, printable
from ..noqa import drop_suppressed
from ..registry import format_message
from ..resolve import ModuleResolver
from ..syntax import parse_problem
from .formats import Located, locate, render_json, render_sarif, render_text

__all__ = [
    "Parsed",
    "Unchecked",
    "check_file",
    "check_main",
    "gathered",
    "parse_file",
    "parse_source",
    "parses",
    "paused_gc",
]

RENDERERS = {"text": render_text, "json": render_json, "sarif": render_sarif}


@dataclass(frozen=True)
class Parsed:
    """A module read and parsed: its text (with its encoding), tree and physical lines."""

    path: Path
    source: Source
    tree: ast.Module

    @property
    def lines(self) -> list[str]:
        return self.source.text.splitlines(keepends=True)


@dataclass(frozen=True)
class Unchecked:
    """A file that cannot be checked: CSF000 saying why, and its lines when it was read."""

    problem: Finding
    lines: list[str]


def parse_file(path: Path, config: Config) -> Parsed | Unchecked:
    """The module, or CSF000 saying why it cannot be checked; ``OSError`` for I/O errors."""
    try:
        source = read_source(path, config.max_file_size)
    except Unreadable as exc:
        return Unchecked(file_problem(str(path), "read", str(exc)), [])
    return parse_source(path, source)


def parse_source(path: Path, source: Source) -> Parsed | Unchecked:
    """``source`` (read from ``path``) parsed, or CSF000 saying why it does not parse."""
    name = str(path)
    try:
        tree = ast.parse(source.text, filename=name)
    except SyntaxError as exc:
        line, col = exc.lineno or 1, max((exc.offset or 1) - 1, 0)
        reason = parse_problem(exc, source.text.splitlines())
        problem = file_problem(name, "parse", reason, line, col)
    except (RecursionError, MemoryError) as exc:  # the parser's own depth limits
        problem = file_problem(name, "parse", f"too deeply nested ({type(exc).__name__})")
    except ValueError as exc:  # source code string cannot contain null bytes
        problem = file_problem(name, "parse", str(exc))
    else:
        return Parsed(path, source, tree)
    return Unchecked(problem, source.text.splitlines(keepends=True))


def parses(text: str, filename: str) -> bool:
    """Does Python parse ``text``? True only when it surely does; False sends the caller
    to ``ast.parse``, which decides (and says why not).

    Why not ``ast.parse``: a module the text pre-filter rules out needs no tree, only to be
    known to parse (a file that does not is CSF000, never "no findings"). ``symtable``
    runs the same parser but builds no Python object per node (about a quarter less CPU
    on celery+kombu's 130 such files). It refuses more than the parser does (a repeated
    parameter, ``nonlocal`` at the top level...): those go to ``ast.parse`` too.
    """
    import symtable  # why here: only check needs it, and only for such modules

    try:
        symtable.symtable(text, filename, "exec")
    except Exception:  # whatever it is, ast.parse decides
        return False
    return True


def _internal(path: str, exc: BaseException) -> Finding:
    cause = exc.__cause__ or exc
    text = format_message("CSF999", {"error": f"{type(cause).__name__}: {cause}"})
    return Finding("CSF999", path, Span(1, 0, 1, 0), text)


def check_file(
    path: Path,
    config: Config,
    resolver: ModuleResolver | None = None,
    cache: FindingsCache | None = None,
) -> tuple[list[Finding], list[str]]:
    """Findings for one file, and its lines when it has findings (for character
    columns). Never raises for what is in the file: a file that cannot be checked is
    CSF000, a bug of ours CSF999. With a ``cache`` (of the same ``resolver``),
    unchanged files are not even parsed."""
    try:
        source = read_source(path, config.max_file_size)
    except Unreadable as exc:
        return [file_problem(str(path), "read", str(exc))], []

    def compute() -> list[Finding]:
        if not might_report(source.text, config, resolver is not None) and parses(
            source.text, str(path)
        ):
            if resolver is not None:
                resolver.for_file(path)  # a file begins, as for any other (what it keeps)
            return []  # why before parsing: no enabled rule can report on this text
        parsed = parse_source(path, source)
        if isinstance(parsed, Unchecked):
            return [parsed.problem]
        try:
            elsewhere = resolver.for_file(path) if resolver is not None else None
            return check_tree(
                parsed.tree, str(path), None, config, noqa=False, tasks_elsewhere=elsewhere,
                source=source.text,
            )  # fmt: skip
        except InternalError as exc:
            return [_internal(str(path), exc)]
        except RecursionError:  # in a module this one imports from, analysed on demand
            return [file_problem(str(path), "analyse", "too deeply nested (RecursionError)")]

    found = compute() if cache is None else cache.findings(path, source.text, compute)
    if not found:
        return found, []  # why no lines: most files have no finding to place
    lines = source.text.splitlines(keepends=True)
    if any(f.code in ENGINE_CODES for f in found):
        return found, lines  # about the file, not a line: no noqa comment hides it
    return drop_suppressed(found, lines), lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="celery-safe check",
        description="Find Celery tasks that wait for other tasks, broken canvases and "
        "undecodable failure states. Config: [tool.celery-safe] in pyproject.toml.",
    )
    add_options(parser)
    parser.add_argument("--format", choices=sorted(RENDERERS), default="text")
    parser.add_argument("--output", type=Path, help="write the report here instead of stdout")
    parser.add_argument(
        "--no-cache", action="store_true",
        help="neither read nor write the findings cache ($CELERY_SAFE_CACHE_DIR, "
        "default ~/.cache/celery-safe)",
    )  # fmt: skip
    parser.add_argument(
        "-v", "--verbose", action="store_true",
        help="also say how the findings cache served the run (on stderr)",
    )  # fmt: skip
    return parser


def gathered(
    verb: str, parser: argparse.ArgumentParser, argv: Sequence[str]
) -> tuple[argparse.Namespace, Config, list[Path], int] | int:
    """Arguments, config, files of a ``check`` or ``fix`` run and how many files were
    skipped (each said on stderr), or its exit code (2) for a bad config or a missing
    path; argparse's ``SystemExit`` for bad usage. ``fix`` reads links out of the tree
    (it refuses to write through them, and says so); ``check`` does not follow them."""
    args = parser.parse_args(list(argv))
    try:
        config = config_from_args(args)
        walker = Walker(config, force_exclude=args.force_exclude, links_out=verb == "fix")
        files = list(walker.files(args.paths))
    except (ConfigError, FileNotFoundError) as exc:
        print(f"celery-safe {verb}: {exc}", file=sys.stderr)
        return 2
    for path, why in walker.skipped:
        print(printable(f"celery-safe {verb}: {path}: skipped, not read: {why}"),
              file=sys.stderr)
    return args, config, files, len(walker.skipped)


def _warn(text: str) -> None:
    print(text, file=sys.stderr)


def check_main(argv: Sequence[str]) -> int:
    try:
        run = gathered("check", _parser(), argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    if isinstance(run, int):
        return run
    args, config, files, skipped = run
    found: list[Located] = []
    io_error = False
    resolver = ModuleResolver(config.task_decorators, config.max_file_size)
    where = None if args.no_cache else default_cache_dir()
    note = _warn if args.verbose else None
    cache = FindingsCache.for_run(config, resolver, where, _warn, batch=True, note=note)
    with paused_gc():  # the whole run: see collect_when_grown
        for path in files:
            try:
                findings, lines = check_file(path, config, resolver, cache)
            except OSError as exc:
                print(f"celery-safe check: {path}: {exc.strerror or exc}", file=sys.stderr)
                io_error = True
                continue
            found.extend(locate(f, lines) for f in findings if config.enabled(f.code))
            collect_when_grown()
        cache.close()
        resolver.close()
    if note is not None and cache.folder is not None:
        note(f"celery-safe: cache {cache.folder.path}: {cache.hits} file(s) from the cache,"
             f" {cache.misses} analysed, {cache.written} pack(s) written")
    report = RENDERERS[args.format](found)
    if args.output is not None:
        try:
            write_output(args.output, report)
        except OSError as exc:
            print(f"celery-safe check: cannot write {args.output}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 2
    else:
        sys.stdout.write(report)
    if io_error:
        return 2
    if skipped and os.environ.get("CI"):
        print(f"celery-safe check: {skipped} file(s) skipped (above), not checked; CI is "
              "set: a skipped file fails the run", file=sys.stderr)
        return 1
    return 1 if found else 0
