"""The embedded default: a broker and a result backend in SQLite files, no server.

    app = Celery("proj")
    celery_safe.embedded.configure(app, "var/celery")

Kombu's SQLAlchemy transport polls its queue table every second, forwards every
``broker_transport_options`` key to ``create_engine`` (so ``polling_interval`` there
is a ``TypeError``), never deletes an acknowledged message, and puts an unacknowledged
one back only on a clean shutdown (a SIGKILLed worker loses it). :class:`SQLiteTransport`
takes ``polling_interval`` (0.05 s by default) and ``visibility_timeout`` (60 s by
default, renewed while the consumer lives) out of the engine options, waits on locks
instead of failing, turns on WAL so worker processes and producers do not block each
other's reads, and keeps its messages
with :class:`celery_safe.embedded_queue.MessageStore`: deleted on ack, requeued in
place on reject or shutdown, and given back to another consumer once delivered longer
than ``visibility_timeout`` ago without an ack (at least once, as on Redis).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from json import dumps, loads  # the stdlib's, as kombu's transport: same stored text
from pathlib import Path
from queue import Empty
from typing import Any

from celery import Celery, states
from celery.backends.database import DatabaseBackend
from celery.backends.database.session import SessionManager
from kombu.transport import sqlalchemy as kombu_sqla
from kombu.transport import virtual
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from celery_safe.embedded_queue import (
    DEFAULT_VISIBILITY_TIMEOUT,
    BrokerFileGone,
    Claim,
    MessageStore,
    is_lock_error,
)

__all__ = [
    "DEFAULT_POLLING_INTERVAL",
    "DEFAULT_VISIBILITY_TIMEOUT",
    "BrokerFileGone",
    "SQLiteBackend",
    "SQLiteTransport",
    "configure",
    "embedded_config",
]

logger = logging.getLogger(__name__)

DEFAULT_POLLING_INTERVAL = 0.05
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

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        claim = Claim.from_tag(delivery_tag)
        try:
            if claim is not None and requeue:
                self.channel.store.requeue(claim)
            elif claim is not None:  # dropped: as final as an ack
                self.channel.store.ack(claim)
        finally:
            self._quick_ack(delivery_tag)

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
            engine, _ = self._open()  # type: ignore[no-untyped-call]
            timeout = self.connection.client.transport_options.get(
                "visibility_timeout", DEFAULT_VISIBILITY_TIMEOUT
            )
            self._store = MessageStore(
                engine, self.queue_cls.__table__, self.message_cls.__table__,
                visibility_timeout=float(timeout),
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
    """Kombu's SQLAlchemy transport polling every 0.05 s (``polling_interval`` option)."""

    Channel = SQLiteChannel
    polling_interval = DEFAULT_POLLING_INTERVAL

    #: The worker's loop waits up to 2 s per drain and notices a shutdown request only
    #: between drains; waiting in slices lets a stopping worker exit within one slice.
    drain_slice = 0.2

    def drain_events(self, connection: Any, timeout: Any = None, **kwargs: Any) -> Any:
        drain: Callable[..., None] = super().drain_events
        if timeout is None or timeout <= self.drain_slice:
            drain(connection, timeout=timeout, **kwargs)
            return
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                drain(connection, timeout=min(self.drain_slice, max(remaining, 0)), **kwargs)
                return
            except TimeoutError:
                if remaining <= self.drain_slice or _worker_stopping():
                    raise


def _worker_stopping() -> bool:
    from celery.worker import state  # imported late: producers never load the worker

    return state.should_stop is not None or state.should_terminate is not None


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
    - Celery schedules the first ``celery.chord_unlock`` one second after the chord is
      sent, whatever ``result_chord_retry_interval`` says; here the first check waits
      one retry interval too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._storing = threading.local()  # set first: Celery's __init__ opens a session
        super().__init__(*args, **kwargs)

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
        # The database backend runs chords through ``celery.chord_unlock``, which
        # retries every ``result_chord_retry_interval`` (1 s by default).
        "result_chord_retry_interval": max(polling_interval * 2, 0.05),
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
