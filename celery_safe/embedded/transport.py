"""The embedded broker: kombu's SQLAlchemy transport, woken by publishes, at least once.

Kombu's SQLAlchemy transport polls its queue table every second, forwards every
``broker_transport_options`` key to ``create_engine`` (so ``polling_interval`` there
is a ``TypeError``), never deletes an acknowledged message, and puts an unacknowledged
one back only on a clean shutdown (a SIGKILLed worker loses it). :class:`SQLiteTransport`
takes ``polling_interval`` (a fallback: publishes wake idle consumers, see
:mod:`celery_safe.embedded.wake`) and ``visibility_timeout`` (60 s by
default, renewed while the consumer lives) out of the engine options, waits on locks
instead of failing, turns on WAL so worker processes and producers do not block each
other's reads, and keeps its messages
with :class:`celery_safe.embedded.store.MessageStore`: deleted on ack, requeued in
place on reject or shutdown, and given back to another consumer once delivered longer
than ``visibility_timeout`` ago without an ack (at least once, as on Redis).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from json import dumps, loads  # the stdlib's, as kombu's transport: same stored text
from queue import Empty
from typing import Any

from kombu.transport import sqlalchemy as kombu_sqla
from kombu.transport import virtual
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from celery_safe.celery_internals import worker_acks_between_drains
from celery_safe.embedded.sqlite import LOCK_TIMEOUT, fresh_pool_after_fork, sqlite_engine
from celery_safe.embedded.store import (
    DEFAULT_VISIBILITY_TIMEOUT,
    BrokerFileGone,
    Claim,
    MessageStore,
    is_lock_error,
)
from celery_safe.embedded.wake import Doorbell, ring, wake_directory

__all__ = ["DEFAULT_POLLING_INTERVAL", "ClaimQoS", "SQLiteChannel", "SQLiteTransport"]

logger = logging.getLogger(__name__)

#: Seconds between polls of an idle consumer's queues: only a fallback, since a
#: publish wakes it (:mod:`celery_safe.embedded.wake`).
DEFAULT_POLLING_INTERVAL = 0.5
#: Transport options kombu reads itself; everything else goes to ``create_engine``.
_KOMBU_OPTIONS = frozenset({
    "queue_tablename", "message_tablename", "callback", "errback", "max_retries",
    "interval_start", "interval_step", "interval_max", "retry_errors", "polling_interval",
    "visibility_timeout",
})


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
            engine = sqlite_engine(create_engine(url, connect_args=connect_args, **options))
        else:
            engine = create_engine(url, **options)
        return fresh_pool_after_fork(engine)


class SQLiteTransport(kombu_sqla.Transport):
    """Kombu's SQLAlchemy transport, woken by publishes instead of polling.

    An idle consumer waits on its :class:`~celery_safe.embedded.wake.Doorbell`, rung
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
