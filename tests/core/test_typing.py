"""mypy --strict sees ``.logic``'s real signature in every decorator form, and mypy and
pyright both type the calls that send a task without resources."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mypy import api

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _keep_the_recursion_limit() -> Iterator[None]:
    """mypy's ``api.run`` raises the process's recursion limit to 2**14 and leaves it:
    later tests that rely on the default limit (too-deep input is CSF000) would pass
    input that should fail."""
    limit = sys.getrecursionlimit()
    yield
    sys.setrecursionlimit(limit)
ROOT = HERE.parents[1]


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One mypy cache for the module's runs: both run with the same options (``--strict``
    implies ``--warn-unused-ignores``), so the second reads celery_safe's and Celery's
    analysis from the first's cache instead of redoing it."""
    return tmp_path_factory.mktemp("mypy-cache")


def test_mypy_strict_accepts_the_typing_check_file(
    monkeypatch: pytest.MonkeyPatch, mypy_cache: Path
) -> None:
    # The project is installed editable: point mypy at the sources explicitly.
    monkeypatch.setenv("MYPYPATH", str(ROOT))
    stdout, stderr, status = api.run([
        "--strict", "--config-file", str(ROOT / "pyproject.toml"),
        "--cache-dir", str(mypy_cache), "--no-error-summary",
        str(HERE / "typing_check.py"),
    ])
    assert (stdout, stderr, status) == ("", "", 0)


TYPED = HERE / "typed_tasks_check.py"


def test_mypy_types_the_calls_that_send_a_task(
    monkeypatch: pytest.MonkeyPatch, mypy_cache: Path
) -> None:
    monkeypatch.setenv("MYPYPATH", str(ROOT))
    stdout, stderr, status = api.run([
        "--strict", "--warn-unused-ignores", "--config-file", str(ROOT / "pyproject.toml"),
        "--cache-dir", str(mypy_cache), "--no-error-summary", str(TYPED),
    ])
    assert (stdout, stderr, status) == ("", "", 0)


def test_pyright_types_the_calls_that_send_a_task(tmp_path: Path) -> None:
    """The same file under pyright: each ignored line must be an error there too."""
    config = tmp_path / "pyrightconfig.json"
    config.write_text(json.dumps({
        "typeCheckingMode": "standard",
        "reportUnnecessaryTypeIgnoreComment": "error",
        "extraPaths": [str(ROOT)],  # the editable install's import hook is invisible to it
        "venvPath": str(Path(sys.prefix).parent),
        "venv": Path(sys.prefix).name,
    }))
    pyright = shutil.which("pyright", path=str(Path(sys.executable).parent))
    assert pyright is not None, "pyright is a dev dependency: pip install -e '.[dev]'"
    done = subprocess.run(
        [pyright, "--project", str(config), str(TYPED)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0 and "0 errors" in done.stdout, done.stdout + done.stderr
