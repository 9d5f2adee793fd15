"""The embedded broker's message table: claimed on delivery, deleted on ack, given back
after a visibility timeout.

Kombu's SQLAlchemy transport hides a delivered message (``visible = 0``) and never
deletes it, and puts an unacknowledged one back only on a clean shutdown. Here:

- :meth:`MessageStore.claim` hides the oldest visible message of a queue, bumps its
  ``version`` and records the delivery time in a table of its own
  (``<message table>_delivery``). The pair (row id, new version) names that one
  delivery: it becomes the message's delivery tag.
- :meth:`MessageStore.ack` deletes the row; :meth:`MessageStore.requeue` makes it
  visible again in place, only if the delivery is still the latest one.
- :meth:`MessageStore.release_expired` (run by ``claim`` at most every
  ``visibility_timeout / 4`` s, capped at 10 s) makes visible again every message
  delivered longer than ``visibility_timeout`` ago: a consumer that died without a
  clean shutdown loses nothing, its messages go to another consumer (at least once).
- :meth:`MessageStore.renew` restarts that clock for deliveries a live consumer still
  holds (``celery_safe.embedded`` renews every quarter of the timeout), so a long task
  is never handed to a second worker while its own is alive.
- Every operation first checks that the file at the database's path is still the one
  opened (``st_dev``/``st_ino``): a deleted or replaced file raises
  :class:`BrokerFileGone` instead of feeding an unlinked file nobody else reads.

Every operation is one short transaction on a pooled connection of its own, taken
with SQLite's write lock first (``BEGIN IMMEDIATE``), never across a ``fork`` (a child
would inherit that lock for good): threads never share a session,
no transaction stays open while a task or a callback runs, and two processes
claiming or sweeping at once queue up on the lock, so no message goes to two live
consumers within the timeout. A write asked for while the same thread is inside a
transaction (a signal handler) waits until that transaction ends instead of
waiting for its own lock. Acks and requeues are idempotent and retried on a lock
error. Rows hidden by kombu's own transport (an older broker file) have no delivery
record and are left alone: whether they were acknowledged is unknown.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

__all__ = ["DEFAULT_VISIBILITY_TIMEOUT", "BrokerFileGone", "Claim", "MessageStore"]

logger = logging.getLogger(__name__)


class BrokerFileGone(RuntimeError):
    """The broker's SQLite file was deleted or replaced while this process used it.

    Its connections still reach the old file, which nobody else sees any more: carrying
    on would send messages no worker reads (and read messages nobody sends). A worker
    stops with this error; a producer gets it once, then sends to the file now at the
    path (creating it when missing).
    """


#: Seconds a delivered, unacknowledged message stays hidden once its consumer stops
#: renewing the lease (:meth:`MessageStore.renew`, every quarter of this). A live
#: consumer keeps what it holds however long its tasks run, so this only bounds how
#: long work of a crashed worker waits: above a renewal's worst delay (a quarter of
#: it, plus a 30 s lock wait), far below Redis's 3600 s, which has no renewal.
DEFAULT_VISIBILITY_TIMEOUT = 60.0
#: Attempts for an ack or a requeue that meets a locked database.
WRITE_ATTEMPTS = 3

#: Held by every store transaction, and by ``os.fork`` once a store exists. A prefork
#: worker forks a new pool process while its other threads use the broker; SQLite keeps
#: the locks of a process's connections in that process's memory, so a child forked
#: mid-transaction inherits a write lock nobody will release and waits for it until
#: "database is locked". With this lock, a fork waits for the transaction in progress
#: (they are short) to end.
_NO_FORK_MID_TRANSACTION = threading.Lock()
_fork_hook_installed = False
_fork_hook_lock = threading.Lock()


def _install_fork_hook() -> None:
    """Make ``os.fork`` wait for the transaction in progress; installed by the first
    :class:`MessageStore`, so importing the embedded default changes no process."""
    global _fork_hook_installed
    with _fork_hook_lock:
        if _fork_hook_installed:
            return
        os.register_at_fork(
            before=_NO_FORK_MID_TRANSACTION.acquire,
            after_in_parent=_NO_FORK_MID_TRANSACTION.release,
            after_in_child=_NO_FORK_MID_TRANSACTION.release,
        )
        _fork_hook_installed = True


@dataclass(frozen=True)
class Claim:
    """One delivery of one message row; its ``tag`` is the delivery tag."""

    message_id: int
    version: int

    @property
    def tag(self) -> str:
        return f"{self.message_id}.{self.version}"

    @classmethod
    def from_tag(cls, tag: object) -> Claim | None:
        """The claim a delivery tag names, or ``None`` for a tag this store never gave."""
        message_id, dot, version = str(tag).partition(".")
        if not (dot and message_id.isdigit() and version.isdigit()):
            return None
        return cls(int(message_id), int(version))


def is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, OperationalError) and ("locked" in text or "busy" in text)


class MessageStore:
    """Queue operations on kombu's queue and message tables (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        queues: Table,
        messages: Table,
        *,
        visibility_timeout: float = DEFAULT_VISIBILITY_TIMEOUT,
        clock: Callable[[], float] = time.time,
        on_visible: Callable[[], None] | None = None,
    ) -> None:
        if visibility_timeout <= 0:
            raise ValueError(f"visibility_timeout must be positive, got {visibility_timeout!r}")
        _install_fork_hook()
        self.engine = engine
        self.queues = queues
        self.messages = messages
        self.visibility_timeout = float(visibility_timeout)
        self.sweep_interval = min(self.visibility_timeout / 4, 10.0)
        self.clock = clock  # wall clock: claims are compared across processes
        #: Called after a message became visible (put, requeue): wakes idle consumers.
        self.on_visible = on_visible
        self.deliveries = Table(
            f"{messages.name}_delivery",
            MetaData(),
            Column("message_id", Integer, primary_key=True, autoincrement=False),
            Column("delivered_at", Float, nullable=False, index=True),
        )
        self._create_tables()
        self._prepare_statements()
        self._queue_ids: dict[str, int] = {}
        self._next_sweep = 0.0
        self._local = threading.local()
        self.path = database_path(engine)
        self._identity = _identity(self.path)
        self._gone: str | None = None  # why the file we opened is no longer at its path

    def _prepare_statements(self) -> None:
        """Build the statements of the hot path (claim, ack) once: building a SQLAlchemy
        expression costs more than SQLite takes to run it."""
        m = self.messages.c
        d = self.deliveries.c
        self._next_visible = (
            select(m.id, m.version, m.payload)
            .where(m.queue_id == bindparam("b_queue"), m.visible == true())
            .order_by(m.id)
            .limit(1)
        )
        self._hide = (
            update(self.messages)
            .where(m.id == bindparam("b_id"))
            .values(visible=False, version=bindparam("b_version"))
        )
        self._forget_delivery = delete(self.deliveries).where(d.message_id == bindparam("b_id"))
        self._record_delivery = insert(self.deliveries)
        self._delete_message = delete(self.messages).where(m.id == bindparam("b_id"))

    def _create_tables(self) -> None:
        """Make the queue, message and delivery tables when missing.

        Kombu creates its tables once per engine, and keeps one engine per URL for the
        process: after the file was deleted, a new channel (a producer's next send)
        found a new empty file and no tables ("no such table: kombu_queue") forever.
        """
        for table in (self.queues, self.messages, self.deliveries):
            try:
                table.create(self.engine, checkfirst=True)
            except SQLAlchemyError:  # another process created it between check and create
                table.create(self.engine, checkfirst=True)

    def _check_file(self, *, adopt: bool = False) -> None:
        """Raise :class:`BrokerFileGone` if the file at the path is not the one opened.

        Checked before every operation: one ``stat``, a few microseconds next to a
        transaction. Our pooled connections keep the opened file alive, so its inode
        cannot be reused meanwhile.
        Only ``put`` (``adopt``) moves to the file now at the path: a claim, ack or
        requeue of the old file must never touch the new one (message ids restart there).
        """
        if self.path is None:
            return
        if self._gone is None:
            now = _identity(self.path)
            if now != self._identity:
                self._gone = (
                    f"the broker file {self.path} was deleted or replaced while in use "
                    f"(inode {self._identity[1] if self._identity else '?'}, now "
                    f"{now[1] if now else 'missing'}): the messages it held are lost, and "
                    "this process stops using it; restart workers to read the new file"
                )
                logger.error("%s", self._gone)
                self.engine.dispose()  # stop keeping the old file (and its WAL) open
                raise BrokerFileGone(self._gone)
        if self._gone is not None:
            if not adopt:
                raise BrokerFileGone(self._gone)
            self._adopt()

    def _adopt(self) -> None:
        """Use the file now at the path (a producer's next send after BrokerFileGone)."""
        self.engine.dispose()
        self._create_tables()
        self._queue_ids.clear()
        self._identity = _identity(self.path)
        self._gone = None
        logger.warning("now using the new broker file %s", self.path)

    @contextmanager
    def _transaction(self, *, adopt: bool = False) -> Iterator[Connection]:
        """One transaction holding the write lock; writes the thread asks for meanwhile
        (from a signal handler) run right after it ends."""
        if getattr(self._local, "deferred", None) is not None:
            raise RuntimeError("MessageStore transactions do not nest")
        self._check_file(adopt=adopt)
        self._local.deferred = []
        try:
            with _NO_FORK_MID_TRANSACTION, self.engine.connect() as conn:
                if conn.dialect.name == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield conn
                conn.commit()
        finally:
            deferred: list[Callable[[Connection], object]] = self._local.deferred
            self._local.deferred = None
            for write in deferred:
                self._write(write)

    def _write(self, write: Callable[[Connection], object]) -> None:
        """Run an idempotent write in its own transaction, retried on a lock error."""
        deferred = getattr(self._local, "deferred", None)
        if deferred is not None:
            deferred.append(write)
            return
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                with self._transaction() as conn:
                    write(conn)
                return
            except OperationalError as exc:
                if attempt == WRITE_ATTEMPTS or not is_lock_error(exc):
                    raise

    def queue_id(self, name: str, *, adopt: bool = False) -> int:
        """The id of queue ``name``'s row, created when missing."""
        if adopt:
            self._check_file(adopt=True)
        if name not in self._queue_ids:
            with self._transaction(adopt=adopt) as conn:
                query = select(self.queues.c.id).where(self.queues.c.name == name)
                found = conn.execute(query).scalar()
                if found is None:
                    inserted = conn.execute(insert(self.queues).values(name=name))
                    found = inserted.inserted_primary_key[0]  # type: ignore[index]
            self._queue_ids[name] = int(found)
        return self._queue_ids[name]

    def put(self, queue: str, payload: str) -> None:
        queue_id = self.queue_id(queue, adopt=True)
        with self._transaction(adopt=True) as conn:
            conn.execute(insert(self.messages), {"queue_id": queue_id, "payload": payload})
        self._visible()

    def claim(self, queue: str) -> tuple[Claim, str] | None:
        """Hide the oldest visible message of ``queue``; its claim and payload, or None."""
        queue_id = self.queue_id(queue)
        with self._transaction() as conn:
            now = self.clock()
            if now >= self._next_sweep:
                self._release_expired(conn, now)
                self._next_sweep = now + self.sweep_interval
            query = self._next_visible
            if conn.dialect.name != "sqlite":
                query = query.with_for_update(skip_locked=True)
            row = conn.execute(query, {"b_queue": queue_id}).first()
            if row is None:
                return None
            claim = Claim(int(row.id), int(row.version) + 1)
            conn.execute(self._hide, {"b_id": claim.message_id, "b_version": claim.version})
            conn.execute(self._forget_delivery, {"b_id": claim.message_id})
            conn.execute(self._record_delivery,
                         {"message_id": claim.message_id, "delivered_at": now})
            return claim, str(row.payload)

    def ack(self, claim: Claim) -> None:
        """Delete the message, whichever delivery of it this is."""

        def forget(conn: Connection) -> None:
            conn.execute(self._forget_delivery, {"b_id": claim.message_id})
            conn.execute(self._delete_message, {"b_id": claim.message_id})

        self._write(forget)

    def requeue(self, claim: Claim) -> None:
        """Make the message visible again, if ``claim`` is still its latest delivery."""
        m = self.messages.c

        def give_back(conn: Connection) -> None:
            given_back = conn.execute(
                update(self.messages)
                .where(m.id == claim.message_id, m.version == claim.version)
                .values(visible=True, version=m.version + 1)
            ).rowcount
            if given_back:
                conn.execute(delete(self.deliveries).where(
                    self.deliveries.c.message_id == claim.message_id
                ))

        self._write(give_back)
        self._visible()

    def _visible(self) -> None:
        if self.on_visible is not None:
            self.on_visible()

    def renew(self, claims: list[Claim]) -> None:
        """Restart the visibility clock of these deliveries (still the latest ones): the
        consumer holding them is alive."""
        if not claims:
            return
        m = self.messages.c
        d = self.deliveries.c

        def touch(conn: Connection) -> None:
            now = self.clock()
            for claim in claims:
                latest = exists().where(m.id == claim.message_id, m.version == claim.version)
                conn.execute(
                    update(self.deliveries)
                    .where(d.message_id == claim.message_id, latest)
                    .values(delivered_at=now)
                )

        self._write(touch)

    def release_expired(self) -> int:
        """Make visible every message delivered over ``visibility_timeout`` ago; how many."""
        with self._transaction() as conn:
            return self._release_expired(conn, self.clock())

    def _release_expired(self, conn: Connection, now: float) -> int:
        d = self.deliveries.c
        cutoff = now - self.visibility_timeout
        expired = select(d.message_id).where(d.delivered_at < cutoff)
        released: int = conn.execute(
            update(self.messages)
            .where(self.messages.c.id.in_(expired))
            .values(visible=True, version=self.messages.c.version + 1)
        ).rowcount
        conn.execute(delete(self.deliveries).where(d.delivered_at < cutoff))
        return released

    def size(self, queue: str) -> int:
        """How many messages of ``queue`` wait for a consumer."""
        queue_id = self.queue_id(queue)
        m = self.messages.c
        self._check_file()
        with _NO_FORK_MID_TRANSACTION, self.engine.connect() as conn:
            count: Any = conn.execute(
                select(func.count()).where(m.queue_id == queue_id, m.visible == true())
            ).scalar()
        return int(count or 0)

    def carries(self, text: str) -> bool:
        """Whether a message still held (waiting, or delivered and not acknowledged)
        contains ``text``, a task id: ``explain`` tells a queued task from an id nothing
        is known about."""
        m = self.messages.c
        self._check_file()
        with _NO_FORK_MID_TRANSACTION, self.engine.connect() as conn:
            found = conn.execute(
                select(m.id).where(m.payload.contains(text, autoescape=True)).limit(1)
            ).first()
        return found is not None

    def purge(self, queue: str) -> int:
        """Delete every message of ``queue``, delivered or not; how many were waiting."""
        queue_id = self.queue_id(queue)
        m = self.messages.c
        with self._transaction() as conn:
            waiting: Any = conn.execute(
                select(func.count()).where(m.queue_id == queue_id, m.visible == true())
            ).scalar()
            of_queue = select(m.id).where(m.queue_id == queue_id)
            conn.execute(delete(self.deliveries).where(self.deliveries.c.message_id.in_(of_queue)))
            conn.execute(delete(self.messages).where(m.queue_id == queue_id))
        return int(waiting or 0)


def database_path(engine: Engine) -> str | None:
    """The SQLite file behind ``engine``, or ``None`` (another database, or in memory)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None  # a URI filename: not worth parsing for a check
    return os.path.abspath(database)


def _identity(path: str | None) -> tuple[int, int] | None:
    """``(st_dev, st_ino)`` of ``path``, or ``None`` when it is missing."""
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino
