"""The declared ``celery`` range is exactly the range ``make matrix`` tests."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import celery
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def _matrix() -> dict[str, tuple[str, str]]:
    spec = importlib.util.spec_from_file_location("matrix", ROOT / "scripts" / "matrix.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    releases: dict[str, tuple[str, str]] = module.CELERY_RELEASES
    return releases


def _declared() -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return next(
        Requirement(line) for line in project["dependencies"]
        if Requirement(line).name == "celery"
    )


def test_the_declared_celery_range_is_the_tested_one() -> None:
    releases = _matrix()
    specifier = _declared().specifier
    minors = sorted(releases, key=lambda minor: tuple(map(int, minor.split("."))))
    for minor in minors:
        celery, kombu = releases[minor]
        assert celery.startswith(f"{minor}.") and kombu.startswith(f"{minor}.")
        assert specifier.contains(f"{minor}.0") and specifier.contains(celery)
    major, lowest = map(int, minors[0].split("."))
    _, highest = map(int, minors[-1].split("."))
    assert [int(minor.split(".")[1]) for minor in minors] == list(range(lowest, highest + 1))
    assert not specifier.contains(f"{major}.{lowest - 1}.99")  # below the floor
    assert not specifier.contains(f"{major}.{highest + 1}.0")  # newer than tested


def test_ci_runs_every_celery_minor() -> None:
    """`.ci/run` runs `make test` on the installed Celery and `make matrix` on the others."""
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", script, re.MULTILINE)
    ran = re.search(r'^make matrix MATRIX_CELERY="([0-9. ]+)"$', script, re.MULTILINE)
    assert ran, ".ci/run must run `make matrix`"
    installed = ".".join(celery.__version__.split(".")[:2])
    assert sorted({*ran.group(1).split(), installed}) == sorted(_matrix())
    assert installed not in ran.group(1).split(), "the same minor twice"
    latest = max(_matrix(), key=lambda minor: tuple(map(int, minor.split("."))))
    makefile = (ROOT / "Makefile").read_text()
    assert f"scripts/matrix.py --celery {latest} --python $(MATRIX_PYTHONS)" in makefile


def test_the_linters_supported_versions_are_the_tested_ones() -> None:
    """``[tool.celery-safe] celery`` accepts exactly the minors the matrix tests."""
    from celery_safe.celery_internals import SUPPORTED_CELERY

    assert [f"{major}.{minor}" for major, minor in SUPPORTED_CELERY] == sorted(
        _matrix(), key=lambda minor: tuple(map(int, minor.split(".")))
    )
