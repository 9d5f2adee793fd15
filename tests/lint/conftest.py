"""Every lint test gets its own findings cache: no test sees another's entries."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from celery_safe.lint.front import flake8_plugin


@pytest.fixture(autouse=True)
def private_findings_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """``CELERY_SAFE_CACHE_DIR`` for this test (its subprocesses inherit it)."""
    folder = tmp_path_factory.mktemp("cache") / "celery-safe"
    monkeypatch.setenv("CELERY_SAFE_CACHE_DIR", str(folder))
    flake8_plugin._RUNS.clear()  # the plugin keeps one cache per process
    yield folder
    flake8_plugin._RUNS.clear()
