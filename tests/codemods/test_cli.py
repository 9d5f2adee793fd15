"""``celery-safe fix`` end to end: exit codes, --check/--diff, untouched files, broken files,
and the same codemods through ``python -m libcst.tool codemod``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import libcst
import pytest

from celery_safe.cli import main

TASKS = """\
from celery import Celery

app = Celery("t")


@app.task
def add(x, y=0):
    return x + y


@app.task
def total(x):
    return add.delay(x, y=1).get(timeout=5)
"""
FIXED_TOTAL = """\
@app.task
def total(x):
    # celery-safe: dropped timeout=5 (nothing to wait for)
    return add(x, y=1)
"""
UNFIXABLE = """\
from celery import Celery

app = Celery("u")


@app.task
def remote(name):
    return app.send_task(name).get()
"""
CLEAN = "# -*- coding: latin-1 -*-\nfrom celery import Celery\r\nNAME = 'caf\xe9'\r\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "tasks.py").write_text(TASKS, encoding="utf-8")
    (tmp_path / "pkg" / "clean.py").write_bytes(CLEAN.encode("latin-1"))
    return tmp_path


def test_fix_rewrites_and_exits_0_when_nothing_remains(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = project / "pkg" / "clean.py"
    before = clean.read_bytes(), clean.stat().st_mtime_ns
    assert main(["fix", str(project)]) == 0
    assert (project / "pkg" / "tasks.py").read_text().endswith(FIXED_TOTAL)
    assert (clean.read_bytes(), clean.stat().st_mtime_ns) == before, (
        "a file without findings is never written"
    )
    assert "fixed" in capsys.readouterr().out
    assert main(["fix", str(project)]) == 0  # idempotent


def test_check_writes_nothing_and_exits_1_when_a_file_would_change(project: Path) -> None:
    tasks = project / "pkg" / "tasks.py"
    assert main(["fix", "--check", str(project)]) == 1
    assert tasks.read_text() == TASKS
    assert main(["fix", str(project)]) == 0
    assert main(["fix", "--check", str(project)]) == 0


def test_diff_prints_a_unified_diff(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix", "--diff", str(project / "pkg" / "tasks.py")]) == 1
    out = capsys.readouterr().out
    assert "-    return add.delay(x, y=1).get(timeout=5)\n+    # celery-safe: dropped" in out
    assert "\n+    return add(x, y=1)\n" in out
    assert (project / "pkg" / "tasks.py").read_text() == TASKS


def test_remaining_findings_are_listed_with_a_reason_and_exit_1(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pkg" / "remote.py").write_text(UNFIXABLE)
    assert main(["fix", str(project)]) == 1
    out = capsys.readouterr().out
    assert "remote.py:8:12: CSF101 not fixed: the task is named by a string (send_task)" in out
    assert (project / "pkg" / "tasks.py").read_text().endswith(FIXED_TOTAL)


def test_a_syntax_error_is_reported_and_other_files_are_still_fixed(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pkg" / "broken.py").write_text("@app.task\ndef oops(:\n    pass\n")
    assert main(["fix", str(project)]) == 1
    assert "broken.py: syntax error, not fixed" in capsys.readouterr().err
    assert (project / "pkg" / "tasks.py").read_text().endswith(FIXED_TOTAL)


def test_usage_and_io_errors_exit_2(tmp_path: Path) -> None:
    assert main(["fix", str(tmp_path / "missing.py")]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["fix"])
    assert exc.value.code == 2


def test_libcst_tool_runs_the_same_codemod(project: Path) -> None:
    """The invocation documented in the README, from a directory with the libcst config."""
    (project / ".libcst.codemod.yaml").write_text(
        "generated_code_marker: '@generated'\nformatter: []\nblacklist_patterns: []\n"
        "modules:\n- 'celery_safe.lint.codemods'\nrepo_root: '.'\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "libcst.tool", "codemod", "inline_joins.InlineTaskJoins",
         "--no-format", "-j", "1", "pkg"],
        cwd=project, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert (project / "pkg" / "tasks.py").read_text().endswith(FIXED_TOTAL)
    assert (project / "pkg" / "clean.py").read_bytes() == CLEAN.encode("latin-1")


def test_libcst_parses_only_files_with_findings(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "pkg" / "other.py").write_text("def get(d):\n    return d.get('x')\n")
    parsed: list[str] = []
    real = libcst.parse_module

    def counting(source: str | bytes, *args: Any, **kwargs: Any) -> libcst.Module:
        parsed.append(source if isinstance(source, str) else source.decode())
        return real(source, *args, **kwargs)

    monkeypatch.setattr(libcst, "parse_module", counting)
    assert main(["fix", "--check", str(project)]) == 1
    assert parsed == [TASKS]


HELPER_ONLY = """\
from celery import shared_task


@shared_task
def add(x):
    return x


def wait(result):
    return result.get()


@shared_task
def total(x):
    return wait(add.delay(x))


@shared_task(ignore_result=True)
def ignored(x):
    return x
"""


def test_findings_no_rewrite_consumes_never_load_libcst(tmp_path: Path) -> None:
    """A CSF104 (the join is in a helper) is refused from the engine's facts: the run
    reports it with its reason and never imports libcst (a third of a second)."""
    (tmp_path / "tasks.py").write_text(HELPER_ONLY)
    probe = (
        "import sys\n"
        "from celery_safe.cli import main\n"
        f"code = main(['fix', '--check', {str(tmp_path)!r}])\n"
        "print('LOADED' if 'libcst' in sys.modules else 'NOT LOADED', code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.stdout.splitlines()[-1] == "NOT LOADED 1", done.stdout + done.stderr
    assert "tasks.py:15:12: CSF104 not fixed: the join is inside a helper" in done.stdout
