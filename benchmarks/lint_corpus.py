"""Precision run: ``celery-safe check``'s engine over installed celery, kombu and django.

Prints every finding (each must be justified in the lint notes), any internal error
(there must be none) and the size of the corpus. Not a test: it reads ~230k lines.

``--assume-tasks`` stresses result tracking instead: every function of the corpus is
treated as a task, so every join the data flow believes is on a Celery result is
printed (CSF101/CSF104/CSF105). Libraries full of ``dict.get``, ``Queue.get``,
``Thread.join`` and multiprocessing results must yield only real Celery joins.

``--opt-in`` also runs the codes that are off by default (CSF9xx).

    .venv/bin/python benchmarks/lint_corpus.py [--assume-tasks | --opt-in] [PACKAGE...]
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import sysconfig
import time
from pathlib import Path

from celery_safe.lint import Config, InternalError, check_source
from celery_safe.lint.engine import subscribers
from celery_safe.lint.findings import Finding
from celery_safe.lint.interp.analysis import ModuleAnalysis
from celery_safe.lint.interp.index import TaskOptions, build_index
from celery_safe.lint.registry import RULES, Report

DEFAULT_PACKAGES = ("celery", "kombu", "django")
#: the join codes ``--assume-tasks`` runs (their handlers listen to the walk)
JOIN_CODES = ("CSF101", "CSF104", "CSF105")


def package_dir(name: str) -> Path:
    """The installed package's folder, found without importing it."""
    folder = Path(sysconfig.get_paths()["purelib"]) / name
    if not (folder / "__init__.py").is_file():
        raise SystemExit(f"package {name!r} is not installed in {folder.parent}")
    return folder


def check_assuming_tasks(source: str, path: str) -> list[Finding]:
    """Join findings as if every function in ``source`` were a Celery task."""
    tree = ast.parse(source)
    index = build_index(tree)
    for function in index.functions:
        function.task = function.task or TaskOptions("assumed")
    listening = subscribers(Config(select=JOIN_CODES))
    report = Report(ModuleAnalysis.of(tree, index, subscribers=listening), path)
    return [f for code in JOIN_CODES for f in RULES[code].check(report)]


def main(packages: list[str], assume_tasks: bool = False, opt_in: bool = False) -> int:
    config = Config(select=("CSF",)) if opt_in else Config()

    def check(source: str, path: str) -> list[Finding]:
        if assume_tasks:
            return check_assuming_tasks(source, path)
        return check_source(source, path, config, noqa=False)

    files = lines = 0
    findings, crashes, unparsable = [], [], []
    started = time.perf_counter()
    for name in packages:
        root = package_dir(name)
        for path in sorted(root.rglob("*.py")):
            source = importlib.util.decode_source(path.read_bytes())
            files += 1
            lines += source.count("\n")
            shown = f"{name}/{path.relative_to(root)}"
            try:
                findings += check(source, shown)
            except SyntaxError as exc:  # e.g. django's project templates
                unparsable.append(f"{shown}: {exc.msg}")
            except InternalError as exc:
                crashes.append(str(exc))
            except Exception as exc:
                crashes.append(f"{shown}: {type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - started
    for finding in findings:
        print(f"{finding.path}:{finding.line}:{finding.col + 1}: {finding.message}")
    for problem in unparsable:
        print(f"not Python 3 source (skipped): {problem}")
    for crash in crashes:
        print(f"INTERNAL ERROR: {crash}")
    print(
        f"{', '.join(packages)}: {files} files, {lines} lines, {len(findings)} finding(s), "
        f"{len(crashes)} internal error(s), {elapsed:.2f} s"
    )
    return 1 if crashes else 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    flags = {a for a in arguments if a.startswith("--")}
    names = [a for a in arguments if a not in flags] or list(DEFAULT_PACKAGES)
    sys.exit(main(names, assume_tasks="--assume-tasks" in flags, opt_in="--opt-in" in flags))
