"""The embedded default: a broker and a result backend in SQLite files, no server.

    app = Celery("proj")
    celery_safe.embedded.configure(app, "var/celery")

One idea per module: :mod:`.config` (the settings), :mod:`.transport` (the broker),
:mod:`.store` (its message table), :mod:`.wake` (doorbells that wake idle consumers),
:mod:`.backend` (the result backend), :mod:`.chords` (its chord counters) and
:mod:`.sqlite` (private files, WAL). The names below are the stable ones: Celery's
settings name ``celery_safe.embedded:SQLiteTransport`` and ``:SQLiteBackend``.
Needs SQLAlchemy: ``pip install 'celery-safe[embedded]'``.
"""

from __future__ import annotations

try:
    import sqlalchemy  # noqa: F401  (checked first: the one dependency Celery lacks)
except ModuleNotFoundError as exc:  # pragma: no cover - exercised in a subprocess
    if exc.name is None or exc.name.split(".")[0] != "sqlalchemy":
        raise
    raise ModuleNotFoundError(
        "celery_safe.embedded needs SQLAlchemy, which is not installed: "
        "pip install 'celery-safe[embedded]'",
        name=exc.name,
    ) from exc

from celery_safe.embedded.backend import SQLiteBackend
from celery_safe.embedded.config import configure, embedded_config, live_consumers
from celery_safe.embedded.sqlite import PrivatePathError
from celery_safe.embedded.store import DEFAULT_VISIBILITY_TIMEOUT, BrokerFileGone
from celery_safe.embedded.transport import DEFAULT_POLLING_INTERVAL, SQLiteTransport
from celery_safe.embedded.wake import WakeDirectoryError

__all__ = [
    "DEFAULT_POLLING_INTERVAL",
    "DEFAULT_VISIBILITY_TIMEOUT",
    "BrokerFileGone",
    "PrivatePathError",
    "SQLiteBackend",
    "SQLiteTransport",
    "WakeDirectoryError",
    "configure",
    "embedded_config",
    "live_consumers",
]
