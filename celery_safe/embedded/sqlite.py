"""SQLite files of the embedded default: private, in WAL mode, never used across a fork.

The directory is made ``0700`` and every database file ``0600`` before SQLite opens it
(SQLite would make it ``0644`` less the umask; its ``-wal`` and ``-shm`` files take the
database's mode), so no other local user reads task arguments or results. An existing
file of ours open to others is warned about once and made ``0600``; an existing
directory open to others is warned about and left as the user made it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from celery_safe.embedded.store import database_path
from celery_safe.embedded.wake import _owner

__all__ = [
    "LOCK_TIMEOUT", "PrivatePathError", "fresh_pool_after_fork", "private_directory",
    "private_file", "sqlite_engine", "use_wal",
]

logger = logging.getLogger(__name__)

#: Seconds SQLite waits for a lock held by another process before giving up.
LOCK_TIMEOUT = 30.0


#: Paths already warned about as open to others: one warning per path and process.
_warned_open: set[str] = set()


def _warn_open(path: str, kind: str, mode: int) -> None:
    if path not in _warned_open:
        _warned_open.add(path)
        logger.warning("the %s %s was open to others (mode %o): every local user could read "
                       "task arguments and results", kind, path, mode)


class PrivatePathError(OSError):
    """A file or directory of the embedded broker is a link, not a regular file, or
    someone else's: never used, never removed (it is not ours)."""


def _refuse(path: object, why: str) -> PrivatePathError:
    return PrivatePathError(
        f"{path} {why}: the embedded broker uses only files and a directory of its own "
        f"user ({_owner(os.geteuid())}); remove it, or point the broker elsewhere"
    )


def private_directory(path: Path) -> Path:
    """Make ``path`` (mode 0700) when missing; warn once when an existing one is open to
    others (it is the user's directory: left as it is). Someone else's is refused: they
    could replace its files or plant links there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
        os.chmod(path, 0o700)  # whatever the umask
    except FileExistsError:
        info = path.stat()
        if info.st_uid != os.geteuid():
            raise _refuse(path, f"belongs to {_owner(info.st_uid)}") from None
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            _warn_open(str(path), "directory", mode)
    return path


def private_file(path: str) -> None:
    """Create ``path`` empty and 0600 before SQLite does (it would make it 0644 less the
    umask; its ``-wal`` and ``-shm`` files take the database's mode). An existing file of
    ours open to others is warned about once and made 0600. A link (SQLite would follow
    it), anything but a regular file, or someone else's file is refused."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        pass
    else:
        os.fchmod(fd, 0o600)
        os.close(fd)
    for name in (path, f"{path}-wal", f"{path}-shm"):
        try:
            info = os.lstat(name)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(info.st_mode):
            raise _refuse(name, f"is a symbolic link owned by {_owner(info.st_uid)}")
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(name, "is not a regular file")
        if info.st_uid != os.geteuid():
            raise _refuse(name, f"belongs to {_owner(info.st_uid)}")
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            _warn_open(name, "file", mode)
            os.chmod(name, 0o600)


def sqlite_engine(engine: Engine) -> Engine:
    """WAL mode, and every file of the database private (0600)."""
    path = database_path(engine)
    if path is not None:

        @event.listens_for(engine, "do_connect")
        def _before_connect(*_args: Any) -> None:
            private_file(path)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            use_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    return engine


def use_wal(cursor: Any, *, timeout: float = LOCK_TIMEOUT) -> None:
    """Put the database in WAL mode (it stays so: later opens find it there).

    The switch needs the database to itself, and SQLite refuses it at once with
    "database is locked", without waiting as its busy timeout says, while another
    process writes in the old mode (measured: a fresh broker file that several workers
    open together, one of them creating its tables). So ask again until ``timeout``.
    """
    deadline = time.monotonic() + timeout
    nap = 0.001
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() >= deadline:
                raise
        time.sleep(nap)
        nap = min(nap * 2, 0.05)


def fresh_pool_after_fork(engine: Engine) -> Engine:
    """Kombu keeps one engine per URL for the whole process, and a worker forks its pool
    processes from it: a child must not use a connection its parent opened (SQLite
    forbids carrying one across ``fork``), so it starts with an empty pool."""
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    return engine
