"""Hostile file names in ``celery-safe check``'s text report: one finding, one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

JOINING = """\
from celery import shared_task


@shared_task
def a():
    return b.delay().get()


@shared_task
def b():
    return 1
"""


def test_a_newline_in_a_path_cannot_forge_report_lines(tmp_path: Path) -> None:
    """Reproduces: ``pkg/x\\nforged.py:1:1: CSF000 ...`` printed as two report lines, the
    second one a finding no file has (a CI problem matcher reads each line)."""
    name = "x.py\nforged.py:9:9: CSF000 planted\n\rz.py"
    (tmp_path / name).write_text(JOINING)
    run = subprocess.run([sys.executable, "-m", "celery_safe.cli", "check", "."],
                         cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert lines == [
        "x.py\\nforged.py:9:9: CSF000 planted\\n\\rz.py:6:12: CSF101 task a blocks on a "
        "Celery result (b.delay().get()); a task must never wait for another task",
        "Found 1 finding(s) in 1 file(s).",
    ]
