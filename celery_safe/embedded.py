"""The embedded default: a broker and a result backend in SQLite files, no server.

    app = Celery("proj")
    celery_safe.embedded.configure(app, "var/celery")

Kombu's SQLAlchemy transport polls its queue table every second, forwards every
``broker_transport_options`` key to ``create_engine`` (so ``polling_interval`` there
is a ``TypeError``), never deletes an acknowledged message, and puts an unacknowledged
one back only on a clean shutdown (a SIGKILLed worker loses it). :class:`SQLiteTransport`
takes ``polling_interval`` (a fallback: publishes wake idle consumers, see
:mod:`celery_safe.embedded_wake`) and ``visibility_timeout`` (60 s by
default, renewed while the consumer lives) out of the engine options, waits on locks
instead of failing, turns on WAL so worker processes and producers do not block each
other's reads, and keeps its messages
with :class:`celery_safe.embedded_queue.MessageStore`: deleted on ack, requeued in
place on reject or shutdown, and given back to another consumer once delivered longer
than ``visibility_timeout`` ago without an ack (at least once, as on Redis).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from json import dumps, loads  # the stdlib's, as kombu's transport: same stored text
from pathlib import Path
from queue import Empty
from typing import Any

from celery import Celery, states
from celery.backends.database import DatabaseBackend, session_cleanup
from celery.backends.database.session import SessionManager
from celery.canvas import maybe_signature
from celery.exceptions import ChordError
from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import GroupResult, allow_join_result
from kombu.transport import sqlalchemy as kombu_sqla
from kombu.transport import virtual
from sqlalchemy import Connection, create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from celery_safe.celery_internals import worker_acks_between_drains
from celery_safe.embedded_chords import count_part, mark_fired, set_size
from celery_safe.embedded_queue import (
    DEFAULT_VISIBILITY_TIMEOUT,
    BrokerFileGone,
    Claim,
    MessageStore,
    is_lock_error,
)
from celery_safe.embedded_wake import Doorbell, listeners, ring, wake_directory

__all__ = [
    "DEFAULT_POLLING_INTERVAL",
    "DEFAULT_VISIBILITY_TIMEOUT",
    "BrokerFileGone",
    "SQLiteBackend",
    "SQLiteTransport",
    "configure",
    "embedded_config",
    "live_consumers",
]

logger = logging.getLogger(__name__)

#: Seconds between polls of an idle consumer's queues: only a fallback, since a
#: publish wakes it (:mod:`celery_safe.embedded_wake`).
DEFAULT_POLLING_INTERVAL = 0.5
#: A waiting client's first poll of the results file comes after this many seconds,
#: each next one ``NAP_GROWTH`` times later, up to ``LONGEST_NAP`` apart.
FIRST_NAP = 0.002
NAP_GROWTH = 1.5
LONGEST_NAP = 0.05
#: Seconds after which a waiting client queries even if the results file looks unchanged.
FORCED_QUERY = 0.5
#: Seconds SQLite waits for a lock held by another process before giving up.
LOCK_TIMEOUT = 30.0

#: Transport options kombu reads itself; everything else goes to ``create_engine``.
_KOMBU_OPTIONS = frozenset({
    "queue_tablename", "message_tablename", "callback", "errback", "max_retries",
    "interval_start", "interval_step", "interval_max", "retry_errors", "polling_interval",
    "visibility_timeout",
})


def _enable_wal(engine: Engine) -> Engine:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def _fresh_pool_after_fork(engine: Engine) -> Engine:
    """Kombu keeps one engine per URL for the whole process, and a worker forks its pool
    processes from it: a child must not use a connection its parent opened (SQLite
    forbids carrying one across ``fork``), so it starts with an empty pool."""
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    return engine


class ClaimQoS(virtual.QoS):
    """Acks and rejects delete the row; rejects with requeue and restores make it visible.

    The delivery tag names the claim (:meth:`Claim.from_tag`); the in-memory
    bookkeeping (prefetch count) stays kombu's.
    """

    channel: SQLiteChannel

    def ack(self, delivery_tag: Any) -> None:
        claim = Claim.from_tag(delivery_tag)
        try:
            if claim is not None:
                self.channel.store.ack(claim)
        finally:
            super().ack(delivery_tag)  # type: ignore[no-untyped-call]
            self._slot_freed()

    def _slot_freed(self) -> None:
        """A consumer waiting with every prefetch slot taken can take the next message
        now (the ack comes from another thread: the pool's result handler)."""
        transport = self.channel.connection
        if isinstance(transport, SQLiteTransport):
            transport.poke()

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        claim = Claim.from_tag(delivery_tag)
        try:
            if claim is not None and requeue:
                self.channel.store.requeue(claim)
            elif claim is not None:  # dropped: as final as an ack
                self.channel.store.ack(claim)
        finally:
            self._quick_ack(delivery_tag)
            self._slot_freed()

    def restore_unacked(self) -> list[tuple[BaseException, Any]]:
        self._flush()  # type: ignore[no-untyped-call]
        errors: list[tuple[BaseException, Any]] = []
        while self._delivered:
            tag, message = self._delivered.popitem()
            claim = Claim.from_tag(tag)
            try:
                if claim is not None:
                    self.channel.store.requeue(claim)
            except Exception as exc:  # still claimed: back after the visibility timeout
                if tag not in self._dirty:
                    errors.append((exc, message))
        return errors


class _LeaseKeeper(threading.Thread):
    """Renews the visibility of every message its channel holds unacknowledged, every
    quarter of the visibility timeout: a running task, a prefetched message, an ETA one.

    A thread of its own, not the consumer loop: with the solo pool the loop is blocked
    while a task runs. It dies with its process, and the leases then lapse: a SIGKILLed
    worker's messages go to another after ``visibility_timeout``, while a live worker
    keeps a task however long it runs.
    """

    def __init__(self, channel: SQLiteChannel) -> None:
        super().__init__(name="celery-safe-embedded-leases", daemon=True)
        self.channel = channel
        self.interval = channel.store.visibility_timeout / 4
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def run(self) -> None:
        while not self._stopped.wait(self.interval):
            delivered = list(self.channel.qos._delivered)  # copied at once, under the GIL
            claims = [c for tag in delivered if (c := Claim.from_tag(tag)) is not None]
            try:
                self.channel.store.renew(claims)
            except BrokerFileGone:
                return  # the consumer stops on the same error
            except Exception:  # a missed renewal is retried; it only matters if all miss
                logger.warning("could not renew %d message lease(s)", len(claims),
                               exc_info=True)


#: How often a channel retries creating the broker's tables that another process just made.
_CREATE_ATTEMPTS = 5


class SQLiteChannel(kombu_sqla.Channel):
    """Kombu's SQLAlchemy channel, with engine options that SQLite can take and messages
    kept by a :class:`MessageStore`.

    Kombu gives a channel one SQLAlchemy session, but a prefork worker uses its channel
    from two threads: the consumer polls (``_get``) while the pool's result-handler
    thread acks, or puts back the message of a pool process that died
    (``task_reject_on_worker_lost``). Sharing one session, the two collide ("session is
    in 'prepared' state", "commit() already in progress") and the worker dies. Here no
    queue operation uses that session: each is one short transaction of its own.
    """

    QoS = ClaimQoS
    _store: MessageStore | None = None
    _leases: _LeaseKeeper | None = None

    @property
    def store(self) -> MessageStore:
        if self._store is None:
            engine, _ = self._open()
            timeout = self.connection.client.transport_options.get(
                "visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT
            )
            self._store = MessageStore(
                engine, self.queue_cls.__table__, self.message_cls.__table__,
                visibility_timeout=float(timeout),
            )
            if self._store.path is not None:
                self._store.on_visible = functools.partial(
                    ring, wake_directory(self._store.path)
                )
        return self._store

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        self.store.queue_id(queue)

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.store.put(queue, dumps(payload))

    def _get(self, queue: str, timeout: Any = None) -> Any:
        try:
            claimed = self.store.claim(queue)
        except OperationalError as exc:
            if is_lock_error(exc):  # nothing changed; the next poll tries again
                raise Empty() from exc
            raise
        if claimed is None:
            raise Empty()
        if self._leases is None or not self._leases.is_alive():
            self._leases = _LeaseKeeper(self)
            self._leases.start()
        claim, text = claimed
        payload = loads(text)
        if isinstance(payload.get("properties"), dict):  # every message kombu publishes
            payload["properties"]["delivery_tag"] = claim.tag
        return payload

    def _size(self, queue: str) -> int:
        return self.store.size(queue)

    def _purge(self, queue: str) -> int:
        return self.store.purge(queue)

    def _restore(self, message: Any) -> None:
        claim = Claim.from_tag(message.delivery_tag)
        if claim is None:
            super()._restore(message)  # type: ignore[no-untyped-call]
        else:
            self.store.requeue(claim)

    def close(self) -> None:
        if self._leases is not None:
            self._leases.stop()
        super().close()  # type: ignore[no-untyped-call]

    def _open(self) -> Any:
        """kombu's ``_open``, safe when several processes open a new broker file at once.

        kombu creates the tables after checking for them, under a lock of this process
        only: another process can create them in between ("table kombu_queue already
        exists"), which crashed a producer or a consumer on start-up.
        """
        for attempt in range(_CREATE_ATTEMPTS):
            try:
                return super()._open()  # type: ignore[no-untyped-call]
            except OperationalError as exc:
                if "already exists" not in str(exc) or attempt == _CREATE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _engine_from_config(self) -> Engine:
        client = self.connection.client
        options = {k: v for k, v in client.transport_options.items() if k not in _KOMBU_OPTIONS}
        url = str(client.hostname)
        if url.startswith("sqlite"):
            connect_args = dict(options.pop("connect_args", {}))
            connect_args.setdefault("timeout", LOCK_TIMEOUT)
            engine = _enable_wal(create_engine(url, connect_args=connect_args, **options))
        else:
            engine = create_engine(url, **options)
        return _fresh_pool_after_fork(engine)


class SQLiteTransport(kombu_sqla.Transport):
    """Kombu's SQLAlchemy transport, woken by publishes instead of polling.

    An idle consumer waits on its :class:`~celery_safe.embedded_wake.Doorbell`, rung
    by every publish and requeue on the same broker file and by its own acks; it still
    polls every ``polling_interval`` seconds (0.5 by default), so a missed wake-up
    only delays a message, and a SIGKILLed worker's messages are found once their
    visibility timeout has passed.
    """

    Channel = SQLiteChannel
    polling_interval = DEFAULT_POLLING_INTERVAL

    #: The worker's loop waits up to 2 s per drain and notices a shutdown request only
    #: between drains; a wait is cut in slices so a stopping worker exits within one.
    drain_slice = 0.2
    _doorbell: Doorbell | None = None
    _doorbell_failed = False

    def poke(self) -> None:
        """Wake this transport's waiting consumer (from any thread)."""
        doorbell = self._doorbell
        if doorbell is not None:
            doorbell.poke()

    def _wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; whether a ring came."""
        doorbell = self._doorbell or self._open_doorbell()
        if doorbell is None:
            time.sleep(timeout)
            return False
        return doorbell.wait(timeout)

    def _open_doorbell(self) -> Doorbell | None:
        if self._doorbell_failed or not self.channels:
            return None
        path = self.channels[0].store.path
        if path is None:
            self._doorbell_failed = True  # not a SQLite file: polling only
            return None
        try:
            self._doorbell = Doorbell(wake_directory(path))
        except OSError:
            logger.warning("no wake-ups for %s: polling every %s s", path,
                           self.polling_interval, exc_info=True)
            self._doorbell_failed = True
        return self._doorbell

    #: Before Celery 5.7 a worker acks only between two drains
    #: (:func:`~celery_safe.celery_internals.worker_acks_between_drains`): with every
    #: prefetch slot taken, a bounded wait returns after this long so the worker can
    #: ack what finished. Waiting out its 2 s drain instead held each freed slot that
    #: long. 5.7 acks at once, and the ack rings the doorbell (``ClaimQoS._slot_freed``).
    saturated_slice = 0.01

    def drain_events(self, connection: Any, timeout: Any = None, **kwargs: Any) -> Any:
        """Deliver one message; wait for a ring (or the next poll) while there is none."""
        start = time.monotonic()
        assert self.cycle is not None  # set by kombu's Transport.__init__
        get: Callable[..., None] = self.cycle.get
        poll = float(self.polling_interval or self.drain_slice)
        while True:
            try:
                get(self._deliver, timeout=timeout)
                return
            except Empty:
                pass
            if timeout is not None and _acks_between_drains() and self._saturated():
                self._wait(min(self.saturated_slice, float(timeout)))
                raise TimeoutError()  # back to the worker's loop, which acks what finished
            next_poll = time.monotonic() + poll
            while True:
                now = time.monotonic()
                if timeout is not None and now - start >= timeout:
                    raise TimeoutError()
                if now - start >= self.drain_slice and _worker_stopping():
                    raise TimeoutError()
                nap = min(self.drain_slice, next_poll - now)
                if timeout is not None:
                    nap = min(nap, start + timeout - now)
                if nap <= 0 or self._wait(nap):
                    break

    def _saturated(self) -> bool:
        """Does a consuming channel have every prefetch slot taken?"""
        return any(
            channel.qos.prefetch_count and not channel.qos.can_consume()
            for channel in self.channels
        )

    def close_connection(self, connection: Any) -> None:
        try:
            super().close_connection(connection)  # type: ignore[no-untyped-call]
        finally:
            doorbell, self._doorbell = self._doorbell, None
            if doorbell is not None:
                doorbell.close()


#: Read once: the installed Celery does not change while a process runs.
_acks_between_drains = functools.cache(worker_acks_between_drains)


def _worker_stopping() -> bool:
    from celery.worker import state  # imported late: producers never load the worker

    return state.should_stop is not None or state.should_terminate is not None


class PooledSessions(SessionManager):  # type: ignore[misc]
    """One pooled engine per database for the process's life, in WAL mode for SQLite.

    Celery's manager builds a new engine and opens a new connection for every session
    until the process forks (a worker's main process, every client): each poll of a
    waiting ``get()`` then cost milliseconds. And the results file, left in SQLite's
    default journal mode, was synced to disk on every commit, and its readers blocked
    its writers. A forked child starts with an empty pool (:func:`_fresh_pool_after_fork`).
    """

    def __init__(self, engine_callback: Callable[[Engine], Any] | None = None) -> None:
        super().__init__()
        self.user_engine_callback = engine_callback  # Celery >= 5.5 calls it for us; not 5.3

    def get_engine(self, dburi: str, **kwargs: Any) -> Engine:
        engine: Engine | None = self._engines.get(dburi)
        if engine is None:
            engine = create_engine(dburi, **kwargs)
            if engine.dialect.name == "sqlite":
                _enable_wal(engine)
            if self.user_engine_callback is not None:
                self.user_engine_callback(engine)
            self._engines[dburi] = engine = _fresh_pool_after_fork(engine)
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
      ``RETRY`` replaced it).
    - A waiting client polls from every 2 ms up to every 0.05 s (:meth:`wait_for`),
      not every 0.5 s, and queries only when the file changed.
    - Chords are counted (:mod:`celery_safe.embedded_chords`): the last header part
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

    def _store_result(self, *args: Any, **kwargs: Any) -> Any:
        self._storing.active = True
        try:
            return super()._store_result(*args, **kwargs)
        finally:
            self._storing.active = False

    def _update_result(self, task: Any, *args: Any, **kwargs: Any) -> None:
        if task.status == states.SUCCESS:
            # What Celery 5.7 and its key-value backends do, on every Celery: a store
            # after SUCCESS (a late RETRY, a redelivered run) keeps the result saved.
            return
        super()._update_result(task, *args, **kwargs)

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
        """Celery's poll, from every ``FIRST_NAP`` seconds up to every ``interval`` (at
        most ``LONGEST_NAP``), that queries only when the results file changed (or
        ``FORCED_QUERY`` seconds passed): a quick task's result is seen within a few
        milliseconds, and an idle wait costs a ``stat`` per nap."""
        self._ensure_not_eager()
        start = time.monotonic()
        longest = max(min(float(interval), LONGEST_NAP), FIRST_NAP)
        nap = FIRST_NAP
        seen: tuple[int, ...] | None = None
        queried = -FORCED_QUERY
        while True:
            now = time.monotonic()
            state = self._file_state()
            if state is None or state != seen or now - queried >= FORCED_QUERY:
                seen, queried = state, now  # read before the query: no write is missed
                meta = self.get_task_meta(task_id)
                if meta["status"] in states.READY_STATES:
                    return meta
            if on_interval is not None:
                on_interval()
            elapsed = time.monotonic() - start
            if timeout is not None and elapsed >= timeout:
                raise CeleryTimeoutError("The operation timed out.")
            time.sleep(nap if timeout is None else min(nap, timeout - elapsed))
            nap = min(nap * NAP_GROWTH, longest)

    def _file_state(self) -> tuple[int, ...] | None:
        """Size and change time of the results file and its WAL; None when unknown.

        Every commit writes the WAL (in WAL mode) or the file itself, so an unchanged
        pair means no new result; the forced query covers a write in the same clock
        tick as the last look that left the sizes alone."""
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

    # -- native chords (see celery_safe.embedded_chords) ---------------------------

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


def live_consumers(app: Celery) -> int | None:
    """How many consumers (worker processes waiting for messages) are alive on ``app``'s
    embedded broker right now, or ``None`` when its broker is not the embedded one.

    Celery's ``inspect``/``ping`` need a broadcast the embedded broker does not carry;
    each consumer's doorbell socket answers instead (it is rung once).
    """
    transport = app.conf.broker_transport
    name = transport if isinstance(transport, str) else getattr(transport, "__name__", "")
    url = str(app.conf.broker_url or "")
    if not name.endswith(":SQLiteTransport") or not url.startswith("sqlite:///"):
        return None
    return listeners(wake_directory(url[len("sqlite:///"):]))


def embedded_config(
    directory: str | Path,
    *,
    polling_interval: float = DEFAULT_POLLING_INTERVAL,
    visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
) -> dict[str, Any]:
    """Celery settings for a broker and a result backend in SQLite files under ``directory``.

    Tasks are acknowledged after they run (``task_acks_late``) and given back when the
    pool process running them dies (``task_reject_on_worker_lost``); see
    :func:`configure` for the trade-off. A live worker renews the lease of every message
    it holds; a message whose worker died goes to another after ``visibility_timeout``.
    """
    root = Path(directory).resolve()
    root.mkdir(parents=True, exist_ok=True)
    return {
        "broker_url": f"sqlite:///{root / 'broker.sqlite'}",
        "broker_transport": f"{__name__}:SQLiteTransport",
        "broker_transport_options": {
            "polling_interval": polling_interval, "visibility_timeout": visibility_timeout,
        },
        "broker_connection_retry_on_startup": True,
        "result_backend": f"{__name__}:SQLiteBackend",
        "database_url": f"sqlite:///{root / 'results.sqlite'}",
        "database_engine_options": {"connect_args": {"timeout": LOCK_TIMEOUT}},
        # Only for a backend on another database: SQLiteBackend counts chord parts
        # itself; elsewhere ``celery.chord_unlock`` retries this often (1 s by default).
        "result_chord_retry_interval": 0.1,
        "worker_prefetch_multiplier": 1,
        # At least once: a SIGKILLed or OOM-killed worker loses no task (see configure).
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
    }


def configure(
    app: Celery,
    directory: str | Path,
    *,
    polling_interval: float = DEFAULT_POLLING_INTERVAL,
    visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
) -> Celery:
    """Point ``app`` at the embedded SQLite broker and result backend; returns ``app``.

    The embedded default delivers **at least once**: tasks are acknowledged after they
    run and requeued when their pool process dies, and a SIGKILLed worker's messages (the
    one running, the prefetched ones) go to another worker ``visibility_timeout`` seconds
    (60 by default) after its last lease renewal. No task is lost to a crash; the price is
    that a task whose worker dies after its work but before the ack runs again, so tasks
    must be idempotent, and a task that kills its pool process every time (a segfault,
    the OOM killer) is redelivered every time. For at most once instead, set
    ``app.conf.task_acks_late = False`` after this call. Deleting or replacing the broker
    file while processes use it loses its messages: each process detects it at its next
    broker operation, a worker stops with :class:`BrokerFileGone`, and a producer's next
    send raises it once.
    """
    app.conf.update(embedded_config(
        directory, polling_interval=polling_interval, visibility_timeout=visibility_timeout
    ))
    return app
