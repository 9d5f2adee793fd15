"""``flake8 --select=CSF`` and ``celery-safe check`` over the same files: the same findings.

Both are given the same explicit list of files (their walkers skip different folders),
once with the default codes and once with every opt-in code named (``CSF9``). A finding
is compared by file, line, character column, code and message; a file Python cannot
parse is E999 in flake8 and CSF000 in ``check``. Neither uses the findings cache: each
computes its own answer (``test_cache.py`` holds the cache to the uncached answer).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from celery_safe.cli import main
from celery_safe.lint.front.formats import character_column

Row = tuple[str, int, int, str, str]

#: (flake8's options, check's options) that select the same codes
SELECTIONS = (
    (("--select=CSF,E999",), ()),
    (("--select=CSF,CSF9,E999",), ("--extend-select", "CSF9")),
)


def python_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def flake8_rows(files: Sequence[Path], options: Sequence[str]) -> set[Row]:
    argv = [sys.executable, "-m", "flake8", "--isolated", "-j", "2", *options]
    env = {**os.environ, "CELERY_SAFE_CACHE_DIR": "off"}  # each computes its own
    out = subprocess.run([*argv, *map(str, files)], capture_output=True, text=True, env=env)
    assert out.returncode in (0, 1), out.stderr
    rows = set()
    lines: dict[str, list[str]] = {}
    for text in out.stdout.splitlines():
        path, line, col, message = text.split(":", 3)
        message = message.strip()
        code = message.split()[0]
        if code == "E999":
            rows.add((path, 0, 0, "CSF000", ""))  # check: CSF000, its own message
            continue
        if path not in lines:
            lines[path] = Path(path).read_text(encoding="utf-8").splitlines()
        physical = lines[path][int(line) - 1] if 0 < int(line) <= len(lines[path]) else ""
        rows.add((path, int(line), character_column(physical, int(col) - 1), code, message))
    return rows


def check_rows(files: Sequence[Path], options: Sequence[str]) -> set[Row]:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        argv = [*map(str, files), *options, "--no-cache", "--format", "json", "--output"]
        code = main(["check", *argv, str(report)])
        assert code in (0, 1), f"check exited {code}"
        found = json.loads(report.read_text())
    rows = set()
    for row in found:
        if row["code"] == "CSF000" and "parse" in row["message"]:
            rows.add((row["path"], 0, 0, "CSF000", ""))
        else:
            rows.add((row["path"], row["line"], row["column"], row["code"], row["message"]))
    return rows


def assert_same_findings(files: Sequence[Path]) -> int:
    """flake8 and check agree on ``files`` (absolute paths); the number of findings."""
    assert files, "nothing to compare"
    total = 0
    for flake8_options, check_options in SELECTIONS:
        by_check = check_rows(files, check_options)
        by_flake8 = flake8_rows(files, flake8_options)
        assert sorted(by_flake8 - by_check) == [], f"only flake8 {flake8_options}"
        assert sorted(by_check - by_flake8) == [], f"only check {check_options}"
        total += len(by_check)
    return total
