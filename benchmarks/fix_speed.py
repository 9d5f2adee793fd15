"""``celery-safe fix --check`` on the installed celery + kombu sources vs ``ast.parse``.

    .venv/bin/python benchmarks/fix_speed.py [--runs 5] [PACKAGE...]   # default: celery kombu

Both sides read the same files in the same run, alternating run by run; the ratio (the
median of the paired runs) is the cost of a fix run
over the floor of parsing every file once. Target: at most 3x — libcst parses only
the files the engine's cheap pass reports findings in.
"""

from __future__ import annotations

import ast
import importlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from celery_safe.lint.codemods.fixer import FixOptions
from celery_safe.lint.config import Config
from celery_safe.lint.fix_cli import fix_paths, python_files

TARGET = 3.0


def main(packages: list[str], runs: int = 5) -> None:
    roots = [Path(str(importlib.import_module(name).__file__)).parent for name in packages]
    config = Config()
    files = list(python_files(roots, config))
    sources = [f.read_bytes() for f in files]  # warm the page cache for both sides

    def parse() -> float:
        start = time.perf_counter()
        for path in files:
            ast.parse(path.read_bytes(), filename=str(path))
        return time.perf_counter() - start

    def fix() -> tuple[float, Any]:
        start = time.perf_counter()
        summary = fix_paths(roots, FixOptions(), config, write=False)
        return time.perf_counter() - start, summary

    # Alternate the two sides run by run, so both see the same machine load.
    parses, fixes, ratios = [], [], []
    for _ in range(runs):
        baseline = parse()
        fixing, summary = fix()
        parses.append(baseline)
        fixes.append(fixing)
        ratios.append(fixing / baseline)
    ratio = statistics.median(ratios)
    size = sum(len(s) for s in sources) / 1e6
    print(f"files: {len(files)} ({size:.1f} MB) under {', '.join(r.name for r in roots)}")
    print(f"ast.parse of every file:       {statistics.median(parses):.3f} s (median of {runs})")
    print(f"celery-safe fix --check:       {statistics.median(fixes):.3f} s (median of {runs})")
    with_findings = sum(1 for r in summary.results if r.remaining or r.rewritten)
    print(f"files with findings / changed: {with_findings} / {len(summary.changed)}")
    print(f"ratio: {ratio:.2f}x, median of {runs} paired runs "
          f"(target <= {TARGET:.0f}x) -> {'OK' if ratio <= TARGET else 'OVER'}")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    count = 5
    if arguments[:1] == ["--runs"]:
        count, arguments = int(arguments[1]), arguments[2:]
    main(arguments or ["celery", "kombu"], count)
