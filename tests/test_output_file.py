"""``--output`` files (``check``, ``graph``) in a folder other users can write to: a link
or hard link planted at that name is refused, never written through, and a bad path is
exit code 2 with a message, not a traceback."""

from __future__ import annotations

import os
import stat
import subprocess
import sysconfig
from pathlib import Path

import pytest

SCRIPT = Path(sysconfig.get_path("scripts")) / "celery-safe"
FLOWS = """\
from celery import Celery

app = Celery("flows")


@app.task
def add(x, y):
    return x + y


nightly = add.s(1, 2) | add.s(3)
"""


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *argv], cwd=cwd, capture_output=True, text=True,
                          check=False, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "flows.py").write_text(FLOWS)
    return tmp_path


def _commands(out: Path) -> list[list[str]]:
    return [["check", "flows.py", "--format", "sarif", "--output", str(out)],
            ["graph", "flows:nightly", "--format", "svg", "-o", str(out)],
            ["graph", "flows:nightly", "--format", "png", "-o", str(out)]]


@pytest.mark.parametrize("index", [0, 1, 2], ids=["check", "graph-svg", "graph-png"])
def test_a_planted_link_at_the_output_is_refused_and_its_target_kept(
    project: Path, index: int
) -> None:
    """Reproduces: ``check --output`` wrote through another user's link (overwriting
    the file it named, as whoever ran the check)."""
    precious = project / "precious.txt"
    precious.write_text("mine")
    out = project / "report.out"
    out.symlink_to(precious)
    run = _run(*_commands(out)[index], cwd=project)
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"{out} is a symbolic link" in run.stderr
    assert "Traceback" not in run.stderr
    assert precious.read_text() == "mine"


@pytest.mark.parametrize("index", [0, 1, 2], ids=["check", "graph-svg", "graph-png"])
def test_a_hard_link_at_the_output_is_refused(project: Path, index: int) -> None:
    precious = project / "precious.txt"
    precious.write_text("mine")
    out = project / "report.out"
    os.link(precious, out)
    run = _run(*_commands(out)[index], cwd=project)
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"{out} has other hard links" in run.stderr
    assert precious.read_text() == "mine"


@pytest.mark.parametrize("index", [0, 1, 2], ids=["check", "graph-svg", "graph-png"])
def test_an_output_in_a_missing_folder_is_exit_2_naming_it(project: Path, index: int) -> None:
    out = project / "missing" / "report.out"
    run = _run(*_commands(out)[index], cwd=project)
    assert run.returncode == 2, run.stdout + run.stderr
    assert str(out) in run.stderr and "No such file or directory" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("index", [0, 1, 2], ids=["check", "graph-svg", "graph-png"])
def test_a_new_output_is_private_and_an_old_one_replaced(project: Path, index: int) -> None:
    out = project / "report.out"
    out.write_bytes(b"x" * 200_000)  # longer than any report: truncated, not overwritten
    os.chmod(out, 0o600)
    run = _run(*_commands(out)[index], cwd=project)
    assert run.returncode in (0, 1), run.stderr
    assert not out.read_bytes().endswith(b"x")
    out.unlink()
    run = _run(*_commands(out)[index], cwd=project)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
