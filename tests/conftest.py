"""Shared test plumbing: Redis for integration tests (fails instead of skipping under CI)."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

REDIS_URL = os.environ.get("CELERY_SAFE_REDIS_URL", "redis://127.0.0.1:6379")


def _redis_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_base_url() -> str:
    """``redis://host:port`` of a live Redis; append ``/N`` for a database of your own."""
    if not _redis_reachable(REDIS_URL):
        message = f"Redis not reachable at {REDIS_URL} (set CELERY_SAFE_REDIS_URL)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL.rstrip("/")
