"""``celery-safe fix --check`` on the installed celery + kombu sources vs ``ast.parse``.

    .venv/bin/python benchmarks/fix_speed.py [PACKAGE...]   # default: celery kombu

Both sides read the same files in the same run; the ratio is the cost of a fix run
over the floor of parsing every file once. Target: at most 3x — libcst parses only
the files the engine's cheap pass reports findings in.
"""

from __future__ import annotations

import ast
import importlib
import sys
import time
from pathlib import Path

from celery_safe.lint.codemods.fixer import FixOptions
from celery_safe.lint.config import Config
from celery_safe.lint.fix_cli import fix_paths, python_files

TARGET = 3.0


def main(packages: list[str]) -> None:
    roots = [Path(str(importlib.import_module(name).__file__)).parent for name in packages]
    config = Config()
    files = list(python_files(roots, config))
    sources = [f.read_bytes() for f in files]  # warm the page cache for both sides

    start = time.perf_counter()
    for path in files:
        ast.parse(path.read_bytes(), filename=str(path))
    baseline = time.perf_counter() - start

    start = time.perf_counter()
    summary = fix_paths(roots, FixOptions(), config, write=False)
    fixing = time.perf_counter() - start

    ratio = fixing / baseline
    size = sum(len(s) for s in sources) / 1e6
    print(f"files: {len(files)} ({size:.1f} MB) under {', '.join(r.name for r in roots)}")
    print(f"ast.parse of every file:       {baseline:.3f} s")
    print(f"celery-safe fix --check:       {fixing:.3f} s")
    with_findings = sum(1 for r in summary.results if r.remaining or r.rewritten)
    print(f"files with findings / changed: {with_findings} / {len(summary.changed)}")
    print(f"ratio: {ratio:.2f}x (target <= {TARGET:.0f}x) -> {'OK' if ratio <= TARGET else 'OVER'}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["celery", "kombu"])
