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


@pytest.mark.parametrize(("argv", "said"), [
    (["explain", ""], "unknown code ''"),
    (["explain", "--list", "CSF101"], "give a code or --list, not both"),
])
def test_explain_names_a_code_it_cannot_show(argv: list[str], said: str) -> None:
    """An empty code, or a code with --list, was taken for a bare ``explain`` (the list)."""
    run = _run(*argv)
    assert run.returncode == 2, run.stdout
    assert said in run.stderr and run.stdout == ""
