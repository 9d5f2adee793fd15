"""The embedded broker's message table, without workers: claims, acks, the sweep."""

from __future__ import annotations

import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from kombu import Connection, Queue

import celery_safe.embedded
from celery_safe.embedded.store import Claim, MessageStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def channel(tmp_path: Path) -> Iterator[Any]:
    app = celery_safe.embedded.configure(Celery("store"), tmp_path, visibility_timeout=10)
    with app.connection_for_write() as conn:
        conn.connect()
        channel = conn.default_channel
        channel.queue_declare("q")
        yield channel


def rows(directory: Path) -> list[tuple[int, int]]:
    """(id, visible) of every message row."""
    with sqlite3.connect(directory / "broker.sqlite") as db:
        return [tuple(row) for row in db.execute("SELECT id, visible FROM kombu_message")]


def clocked(channel: Any, clock: Clock, timeout: float = 10) -> MessageStore:
    store = channel.store
    return MessageStore(
        store.engine, store.queues, store.messages, visibility_timeout=timeout, clock=clock
    )


def test_tags_name_one_delivery() -> None:
    assert Claim.from_tag(Claim(12, 3).tag) == Claim(12, 3)
    assert Claim.from_tag("0f8e2c4a-uuid-of-kombu") is None
    assert Claim.from_tag("1.x") is None


def test_ack_deletes_and_requeue_restores_in_place(channel: Any, tmp_path: Path) -> None:
    store = channel.store
    store.put("q", '{"n": 1}')
    store.put("q", '{"n": 2}')
    first, payload = store.claim("q")
    assert payload == '{"n": 1}'
    second, _ = store.claim("q")
    assert store.claim("q") is None
    store.ack(first)
    assert rows(tmp_path) == [(second.message_id, 0)]
    store.requeue(second)
    assert rows(tmp_path) == [(second.message_id, 1)]
    again, _ = store.claim("q")
    assert again.message_id == second.message_id and again.version > second.version
    store.requeue(second)  # a stale delivery gives nothing back
    assert rows(tmp_path) == [(second.message_id, 0)]
    store.ack(again)
    store.ack(again)  # idempotent
    assert rows(tmp_path) == []


def test_sweep_gives_back_only_expired_claims(channel: Any, tmp_path: Path) -> None:
    clock = Clock()
    store = clocked(channel, clock)
    for n in range(3):
        store.put("q", f'{{"n": {n}}}')
    old, _ = store.claim("q")
    clock.now += 6
    recent, _ = store.claim("q")
    clock.now += 5  # old: 11 s ago, recent: 5 s ago
    other = clocked(channel, clock)  # a second process sweeping the same table
    assert other.release_expired() == 1
    assert store.release_expired() == 0  # already given back: nothing twice
    assert {row for row in rows(tmp_path) if row[1]} == {(old.message_id, 1), (3, 1)}
    reclaimed, _ = other.claim("q")
    assert reclaimed.message_id == old.message_id
    store.requeue(old)  # the first consumer's late requeue does not undo the new claim
    assert other.claim("q") is not None  # the third message
    assert other.claim("q") is None
    store.ack(old)  # a late ack still completes the message
    assert old.message_id not in {row[0] for row in rows(tmp_path)}
    assert recent.message_id in {row[0] for row in rows(tmp_path)}


def test_claim_sweeps_when_due(channel: Any) -> None:
    clock = Clock()
    store = clocked(channel, clock, timeout=4)
    store.put("q", "{}")
    first, _ = store.claim("q")
    assert store.claim("q") is None
    clock.now += 5
    second, _ = store.claim("q")
    assert second.message_id == first.message_id and second.version > first.version


def test_rejects_a_nonpositive_timeout(channel: Any) -> None:
    with pytest.raises(ValueError, match="visibility_timeout"):
        clocked(channel, Clock(), timeout=0)


@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy")
def test_broker_file_of_kombus_own_transport_still_works(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'broker.sqlite'}"
    queue = Queue("q", routing_key="q")
    with Connection(f"sqla+{url}") as old:  # kombu's transport: acked rows stay, hidden
        producer = old.Producer()
        for n in range(3):
            producer.publish({"n": n}, routing_key="q", declare=[queue])
        with old.SimpleQueue(queue) as simple:
            simple.get(timeout=5).ack()
    assert [visible for _, visible in rows(tmp_path)] == [0, 1, 1]

    app = celery_safe.embedded.configure(Celery("new"), tmp_path, visibility_timeout=1)
    with app.connection_for_write() as new, new.SimpleQueue(queue) as simple:
        got = [simple.get(timeout=5) for _ in range(2)]
        assert [m.payload for m in got] == [{"n": 1}, {"n": 2}]
        for message in got:
            message.ack()
        # kombu's acked row has no delivery record: never delivered again
        assert simple.channel.store.release_expired() == 0
    assert rows(tmp_path) == [(1, 0)]


