"""``python -m registry demo`` (what ``make demo`` runs) prints what the README shows: the
summary of a fresh run of the 3 x 4 samples, then two Mermaid graphs and the run's page;
``--keep`` runs again on the same data and finds every bundle unchanged. It follows
``init`` as in the registry README's list of commands (the demo replaces init's sample
data)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[3] / "README.md"


def _demo(home: Path, *options: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    run = subprocess.run([sys.executable, "-m", "registry", "demo", "--home", str(home),
                          *options], cwd=home.parent, env=env, capture_output=True, text=True,
                         check=False, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout


def _summary(text: str) -> list[str]:
    """The summary's lines, less the seconds (which vary from run to run)."""
    block = re.search(r"^pipeline finished in .*?\n((?:  \S.*\n)+)", text, re.MULTILINE)
    assert block is not None, text[-3000:]
    return block.group(1).splitlines()


@pytest.mark.worker
def test_the_demo_prints_the_readmes_summary_and_a_keep_rerun_changes_nothing(
    tmp_path: Path,
) -> None:
    shown = README.read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    init = subprocess.run([sys.executable, "-m", "registry", "init", "--home",
                           str(tmp_path / "home")], env=env, capture_output=True, text=True,
                          check=False, timeout=300)
    assert init.returncode == 0, init.stderr  # the README's order: init ... then demo
    fresh = _demo(tmp_path / "home")
    assert _summary(fresh) == _summary(shown)
    assert fresh.count("```mermaid") == 2
    assert re.search(r"^this run        http://127\.0\.0\.1:8000/runs/[0-9a-f-]{36}$", fresh,
                     re.MULTILINE)
    again = _demo(tmp_path / "home", "--keep")
    unchanged = "  bundles      12 parsed (0 new, 0 updated, 12 unchanged, 0 removed)"
    assert _summary(again)[1] == unchanged
