"""A populated registry served by ``python -m registry serve``, for the web page tests.

The home gets sample collections plus :func:`registry.samples.add_hostile_collection`,
one real ``python -m registry populate --workers 1`` run (embedded broker, so the run's
trace is in that home's result store), an ``analytics --in-process`` run (the analytics
page's report), then a ``serve`` process on a free port. Both
are real processes with the home's environment: the web process reads the trace with
the same Celery configuration as the workers that wrote it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from api_support import serve_process
from registry.samples import HostileInputs, add_hostile_collection, generate_sample_collections

__all__ = ["ServedRegistry", "served_registry"]


@dataclass(frozen=True)
class ServedRegistry:
    home: Path
    db_url: str
    url: str  # base URL, no trailing slash
    hostile: HostileInputs
    env: dict[str, str]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.update({"REGISTRY_HOME": str(home), "REGISTRY_DB_URL": f"sqlite:///{home}/registry.db",
                "REGISTRY_ENHANCER": "local"})
    return env


@contextlib.contextmanager
def served_registry(home: Path, *, collections: int = 3, bundles: int = 8) -> Iterator[
        ServedRegistry]:
    """Populate ``home`` (``collections`` x ``bundles`` + the hostile one) and serve it."""
    env = _env(home)
    samples = generate_sample_collections(
        home / "samples", collections=collections, bundles_per_collection=bundles)
    hostile = add_hostile_collection(samples)
    populate = subprocess.run(
        [sys.executable, "-m", "registry", "populate", "--workers", "1", "--json",
         "--collections-file", str(samples), "--timeout", "120"],
        env=env, cwd=home, capture_output=True, text=True, timeout=300, check=False,
    )
    assert populate.returncode == 0, populate.stderr[-3000:]
    growth = subprocess.run(  # the analytics page's report (the workflow run in-process)
        [sys.executable, "-m", "registry", "analytics", "--in-process", "--json"],
        env=env, cwd=home, capture_output=True, text=True, timeout=300, check=False,
    )
    assert growth.returncode == 0, growth.stderr[-3000:]
    with serve_process(env, home) as url:
        yield ServedRegistry(home, env["REGISTRY_DB_URL"], url, hostile, env)