def test_a_forked_child_does_not_reuse_the_parents_connections(channel: Any) -> None:
    engine = channel.store.engine
    channel.store.size("q")
    assert engine.pool.checkedin() >= 1  # a connection of this process waits in the pool
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its pool, leave at once
        os.write(write_end, str(engine.pool.checkedin()).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read_end, 16) == b"0"
    assert engine.pool.checkedin() >= 1  # the parent's pool is untouched


def test_channel_acks_rejects_and_recovers_in_the_table(channel: Any, tmp_path: Path) -> None:
    for n in range(2):
        channel.basic_publish(channel.prepare_message(f"m{n}"), "", "q")
    first = channel.basic_get("q")
    channel.basic_reject(first.delivery_tag, requeue=True)
    assert [visible for _, visible in rows(tmp_path)] == [1, 1]
    again = channel.basic_get("q")
    assert again.body == first.body and again.delivery_tag != first.delivery_tag
    channel.basic_reject(again.delivery_tag, requeue=False)  # dropped, not redelivered
    assert [visible for _, visible in rows(tmp_path)] == [1]
    second = channel.basic_get("q")
    channel.basic_recover(requeue=True)  # what a clean shutdown does
    assert [visible for _, visible in rows(tmp_path)] == [1]
    last = channel.basic_get("q")
    assert last.body == second.body and channel.basic_get("q") is None
    last.ack()
    assert rows(tmp_path) == []


def test_one_thread_acks_and_requeues_while_another_polls(channel: Any, tmp_path: Path) -> None:
    """A prefork worker's result-handler thread acks (or requeues a lost task's message)
    while the consumer thread polls: each on a transaction of its own, nothing lost."""
    messages = 200
    for n in range(messages):
        channel.basic_publish(channel.prepare_message(str(n)), "", "q")
    handed: queue.Queue[Any] = queue.Queue()
    errors: list[BaseException] = []
    acked: list[str] = []

    def settle() -> None:  # the result-handler thread: requeue every third once, ack the rest
        requeued: set[str] = set()
        while (message := handed.get()) is not None:
            body = bytes(message.body).decode()
            try:
                if int(body) % 3 == 0 and body not in requeued:
                    requeued.add(body)
                    channel.basic_reject(message.delivery_tag, requeue=True)
                else:
                    channel.basic_ack(message.delivery_tag)
                    acked.append(body)
            except BaseException as exc:  # reported by the test
                errors.append(exc)

    settler = threading.Thread(target=settle)
    settler.start()
    try:
        deadline = time.monotonic() + 30
        while len(acked) < messages and not errors and time.monotonic() < deadline:
            message = channel.basic_get("q")
            if message is not None:
                handed.put(message)
    finally:
        handed.put(None)
        settler.join(30)
    assert errors == []
    assert sorted(acked, key=int) == [str(n) for n in range(messages)]
    assert rows(tmp_path) == []


def test_a_fork_waits_for_the_transaction_in_progress(channel: Any, tmp_path: Path) -> None:
    """SQLite keeps a process's locks in its memory: a child forked while another thread
    is inside a transaction would inherit the write lock and never get it itself."""
    inside, release = threading.Event(), threading.Event()

    def hold_a_transaction() -> None:
        with channel.store._transaction():
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold_a_transaction)
    holder.start()
    inside.wait(10)
    threading.Timer(0.3, release.set).start()  # the fork below waits for this
    pid = os.fork()
    if pid == 0:  # the child: take the write lock once, with a short timeout
        try:
            with sqlite3.connect(tmp_path / "broker.sqlite", timeout=2) as db:
                db.execute("BEGIN IMMEDIATE")
        except BaseException:
            os._exit(1)
        os._exit(0)
    holder.join(10)
    assert os.waitpid(pid, 0)[1] == 0, "the child found the database locked"


def test_importing_the_embedded_default_installs_no_fork_hook(tmp_path: Path) -> None:
    """Only a process that uses the broker pays for its fork hook."""
    probe = (
        "import sys\n"
        "from celery import Celery\n"
        "import celery_safe.embedded, celery_safe.embedded.store as q\n"
        "assert not q._fork_hook_installed, 'installed on import'\n"
        "app = celery_safe.embedded.configure(Celery('probe'), sys.argv[1])\n"
        "with app.connection_for_write() as conn:\n"
        "    conn.default_channel.queue_declare('probe')\n"
        "assert q._fork_hook_installed, 'not installed by the first transport'\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
