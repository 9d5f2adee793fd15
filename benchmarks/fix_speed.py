"""``celery-safe fix`` against its baselines, each measured in the same run.

    .venv/bin/python benchmarks/fix_speed.py            # the full run (minutes)
    .venv/bin/python benchmarks/fix_speed.py --tiny     # every row at a tiny size (seconds)

(a) ``fix --check`` on the installed celery + kombu sources vs reading and
    ``ast.parse``-ing every file once. Target: at most 3x (libcst parses only the
    files the engine's cheap pass reports findings in).
(b) ``fix --check`` vs ``check`` on a large project with findings: celery + kombu
    plus copies of ``examples/registry/legacy`` (17 findings in 3 files each), and
    celery + kombu plus 20 modules whose 100 tasks join through a helper (CSF104, the
    shape a dispatch helper gives real projects). Runs alternate; best wall time and
    best CPU time of each side. Target: at most 2x.
(e) The same projects as whole ``celery-safe`` processes (start-up and imports
    included), as a user runs them.
(c) Growth with file size: ``fix --check`` and ``check`` on generated modules of
    doubling size (every function has a join to rewrite). Linear means the time
    ratio between two sizes stays near 2.
(d) A large module with few findings (1 MB, 4 joins): ``check``, ``fix --check``,
    and ``fix --check`` with libcst given the whole module instead of the statements
    with findings (``slices.MIN_LINES`` raised).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import celery
import kombu

from celery_safe.cli import main as cli
from celery_safe.lint.codemods import slices
from celery_safe.lint.codemods.fixer import FixOptions
from celery_safe.lint.config import Config
from celery_safe.lint.files import python_files
from celery_safe.lint.front.fix_cli import fix_paths

LEGACY = Path(__file__).resolve().parents[1] / "examples" / "registry" / "legacy"
#: the installed packages the corpus is made of (``--tiny``: vine alone)
PACKAGES: list[ModuleType] = [celery, kombu]
HEAD = "from celery import shared_task\n\n\n@shared_task\ndef add(x, y):\n    return x + y\n"
FUNCTION = (
    "\n\n@shared_task\ndef total{i}(x):\n    # wait for it\n    r = add.delay(x, {i})\n"
    "    y = {{'a': [1, 2, 3], 'b': (x, x + 1)}}\n    return r.get() + len(y)\n"
)


PLAIN = (
    "\n\ndef helper_{i}(d, items):\n    total = d.get('x', {i})\n    for item in items:\n"
    "        total += len(', '.join(item))\n    return total\n"
)


def sparse_module(size: int, joins: int) -> str:
    """About ``size`` bytes of plain functions with ``joins`` joining tasks spread among them."""
    parts, length, i = [HEAD], len(HEAD), 0
    every = max(size // (len(PLAIN) + 10) // joins, 1)
    while length < size:
        parts.append(PLAIN.format(i=i) if i % every else FUNCTION.format(i=i))
        length += len(parts[-1])
        i += 1
    return "".join(parts)


def generated_module(size: int) -> str:
    """A module of about ``size`` bytes whose every task joins another (worst case for fix)."""
    parts, length, i = [HEAD], len(HEAD), 0
    while length < size:
        parts.append(FUNCTION.format(i=i))
        length += len(parts[-1])
        i += 1
    return "".join(parts)


HELPER_MODULE = (
    "from celery import shared_task\n\n\n@shared_task\ndef add(x):\n    return x\n\n\n"
    "def dispatch(result):\n    return result.get()\n"
)
HELPER_TASK = "\n\n@shared_task\ndef calls_{i}(x):\n    return dispatch(add.delay(x + {i}))\n"


def seconds(argv: Sequence[str]) -> float:
    """Wall time of one ``celery-safe`` command in this process (output discarded)."""
    return timed(argv)[0]


def timed(argv: Sequence[str]) -> tuple[float, float]:
    """Wall and CPU time of one ``celery-safe`` command in this process."""
    out, err = io.StringIO(), io.StringIO()
    started, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        cli(list(argv))
    return time.perf_counter() - started, time.process_time() - cpu


def process_seconds(argv: Sequence[str]) -> float:
    """Wall time of one ``celery-safe`` command as its own process."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "celery_safe.cli", *argv],
        capture_output=True, check=False, timeout=600,
    )
    return time.perf_counter() - started


def floor_ratio(runs: int = 3) -> None:
    roots = [Path(str(package.__file__)).parent for package in PACKAGES]
    config = Config()
    files = list(python_files(roots, config))
    sources = [f.read_bytes() for f in files]  # warm the page cache for both sides

    def parse_all() -> None:
        for path in files:
            ast.parse(path.read_bytes(), filename=str(path))

    parsing: list[tuple[float, float]] = []
    fixing: list[tuple[float, float]] = []
    summary = None
    for _ in range(runs):  # alternating, best of each: a busy moment hits both sides
        parsing.append(_clocked(parse_all))
        started, cpu = time.perf_counter(), time.process_time()
        summary = fix_paths(roots, FixOptions(), config, write=False)
        fixing.append((time.perf_counter() - started, time.process_time() - cpu))
    assert summary is not None
    wall = min(f[0] for f in fixing) / min(p[0] for p in parsing)
    cpu = min(f[1] for f in fixing) / min(p[1] for p in parsing)
    size = sum(len(s) for s in sources) / 1e6
    print(f"(a) files: {len(files)} ({size:.1f} MB) under {', '.join(r.name for r in roots)}")
    print(f"    ast.parse of every file:       {min(p[0] for p in parsing):.3f} s")
    print(f"    celery-safe fix --check:       {min(f[0] for f in fixing):.3f} s")
    with_findings = sum(1 for r in summary.results if r.remaining or r.rewritten)
    print(f"    files with findings / changed: {with_findings} / {len(summary.changed)}")
    print(
        f"    ratio: {wall:.2f}x wall, {cpu:.2f}x CPU (target <= 3x)"
        f" -> {'OK' if max(wall, cpu) <= 3 else 'OVER'}"
    )


