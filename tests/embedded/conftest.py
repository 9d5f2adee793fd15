"""Fixtures of the embedded broker's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

import celery_safe.embedded


@pytest.fixture(scope="session", autouse=True)
def _workers_run_this_checkout(workers_import_this_checkout: None) -> None:
    """Every worker these tests start runs the code under test."""


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Celery]:
    """A producer on the embedded default in ``tmp_path`` (where the test's workers read)."""
    app = celery_safe.embedded.configure(Celery("embedded_client"), tmp_path)
    yield app
    app.close()
