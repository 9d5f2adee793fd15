"""mypy --strict sees ``.logic``'s real signature in every decorator form."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def test_mypy_strict_accepts_the_typing_check_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The project is installed editable: point mypy at the sources explicitly.
    monkeypatch.setenv("MYPYPATH", str(ROOT))
    stdout, stderr, status = api.run([
        "--strict", "--config-file", str(ROOT / "pyproject.toml"),
        "--cache-dir", str(tmp_path / "mypy-cache"), "--no-error-summary",
        str(HERE / "typing_check.py"),
    ])
    assert (stdout, stderr, status) == ("", "", 0)
