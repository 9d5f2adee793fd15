"""Which files ``celery-safe check`` reads: paths given, directories walked, excludes applied.

A path named on the command line, file or folder, is always checked (unless
``--force-exclude``); ``exclude`` patterns (config and ``--exclude``) prune what the
walk below it finds. A pattern matches a path relative to the
config's folder (``examples/legacy``, ``tests/*/fixtures``) or any single path part
(``migrations``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from fnmatch import fnmatch
from pathlib import Path

__all__ = ["DEFAULT_EXCLUDES", "python_files"]

DEFAULT_EXCLUDES = (
    ".git", ".hg", ".venv", "venv", ".tox", ".nox", "__pycache__", "build", "dist",
    ".eggs", "node_modules", ".mypy_cache", ".ruff_cache", ".pytest_cache",
)  # fmt: skip


def _excluded(path: Path, root: Path, patterns: Sequence[str]) -> bool:
    try:
        relative = path.resolve().relative_to(root).as_posix()
    except ValueError:
        relative = path.as_posix()
    for pattern in patterns:
        pattern = pattern.rstrip("/")
        if "/" in pattern:
            if fnmatch(relative, pattern) or relative.startswith(pattern + "/"):
                return True
        elif fnmatch(path.name, pattern):
            return True
    return False


def python_files(
    paths: Iterable[Path], root: Path, exclude: Sequence[str], *, force_exclude: bool = False
) -> Iterator[Path]:
    """``.py`` files under ``paths`` in a stable order (``FileNotFoundError`` if one is missing).

    ``force_exclude`` applies the excludes to files named explicitly too (pre-commit
    passes every changed file by name).
    """
    patterns = (*DEFAULT_EXCLUDES, *exclude)
    root = root.resolve()
    for path in paths:
        if path.is_file():
            if not (force_exclude and _excluded_anywhere(path, root, patterns)):
                yield path
        elif path.is_dir():
            if not force_exclude:
                # Named explicitly, so checked: drop the patterns that exclude the
                # folder itself (``check examples/legacy`` checks the legacy fixture).
                named = [p for p in patterns if not _excluded_anywhere(path, root, [p])]
                yield from _walk(path, root, named)
            elif not _excluded_anywhere(path, root, patterns):
                yield from _walk(path, root, patterns)
        else:
            raise FileNotFoundError(f"{path}: no such file or directory")


def _excluded_anywhere(path: Path, root: Path, patterns: Sequence[str]) -> bool:
    """Is ``path`` or one of its folders (below ``root``) excluded?"""
    resolved = path.resolve()
    candidates = [resolved, *(p for p in resolved.parents if p != root and root in p.parents)]
    return any(_excluded(candidate, root, patterns) for candidate in candidates)


def _walk(folder: Path, root: Path, patterns: Sequence[str]) -> Iterator[Path]:
    for current, dirs, files in os.walk(folder):
        here = Path(current)
        dirs[:] = sorted(d for d in dirs if not _excluded(here / d, root, patterns))
        for name in sorted(files):
            if name.endswith(".py") and not _excluded(here / name, root, patterns):
                yield here / name
