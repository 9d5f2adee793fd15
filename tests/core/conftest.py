"""Fixtures of the core tests: the worker app modules in ``apps/`` are importable."""

from __future__ import annotations

import sys
from pathlib import Path

APPS_DIR = Path(__file__).resolve().parent / "apps"
if str(APPS_DIR) not in sys.path:
    sys.path.insert(0, str(APPS_DIR))

#: Redis databases reserved for these tests.
REDIS_DB_WORKERS = 1
REDIS_DB_BACKEND = 2


def require_green_pool(library: str) -> None:
    """Skip without ``library`` (gevent, eventlet); under ``CI`` its absence fails."""
    import importlib.util
    import os

    import pytest

    if importlib.util.find_spec(library) is None:
        message = f"{library} is not installed (the [dev] extra installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
