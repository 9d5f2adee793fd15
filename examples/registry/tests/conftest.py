"""Shared fixtures for the registry example's tests (domain and Celery halves)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from registry.samples import BadInputs, add_bad_inputs, generate_sample_collections


@pytest.fixture(scope="session")
def shared_samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3 collections x 4 bundles, generated once per session: DO NOT MODIFY (read-only)."""
    return generate_sample_collections(tmp_path_factory.mktemp("shared-samples"))


@pytest.fixture
def sample_yaml(tmp_path: Path) -> Path:
    """A fresh 3x4 sample set this test may modify; returns collections.yaml."""
    return generate_sample_collections(tmp_path / "samples")


@pytest.fixture
def bad_samples(sample_yaml: Path) -> tuple[Path, BadInputs]:
    """A fresh sample set with every bad input planted; returns (collections.yaml, what)."""
    return sample_yaml, add_bad_inputs(sample_yaml)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite database URL in this test's temp dir."""
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "checkouts"
    path.mkdir()
    yield path
