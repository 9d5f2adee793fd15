"""The embedded result backend: Celery's database backend, safe for several writers on
one SQLite file, quick to see a result, and counting chords itself."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from celery import states
from celery.backends.database import DatabaseBackend, session_cleanup
from celery.backends.database.session import SessionManager
from celery.canvas import maybe_signature
from celery.exceptions import ChordError
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import GroupResult, allow_join_result
from sqlalchemy import (
    Connection,
    Insert,
    Select,
    Update,
    bindparam,
    create_engine,
    insert,
    make_url,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import sessionmaker

from celery_safe.embedded.chords import count_part, counted, mark_fired, set_size
from celery_safe.embedded.sqlite import fresh_pool_after_fork, sqlite_engine
from celery_safe.embedded.wake import Doorbell, ring, wake_directory

__all__ = ["FIRST_NAP", "FORCED_QUERY", "LONGEST_FALLBACK_NAP", "LONGEST_NAP", "NAP_GROWTH",
           "UNSETTLED", "PooledSessions", "SQLiteBackend"]

logger = logging.getLogger(__name__)

#: A waiting client's first look at the results file comes after this many seconds,
#: each next one ``NAP_GROWTH`` times later, up to ``LONGEST_NAP`` apart; while it has a
#: doorbell (every store rings it) the looks are only a fallback, up to
#: ``LONGEST_FALLBACK_NAP`` apart.
FIRST_NAP = 0.002
NAP_GROWTH = 1.5
LONGEST_NAP = 0.05
LONGEST_FALLBACK_NAP = 0.5
#: Seconds after which a waiting client queries even if the results file looks unchanged.
FORCED_QUERY = 5.0
#: The coarsest file timestamp tick expected (a kernel timer tick, 10 ms at 100 Hz, with
#: room): a file changed less than this before a look may change again with the same
#: time and size, so the next look queries whatever it sees.
UNSETTLED = 0.025


def _kept(stored: str | None, new: str) -> bool:
    """Whether a store of ``new`` leaves the ``stored`` state as it is: after SUCCESS
    every store (a late RETRY, a redelivered run), as Celery 5.7 and its key-value
    backends do on every Celery; after FAILURE or REVOKED a non-terminal one (a late
    RETRY of the attempt before, a STARTED): the task ended, and a reader must not see
    it waiting for ever. A later FAILURE, REVOKED or SUCCESS (a run of the same id that
    did end) still replaces a FAILURE or REVOKED, as in Celery."""
    if stored == states.SUCCESS:
        return True
    return stored in states.READY_STATES and new not in states.READY_STATES


class PooledSessions(SessionManager):  # type: ignore[misc]
    """One pooled engine per database for the process's life, in WAL mode for SQLite.

    Celery's manager builds a new engine and opens a new connection for every session
    until the process forks (a worker's main process, every client): each poll of a
    waiting ``get()`` then cost milliseconds. And the results file, left in SQLite's
    default journal mode, was synced to disk on every commit, and its readers blocked
    its writers. A forked child starts with an empty pool
    (:func:`~celery_safe.embedded.sqlite.fresh_pool_after_fork`).
    """

    def __init__(self, engine_callback: Callable[[Engine], Any] | None = None) -> None:
        super().__init__()
        self.user_engine_callback = engine_callback  # Celery >= 5.5 calls it for us; not 5.3

    def get_engine(self, dburi: str, **kwargs: Any) -> Engine:
        engine: Engine | None = self._engines.get(dburi)
        if engine is None:
            engine = create_engine(dburi, **kwargs)
            if engine.dialect.name == "sqlite":
                sqlite_engine(engine)
            if self.user_engine_callback is not None:
                self.user_engine_callback(engine)
            self._engines[dburi] = engine = fresh_pool_after_fork(engine)
        return engine

    def create_session(
        self, dburi: str, short_lived_sessions: bool = False, **kwargs: Any
    ) -> tuple[Engine, Any]:
        engine = self.get_engine(dburi, **kwargs)
        if short_lived_sessions or dburi not in self._sessions:
            self._sessions[dburi] = sessionmaker(bind=engine)
        return engine, self._sessions[dburi]


class SQLiteBackend(DatabaseBackend):  # type: ignore[misc]
    """Celery's database result backend, made safe for several writers on one SQLite file.

    - Storing a state reads the row, then writes it. Celery relies on row locks
      (``SELECT ... FOR UPDATE``) to keep a late ``RETRY`` from landing on a ``SUCCESS``
      saved meanwhile; SQLite has none, and Celery 5.7 then rewrites the state but keeps
      the newer result: a ``RETRY`` row holding a return value, which no reader can
      decode. Here every store runs in ``BEGIN IMMEDIATE``: the read and the write are
      one transaction that holds the file's write lock, so stores of one task queue up.
      A store that finds ``SUCCESS`` changes nothing, as in Celery 5.7 (before 5.7 a late
      ``RETRY`` replaced it); nor does a non-terminal store (a late ``RETRY``,
      ``STARTED``) that finds ``FAILURE`` or ``REVOKED``: a task that ended stays ended
      (:func:`_kept`); a task id sent again reads its old end until the new run ends.
    - A store reads the row and inserts or updates it with SQLAlchemy Core statements
      built once, on a pooled connection, not Celery's ORM session: the same row for
      Celery's readers, at a fifth of the CPU (the ORM's unit of work was most of a
      pool process's time per task). On Celery 5.7 a ``get()`` reads the row the same
      way.
    - A waiting client polls from every 2 ms up to every 0.05 s (:meth:`wait_for`),
      not every 0.5 s, and queries only when the file changed.
    - Chords are counted (:mod:`celery_safe.embedded.chords`): the last header part
      fires the body, with no ``celery.chord_unlock`` task polling the header. On
      another database, Celery's ``chord_unlock`` runs, its first check one retry
      interval after the chord is sent (Celery waits one second whatever
      ``result_chord_retry_interval`` says).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._storing = threading.local()  # set first: Celery's __init__ opens a session
        super().__init__(*args, **kwargs)
        celery_sessions = getattr(self, "session_manager", None)  # none before Celery 5.5
        self.session_manager = PooledSessions(getattr(celery_sessions, "engine_callback", None))

    def _store_result(
        self, task_id: str, result: Any, state: str, traceback: Any = None,
        request: Any = None, **kwargs: Any,
    ) -> Any:
        stored = None
        if self._results_path is None or not self._store_row(
            task_id, result, state, traceback, request
        ):
            self._storing.active = True
            try:
                stored = super()._store_result(
                    task_id, result, state, traceback=traceback, request=request, **kwargs
                )
            finally:
                self._storing.active = False
        if self._results_path is not None:
            ring(wake_directory(self._results_path))  # committed: wake waiting clients
        return stored

    def _store_row(
        self, task_id: str, result: Any, state: str, traceback: Any, request: Any
    ) -> bool:
        """Store a state with a read and a write on a pooled connection, as Celery's
        store does with its ORM session (read the row, insert or update it) but without
        one: the ORM's unit of work cost about four times what SQLite takes. The same values
        (Celery's ``_update_result`` fills them), the same column types, so Celery's
        readers see the same row. False when the table is not the one expected (a file
        of an older Celery): Celery's own store then runs."""
        read, insert_row, update_row = self._row_statements
        try:
            with self._results_engine().connect() as conn:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                found = conn.execute(read, {"b_task_id": task_id}).first()
                row = _Row(dict.fromkeys(read.selected_columns.keys(), None)
                           if found is None else dict(found._mapping))
                if _kept(row.status, state):
                    return True  # a store after the task ended changes nothing
                self._update_result(row, result, state, traceback=traceback, request=request)
                if found is None:
                    conn.execute(insert_row, {"task_id": task_id, **row.values(new=True)})
                else:
                    conn.execute(update_row, {"b_task_id": task_id, **row.values(new=False)})
                conn.commit()
        except DatabaseError:
            logger.debug("direct store of %s refused: Celery's store runs", task_id,
                         exc_info=True)
            return False
        return True

    def _get_task_meta_for(self, task_id: str) -> Any:
        self._storing.reading = True
        try:
            return super()._get_task_meta_for(task_id)
        finally:
            self._storing.reading = False

    def _query_task(self, session: Any, task_id: str, for_update: bool = False) -> Any:
        """A row read for ``get()`` (Celery 5.7 reads through here): one prepared
        statement on the pooled connection instead of an ORM query, which cost twice
        as much CPU; the row comes back as Celery's model object (detached), so
        Celery's own code decodes it. A store's read, or a refused read, is Celery's."""
        if for_update or not getattr(self._storing, "reading", False) or (
            self._results_path is None
        ):
            return super()._query_task(session, task_id, for_update=for_update)
        read = self._row_statements[0]
        try:
            with self._results_engine().connect() as conn:
                found = conn.execute(read, {"b_task_id": task_id}).first()
        except DatabaseError:
            return super()._query_task(session, task_id)
        if found is None:
            return None
        task = self.task_cls(task_id)
        for name, value in found._mapping.items():
            setattr(task, name, value)
        return task

    @functools.cached_property
    def _row_statements(self) -> tuple[Select[Any], Insert, Update]:
        """Read, insert and update of one task's row, built once: building a statement
        with its values each time cost more than running it. The values are bound at
        execution."""
        table = self.task_cls.__table__
        columns = table.c
        named = columns.task_id == bindparam("b_task_id")
        read = select(*(column for column in columns if column.name not in ("id", "task_id")))
        return read.where(named), insert(table), update(table).where(named)

    def _results_engine(self) -> Engine:
        """The pooled engine of the results file, its tables made (once per process)."""
        engine: Engine | None = self.__dict__.get("_engine")
        if engine is None:
            session = self.ResultSession()  # makes the tables, as Celery's first store
            try:
                engine = session.get_bind()
            finally:
                session.close()
            self.__dict__["_engine"] = engine
        return engine

    def _update_result(self, task: Any, result: Any, state: str, *args: Any,
                       **kwargs: Any) -> None:
        if _kept(task.status, state):
            return
        super()._update_result(task, result, state, *args, **kwargs)

    def ResultSession(self, session_manager: Any = None) -> Any:
        session = super().ResultSession(session_manager or self._own_sessions())
        if getattr(self._storing, "active", False) and self.url.startswith("sqlite"):
            # pysqlite opens no transaction before a SELECT; take the write lock first.
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        return session

    def _own_sessions(self) -> Any:
        """This backend's session manager.

        Celery 5.5 gives each backend one. Before, every backend of a process shared one
        default ``SessionManager()``, which creates the tables in the first database it
        meets only: a second app (another directory) found no ``celery_taskmeta``.
        """
        manager = getattr(self, "session_manager", None)
        if manager is None:
            manager = self.__dict__.get("_sessions")
            if manager is None:
                manager = self.__dict__["_sessions"] = SessionManager()
        return manager

    def fallback_chord_unlock(
        self, header_result: Any, body: Any, countdown: float = 1, **kwargs: Any
    ) -> Any:
        interval = float(self.app.conf.result_chord_retry_interval)
        return super().fallback_chord_unlock(
            header_result, body, countdown=min(countdown, interval), **kwargs
        )

    # -- waiting for a result ------------------------------------------------------

    def wait_for(
        self,
        task_id: str,
        timeout: float | None = None,
        interval: float = 0.5,
        no_ack: bool = True,
        on_interval: Callable[[], Any] | None = None,
    ) -> Any:
        """Celery's poll, woken by a doorbell that every store rings: a result is seen
        as soon as it is committed, and a wait costs no CPU.

        The doorbell is made only when the first query finds no result. Without one (not
        a SQLite file, a wake directory refused, a writer of another user who cannot
        ring it) the results file is looked at from every ``FIRST_NAP`` seconds up to
        every ``interval`` (at most ``LONGEST_NAP``); with one, only up to every
        ``LONGEST_FALLBACK_NAP``. A look queries only when the file changed, changed
        just before the last look, or ``FORCED_QUERY`` seconds passed.
        """
        self._ensure_not_eager()
        start = time.monotonic()
        nap = FIRST_NAP
        longest = max(min(float(interval), LONGEST_NAP), FIRST_NAP)
        seen: tuple[int, ...] | None = None
        queried = -FORCED_QUERY
        unsettled = True
        doorbell: Doorbell | None = None
        try:
            while True:
                now, looked_at = time.monotonic(), time.time_ns()
                state = self._file_state()
                if unsettled or state != seen or now - queried >= FORCED_QUERY:
                    # read before the query: no write is missed
                    seen, queried, unsettled = state, now, _unsettled(state, looked_at)
                    meta = self.get_task_meta(task_id)
                    if meta["status"] in states.READY_STATES:
                        return meta
                if on_interval is not None:
                    on_interval()
                elapsed = time.monotonic() - start
                if timeout is not None and elapsed >= timeout:
                    raise CeleryTimeoutError("The operation timed out.")
                if doorbell is None and (doorbell := self._doorbell()) is not None:
                    longest = max(longest, LONGEST_FALLBACK_NAP)
                wait = nap if timeout is None else min(nap, timeout - elapsed)
                if doorbell is None:
                    time.sleep(wait)
                elif doorbell.wait(wait):
                    continue  # rung: look now, at the same nap
                nap = min(nap * NAP_GROWTH, longest)
        finally:
            if doorbell is not None:
                doorbell.close()

    def _doorbell(self) -> Doorbell | None:
        """A doorbell rung by every store, or None (polling only)."""
        path = self._results_path
        if path is None or self._no_doorbell:
            return None
        try:
            return Doorbell(wake_directory(path))
        except OSError:
            logger.warning("no wake-ups for the results in %s: polling", path, exc_info=True)
            self._no_doorbell = True
            return None

    _no_doorbell = False

    def _file_state(self) -> tuple[int, ...] | None:
        """Size and change time of the results file and its WAL; None when unknown.

        Every commit writes the WAL (in WAL mode) or the file itself, so an unchanged
        pair means no new result, unless the write fell in the same timestamp tick as
        the last look and left the sizes alone: a look right after a change
        (:func:`_unsettled`) queries again next time."""
        path = self._results_path
        if path is None:
            return None
        state: list[int] = []
        for name in (path, f"{path}-wal"):
            try:
                info = os.stat(name)
            except OSError:
                state += (-1, -1)
            else:
                state += (info.st_size, info.st_mtime_ns)
        return tuple(state)

    @functools.cached_property
    def _results_path(self) -> str | None:
        url = make_url(str(self.url))
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return os.path.abspath(str(url.database))

    # -- native chords (see celery_safe.embedded.chords) ---------------------------

    @property
    def _counts_chords(self) -> bool:
        return str(self.url).startswith("sqlite")

    @contextmanager
    def _write_lock(self) -> Iterator[Connection]:
        """One transaction holding the results file's write lock."""
        session = self.ResultSession()
        with session_cleanup(session):
            conn = session.connection()
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn
            session.commit()

    def apply_chord(self, header_result_args: Any, body: Any, **kwargs: Any) -> Any:
        if not self._counts_chords:
            return super().apply_chord(header_result_args, body, **kwargs)
        self.ensure_chords_allowed()
        self.app.GroupResult(*header_result_args).save(backend=self)
        return None

    def set_chord_size(self, group_id: str, chord_size: int) -> None:
        if self._counts_chords:
            with self._write_lock() as conn:
                set_size(conn, group_id, chord_size)

    def chord_counter(self, group_id: str) -> tuple[int, int, str | None] | None:
        """Chord ``group_id``'s ``(parts counted, size, state)`` (``state``: None while
        counting, ``firing``, ``fired``); None when nothing is counted for it, or this
        database runs chords through ``celery.chord_unlock``."""
        if not self._counts_chords:
            return None
        try:
            with self._results_engine().connect() as conn:
                return counted(conn, group_id)
        except DatabaseError:  # no chord counted in this file yet: no table
            return None

    def on_chord_part_return(self, request: Any, state: str, result: Any, **kwargs: Any) -> None:
        """Count this part; the part that completes the count joins the header and sends
        the body, or the body's error (a failed part), as Celery's Redis backend does."""
        group_id = request.group
        if not self._counts_chords or not group_id:
            return
        callback = maybe_signature(request.chord, app=self.app)
        try:
            header = GroupResult.restore(group_id, backend=self)
        except Exception as exc:
            logger.exception("Chord %r raised: %r", group_id, exc)
            self.chord_error_from_stack(callback, ChordError(f"Cannot restore group: {exc!r}"))
            return
        if header is None:
            self.chord_error_from_stack(
                callback, ChordError(f"GroupResult {group_id} no longer exists")
            )
            return
        size = request.chord.get("chord_size") or len(header)
        with self._write_lock() as conn:
            fires = count_part(conn, group_id, request.id, size)
        if not fires:
            return
        try:
            self._fire(group_id, header, callback)
        finally:
            with self._write_lock() as conn:
                mark_fired(conn, group_id)

    def _fire(self, group_id: str, header: Any, callback: Any) -> None:
        try:
            with allow_join_result():
                values = header.join(
                    timeout=self.app.conf.result_chord_join_timeout, propagate=True
                )
        except Exception as exc:
            culprit = next((part for part in header.results
                            if getattr(part, "state", None) in states.PROPAGATE_STATES), None)
            reason = repr(exc) if culprit is None else f"Dependency {culprit.id} raised {exc!r}"
            logger.exception("Chord %r raised: %r", group_id, reason)
            error = ChordError(reason)
            error.__cause__ = exc
            self.chord_error_from_stack(callback, error)
            return
        try:
            callback.delay(values)
        except Exception as exc:
            logger.exception("Chord %r raised: %r", group_id, exc)
            error = ChordError(f"Callback error: {exc!r}")
            error.__cause__ = exc
            self.chord_error_from_stack(callback, error)


class _Row:
    """A row for Celery's ``_update_result`` to fill: it starts with the stored columns
    (None for a new row) and remembers which it set. Written then, as Celery's ORM
    writes them: every column set on a new row; on a stored row the status and the
    columns whose value changed (the others keep theirs, and ``date_done`` takes its
    on-update time when not among them)."""

    status: str | None
    _stored: dict[str, Any]
    _set: dict[str, Any]

    def __init__(self, stored: dict[str, Any]) -> None:
        self.__dict__.update(stored)
        self.__dict__["_stored"] = stored
        self.__dict__["_set"] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        self.__dict__[name] = value
        self._set[name] = value

    def values(self, *, new: bool) -> dict[str, Any]:
        return {name: value for name, value in self._set.items()
                if new or name == "status" or self._stored.get(name) != value}


def _unsettled(state: tuple[int, ...] | None, looked_at: int) -> bool:
    """Did a file of ``state`` change less than ``UNSETTLED`` seconds before the look at
    ``looked_at`` (ns, wall clock), or is it unknown? Then a write after the look may
    have left the same time and size."""
    if state is None:
        return True
    newest = max(state[1::2])
    return newest < 0 or looked_at - newest < UNSETTLED * 1e9
