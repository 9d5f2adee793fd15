"""The overhead benchmark stays runnable (its figures are read by people, not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "task_overhead.py"


def test_the_benchmark_runs_and_prints_every_ratio() -> None:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--calls", "20", "--rounds", "1"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    for line in ("celery_safe.task               / app.task",
                 "celery_safe.task + resource    / app.task + with session()",
                 "app.task of a guarded app      / app.task",
                 "a join outside tasks pays"):
        assert line in out
