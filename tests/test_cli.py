"""The ``celery-safe`` command's top level, run as a user runs it: a real process, a real pipe."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from importlib.metadata import version
from pathlib import Path

import pytest

import celery_safe
from celery_safe.cli import LINT_EXTRA

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sysconfig.get_path("scripts")) / "celery-safe"


def _run(*argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *argv], capture_output=True, text=True, check=False,
                          timeout=120, **kwargs)  # type: ignore[call-overload]


def test_version_is_the_package_version_and_the_changelog_top() -> None:
    run = _run("--version")
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"celery-safe {celery_safe.__version__}\n"
    assert version("celery-safe") == celery_safe.__version__  # pyproject reads the same attr
    top = re.search(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert top is not None and top.group(1) == celery_safe.__version__


def test_help_is_plain_text_naming_every_verb() -> None:
    run = _run("--help")
    assert run.returncode == 0 and run.stderr == ""
    assert "``" not in run.stdout
    for verb in ("check", "fix", "explain", "graph", "--version"):
        assert f"celery-safe {verb}" in run.stdout
    bare = _run()
    assert bare.returncode == 2 and "usage: celery-safe" in bare.stderr


def test_a_reader_closing_the_pipe_early_is_no_traceback() -> None:
    # `celery-safe explain --list | head -1`: the shell's pipe, head's early exit
    run = subprocess.run(
        f"'{SCRIPT}' explain --list | head -1", shell=True, capture_output=True, text=True,
        check=False, timeout=120,
    )
    assert run.returncode == 0
    assert re.fullmatch(r"CSF\d{3} .*\n", run.stdout), run.stdout
    assert run.stderr == ""


# A process where the [lint] extra's modules cannot be imported, as on `pip install
# celery-safe` without the extra (the suite's venv has them: a finder refuses them here).
WITHOUT_LINT = """
import sys
from importlib.abc import MetaPathFinder
class NotInstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {missing!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, NotInstalled())
from celery_safe.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("verb", ["check", "fix"])
def test_the_linter_without_its_extra_says_which_to_install(verb: str, tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("x = 1\n")
    code = WITHOUT_LINT.format(missing=sorted(LINT_EXTRA))
    run = subprocess.run([sys.executable, "-c", code, verb, str(tmp_path)], capture_output=True,
                         text=True, check=False, timeout=120, env={**os.environ})
    assert run.returncode == 2
    assert "pip install 'celery-safe[lint]'" in run.stderr
    assert "Traceback" not in run.stderr


def test_every_entry_point_reaches_the_front_ends(tmp_path: Path) -> None:
    """The console script, ``python -m celery_safe`` and flake8's entry point (pyproject)
    run the same check from ``celery_safe.lint.front``."""
    from importlib.metadata import entry_points

    from celery_safe.lint.registry import RULES

    source = tmp_path / "tasks.py"
    source.write_text(RULES["CSF101"].invalid[0])  # a join in a task, line 13
    env = {**os.environ, "CELERY_SAFE_CACHE_DIR": "off"}
    script = _run("check", str(source), env=env)
    module = subprocess.run([sys.executable, "-m", "celery_safe", "check", str(source)],
                            capture_output=True, text=True, check=False, timeout=120, env=env)
    for run in (script, module):
        assert run.returncode == 1, run.stderr
        assert f"{source}:13:" in run.stdout and " CSF101 " in run.stdout
    assert script.stdout == module.stdout
    [plugin] = [e for e in entry_points(group="flake8.extension") if e.name == "CSF"]
    assert plugin.value == "celery_safe.lint.front.flake8_plugin:Plugin"
    assert plugin.load().__module__ == "celery_safe.lint.front.flake8_plugin"
    flake8 = subprocess.run([sys.executable, "-m", "flake8", "--select=CSF", str(source)],
                            capture_output=True, text=True, check=False, timeout=120, env=env)
    assert flake8.returncode == 1, flake8.stderr
    where = script.stdout.split(" CSF101 ")[0]  # path:line:col:
    assert flake8.stdout.startswith(f"{where} CSF101 "), (script.stdout, flake8.stdout)


@pytest.mark.parametrize(("argv", "said"), [
    (["explain", ""], "unknown code ''"),
    (["explain", "--list", "CSF101"], "give a code or --list, not both"),
])
def test_explain_names_a_code_it_cannot_show(argv: list[str], said: str) -> None:
    """An empty code, or a code with --list, was taken for a bare ``explain`` (the list)."""
    run = _run(*argv)
    assert run.returncode == 2, run.stdout
    assert said in run.stderr and run.stdout == ""
