"""``celery-safe graph``, ``why`` and ``check-app`` on a module:attr whose import fails:
exit code 2 with what went wrong, never a traceback and exit code 1 (which means "the run
failed")."""

from __future__ import annotations

import subprocess
import sysconfig
from pathlib import Path

import pytest

SCRIPT = Path(sysconfig.get_path("scripts")) / "celery-safe"
MODULES = {
    "boom": ('raise RuntimeError("boom at import")\n', "RuntimeError: boom at import"),
    "badsyntax": ("def f(:\n", "SyntaxError: "),
    "exits": ("import sys\nsys.exit(3)\n", "SystemExit: the module exited (3) while imported"),
    "lazy": ("def nightly():\n    raise KeyError('no config')\n", "KeyError: 'no config'"),
}
COMMANDS = {
    "graph": ["graph", "{module}:nightly"],
    "graph-trace": ["graph", "--trace", "some-id", "--app", "{module}:app"],
    "why": ["why", "some-id", "--app", "{module}:app"],
    "check-app": ["check-app", "{module}:app"],
}


#: every command with every module; "lazy" fails when called, and only graph calls
CASES = [(m, c) for m in sorted(MODULES) for c in sorted(COMMANDS)
         if m != "lazy" or c == "graph"]


@pytest.mark.parametrize(("module", "command"), CASES)
def test_a_module_that_cannot_be_loaded_is_exit_2_naming_why(
    tmp_path: Path, module: str, command: str
) -> None:
    source, why = MODULES[module]
    (tmp_path / f"{module}.py").write_text(source)
    argv = [part.format(module=module) for part in COMMANDS[command]]
    run = subprocess.run([str(SCRIPT), *argv], cwd=tmp_path, capture_output=True, text=True,
                         check=False, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    target = argv[1] if command in ("graph", "check-app") else argv[-1]
    if command == "check-app" and module == "exits":
        why = "SystemExit: 3"  # check-app names the exception as it is
    assert f"cannot load {target}: {why}" in run.stderr


BAD_IDS = {
    "empty": ("", "the task id is empty"),
    "blank": ("   ", "the task id is empty"),
    "newline": ("a\nb", "control characters"),
    "escape": ("x\x1b[31mred\x07", "control characters"),
    "huge": ("a" * 10240, "at most 255 bytes"),
}


@pytest.mark.parametrize("command", ["why", "graph-trace"])
@pytest.mark.parametrize("case", sorted(BAD_IDS))
def test_a_task_id_no_run_can_have_is_exit_2_and_never_echoed_raw(
    tmp_path: Path, command: str, case: str
) -> None:
    """An id that no sent task can have (empty, control characters, longer than the AMQP
    short string Celery sends it in) is a usage error named before the app is loaded;
    the id is shown escaped and shortened, never written raw to a terminal."""
    task_id, says = BAD_IDS[case]
    (tmp_path / "wapp.py").write_text("from celery import Celery\napp = Celery('w')\n")
    argv = {"why": ["why", "--app", "wapp:app", "--", task_id],
            "graph-trace": ["graph", "--app", "wapp:app", "--trace", task_id]}[command]
    run = subprocess.run([str(SCRIPT), *argv], cwd=tmp_path, capture_output=True, text=True,
                         check=False, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    assert says in run.stderr
    assert run.stderr.count("\n") == 1 and "\x1b" not in run.stderr and len(run.stderr) < 300


@pytest.mark.parametrize("command", ["why", "check-app"])
@pytest.mark.parametrize("timeout", ["-1", "0", "nan", "inf", "1e400", "soon"])
def test_a_timeout_that_is_not_a_positive_finite_number_is_refused(
    tmp_path: Path, timeout: str, command: str
) -> None:
    """Reproduces: ``--timeout inf`` made ``inspect`` wait forever for workers to answer,
    and ``nan``/``-1``/``0`` asked them nothing (so "no worker holds it" was said unasked)."""
    (tmp_path / "wapp.py").write_text("from celery import Celery\napp = Celery('w')\n")
    argv = {"why": ["why", "--app", "wapp:app", "some-id"],
            "check-app": ["check-app", "--inspect", "wapp:app"]}[command]
    run = subprocess.run([str(SCRIPT), *argv, "--timeout", timeout], cwd=tmp_path,
                         capture_output=True, text=True, check=False, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""
    assert f"--timeout: {timeout!r} is not a number of seconds above 0" in run.stderr
