"""``fix --check`` on the installed celery, kombu and django sources: what would change.

Run as a script for the full report::

    .venv/bin/python tests/codemods/test_corpus.py

These packages define real tasks (celery's built-ins, its test helpers) and many
``get``/``join``/``wait`` calls that are not Celery joins; a fix must change none of
them except real joins inside tasks, and those it cannot prove safe it must leave.
"""

from __future__ import annotations

import importlib
import sys
from collections import Counter
from pathlib import Path

import pytest

from celery_safe.lint.codemods.fixer import FixOptions
from celery_safe.lint.config import Config
from celery_safe.lint.front.fix_cli import RunSummary, fix_paths

PACKAGES = ("celery", "kombu", "django")


def package_root(name: str) -> Path | None:
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    return Path(module.__file__).parent if module.__file__ else None


def survey(name: str, options: FixOptions | None = None) -> RunSummary:
    root = package_root(name)
    if root is None:
        pytest.skip(f"{name} is not installed")
    return fix_paths([root], options or FixOptions(), Config(), write=False)


def report(name: str, summary: RunSummary) -> str:
    codes = Counter(s.finding.code for r in summary.results for s in r.remaining)
    lines = [
        f"{name}: {len(summary.results)} files, {len(summary.changed)} would change, "
        f"{sum(codes.values())} finding(s) left ({dict(codes) or 'none'}), "
        f"{len(summary.broken)} not parsed"
    ]
    lines += [f"  would change {r.path}: {len(r.rewritten)} join(s)" for r in summary.changed]
    lines += [f"  {s.format()}" for r in summary.results for s in r.remaining]
    lines += [f"  {b}" for b in summary.broken]
    return "\n".join(lines)


@pytest.mark.parametrize("name", PACKAGES)
def test_fix_check_changes_nothing_in_installed_packages(name: str) -> None:
    summary = survey(name, FixOptions(chains=True))
    assert not summary.changed, report(name, summary)
    assert not summary.io_errors
    # What remains is reported with a reason (celery's chord_unlock joins by design).
    assert all(s.reason for r in summary.results for s in r.remaining)


if __name__ == "__main__":
    for package in sys.argv[1:] or PACKAGES:
        print(report(package, survey(package)))
