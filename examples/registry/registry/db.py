"""Engine and session helpers: one transaction per unit of work, for tasks and the API.

``session_scope`` is what tasks declare as their ``db`` resource: it commits when the
block succeeds and rolls back when it raises, so a failed task leaves no half-write.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from celery_safe.embedded.sqlite import use_wal
from registry.migrate import upgrade_to_head

__all__ = [
    "create_schema",
    "is_statement_timeout",
    "make_engine",
    "session_scope",
]

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def make_engine(
    url: str, *, immediate: bool = True, statement_timeout: float | None = None
) -> Engine:
    """Create an engine; for SQLite, make the file's folder and use WAL + a busy timeout.

    Several worker processes write the same SQLite file. Writers wait for the lock
    (``timeout``) instead of failing with "database is locked", and with ``immediate``
    every transaction starts with ``BEGIN IMMEDIATE``: a transaction that reads and
    then writes would otherwise fail at once (SQLITE_BUSY, no waiting) when another
    process committed in between. Read-only users (the API) pass ``immediate=False``
    so readers never queue behind writers (WAL lets them read concurrently).

    ``statement_timeout`` (seconds) stops any one statement that runs longer: PostgreSQL's
    own setting, and on SQLite a progress handler that interrupts the statement (the
    driver raises ``OperationalError: interrupted``; see :func:`is_statement_timeout`).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if statement_timeout is not None and parsed.get_backend_name() == "postgresql":
            milliseconds = max(1, int(statement_timeout * 1000))
            return create_engine(url, pool_pre_ping=True, connect_args={
                "options": f"-c statement_timeout={milliseconds}"})
        return create_engine(url, pool_pre_ping=True)
    database = parsed.database
    on_disk = bool(database) and database != ":memory:"
    if on_disk:
        Path(str(database)).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_setup(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_conn.cursor()
        if on_disk:  # asked again while another process writes the new file
            use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        if statement_timeout is not None:
            _limit_statements(dbapi_conn, _record.info)

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    if statement_timeout is not None:
        timeout = statement_timeout

        @event.listens_for(engine, "before_cursor_execute")
        def _start_clock(conn: Connection, *_args: Any) -> None:
            conn.info[_DEADLINE] = time.monotonic() + timeout

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _stop_clock(conn: Connection) -> None:
            conn.info[_DEADLINE] = math.inf  # never interrupt ending a transaction

    return engine


_DEADLINE = "registry_statement_deadline"
#: SQLite calls the progress handler every this many virtual machine instructions
#: (about 0.1 ms of work): the cost of checking the clock is negligible.
_PROGRESS_STEPS = 1000


def _limit_statements(dbapi_conn: Any, info: dict[str, Any]) -> None:
    info[_DEADLINE] = math.inf

    def over_time() -> int:
        return 1 if time.monotonic() > info[_DEADLINE] else 0  # non-zero: interrupt

    dbapi_conn.set_progress_handler(over_time, _PROGRESS_STEPS)


def is_statement_timeout(exc: BaseException) -> bool:
    """Was this database error a statement stopped by ``statement_timeout``?"""
    text = str(getattr(exc, "orig", exc) or exc).lower()
    return text.startswith("interrupted") or "statement timeout" in text


def _cached_engine(url: str) -> Engine:
    """One engine per URL per process, its schema ensured once: pools are reused."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = make_engine(url)
            create_schema(engine)
            _engines[url] = engine
        return engine


def _forget_pools_after_fork() -> None:
    # A forked worker must not reuse its parent's connections (shared sockets/files).
    for engine in _engines.values():
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_after_fork)


def create_schema(engine: Engine) -> str:
    """Bring the database to the newest schema with Alembic; return the revision.

    See :mod:`registry.migrate`: a new database gets every table, an older one is
    upgraded in place keeping its rows, and processes starting together take turns.
    """
    return upgrade_to_head(engine)


@contextlib.contextmanager
def session_scope(url_or_engine: str | Engine) -> Iterator[Session]:
    """Yield a session; commit on success, roll back and re-raise on error."""
    engine = url_or_engine if isinstance(url_or_engine, Engine) else _cached_engine(url_or_engine)
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
