"""Shared test plumbing. Redis comes from the plugin's ``celery_safe_redis_url`` fixture."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def only_this_tests_tasks() -> Iterator[None]:
    """Apps made in the test get no shared task of other test modules: a shared task
    (README examples, ``shared_task``) adds itself to every app made later, and
    ``check_app`` rightly judges it too (seen: the README's ``shop.store``, and every
    shared task of the suite under CSF402, in the whole suite only)."""
    from celery import _state

    saved = set(_state._on_app_finalizers)
    _state._on_app_finalizers.clear()
    try:
        yield
    finally:
        _state._on_app_finalizers.update(saved)


def _digest(package: Path) -> str:
    """A digest of a package folder's Python files (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(f"{path.relative_to(package)}\0".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def workers_import_this_checkout() -> None:
    """Fails when a worker process would run another celery_safe than these tests.

    A worker the tests start (``python -m celery`` in a test folder) imports the
    *installed* celery_safe; ``python -m pytest`` imports this checkout's. In a venv
    installed from another checkout the workers ran other code, and a fix looked broken
    on one Celery only (a hand-run matrix on 5.6: the race test of the embedded backend
    failed every run, with the fix in the tests' process and not in the workers')."""
    import celery_safe

    here = Path(celery_safe.__file__).resolve().parent
    found = subprocess.run(
        [sys.executable, "-c", "import celery_safe; print(celery_safe.__file__)"],
        cwd=Path(__file__).parent, env=dict(os.environ), capture_output=True, text=True,
        timeout=120, check=False,
    )
    there = Path(found.stdout.strip()).resolve().parent if found.returncode == 0 else None
    if there is None or (there != here and _digest(there) != _digest(here)):
        pytest.fail(f"worker processes would import celery_safe from {there} "
                    f"({found.stderr.strip()[-300:] or 'other code'}), these tests from "
                    f"{here}: run `{sys.executable} -m pip install --no-deps -e "
                    f"{here.parent}`", pytrace=False)


@pytest.fixture(autouse=True)
def _worker_tests_run_this_checkout(request: pytest.FixtureRequest) -> None:
    """Every test that starts a worker (marker ``worker``) runs the code under test in it:
    checked once per session (:func:`workers_import_this_checkout`)."""
    if request.node.get_closest_marker("worker") is not None:
        request.getfixturevalue("workers_import_this_checkout")