def _clocked(work: Callable[[], None]) -> tuple[float, float]:
    started, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - started, time.process_time() - cpu


def with_celery_kombu(project: Path) -> Path:
    for package in PACKAGES:
        source = Path(str(package.__file__)).parent
        shutil.copytree(source, project / source.name, ignore=shutil.ignore_patterns("__pycache__"))
    return project


def legacy_project(work: Path, copies: int) -> Path:
    project = with_celery_kombu(work / f"project{copies}")
    for n in range(copies):
        shutil.copytree(
            LEGACY, project / f"legacy{n}", ignore=shutil.ignore_patterns("__pycache__")
        )
    return project


def helper_project(work: Path, modules: int = 20, tasks: int = 5) -> Path:
    project = with_celery_kombu(work / "helpers")
    (project / "jobs").mkdir()
    for m in range(modules):
        text = HELPER_MODULE + "".join(HELPER_TASK.format(i=i) for i in range(tasks))
        (project / "jobs" / f"jobs_{m}.py").write_text(text)
    return project


def project_ratio(project: Path, label: str, runs: int = 5) -> None:
    checks, fixes = [], []
    for _ in range(runs):  # alternating: a busy moment of the machine hits both sides
        checks.append(timed(["check", str(project)]))
        fixes.append(timed(["fix", "--check", str(project)]))
    wall = min(f[0] for f in fixes) / min(c[0] for c in checks)
    cpu = min(f[1] for f in fixes) / min(c[1] for c in checks)
    print(
        f"(b) {label}: check {min(c[0] for c in checks):.2f} s | fix --check "
        f"{min(f[0] for f in fixes):.2f} s | ratio {wall:.2f}x wall, {cpu:.2f}x CPU "
        f"(target <= 2x) -> {'OK' if max(wall, cpu) <= 2 else 'OVER'}"
    )


def process_ratio(project: Path, label: str, runs: int = 3) -> None:
    checks, fixes = [], []
    for _ in range(runs):
        checks.append(process_seconds(["check", str(project)]))
        fixes.append(process_seconds(["fix", "--check", "-q", str(project)]))
    check, fix = min(checks), min(fixes)
    print(
        f"(e) {label}, whole processes: check {check:.2f} s | fix --check {fix:.2f} s"
        f" | ratio {fix / check:.2f}x"
    )


def growth(work: Path, sizes: Sequence[int]) -> None:
    previous: tuple[float, float] | None = None
    for size in sizes:
        target = work / f"generated_{size}.py"
        target.write_text(generated_module(size))
        check = seconds(["check", str(target)])
        fix = seconds(["fix", "--check", str(target)])
        growth = (
            f" | x{check / previous[0]:.2f} / x{fix / previous[1]:.2f} for x2 size"
            if previous
            else ""
        )
        print(f"(c) {size / 1e3:6.0f} kB: check {check:6.2f} s, fix --check {fix:6.2f} s{growth}")
        previous = (check, fix)


def sparse(work: Path, size: int = 1_000_000) -> None:
    target = work / "sparse.py"
    target.write_text(sparse_module(size, 4))
    check = seconds(["check", str(target)])
    fix = seconds(["fix", "--check", str(target)])
    limit, slices.MIN_LINES = slices.MIN_LINES, 10**9
    try:
        whole = seconds(["fix", "--check", str(target)])
    finally:
        slices.MIN_LINES = limit
    print(
        f"(d) {size / 1e6:g} MB, 4 joins: check {check:.2f} s | fix --check {fix:.2f} s"
        f" | whole module to libcst {whole:.2f} s ({whole / fix:.1f}x slower)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true",
                        help="every row at a tiny size: vine instead of celery + kombu, one run"
                        " each, small generated modules (keeps the script working; figures mean"
                        " nothing)")
    args = parser.parse_args(argv)
    if args.tiny:
        PACKAGES[:] = [importlib.import_module("vine")]
    runs = 1 if args.tiny else None
    corpus = " + ".join(package.__name__ for package in PACKAGES)
    floor_ratio(runs or 3)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        projects = [
            (legacy_project(work, 1), f"{corpus} + 1 x legacy"),
            (legacy_project(work, 3), f"{corpus} + 3 x legacy"),
            (helper_project(work), f"{corpus} + 20 modules (100 CSF104)"),
        ]
        for project, label in projects:
            project_ratio(project, label, runs or 5)
        for project, label in projects[1:]:
            process_ratio(project, label, runs or 3)
        growth(work, (5_000, 10_000) if args.tiny else (50_000, 100_000, 200_000))
        sparse(work, 50_000 if args.tiny else 1_000_000)


if __name__ == "__main__":
    # every check here analyses: a warm findings cache would time reading it instead
    os.environ["CELERY_SAFE_CACHE_DIR"] = "off"
    main()
