"""A worker whose prefetch slots are all taken gets back to its loop at once when its
Celery acks only between drains (before 5.7, ``worker_acks_between_drains``).

Its loop calls ``drain_events(timeout=2.0)`` and runs the queued acks after that returns;
when the embedded transport waited out the 2 s, every finished task held its slot that
long and a busy queue ran about one task a second (seen in the Celery 5.3-5.6 matrix).
Counted here, not timed: how many waits one drain makes before it returns.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from kombu import Consumer, Queue

import celery_safe.embedded
import celery_safe.embedded.transport
from celery_safe.celery_internals import worker_acks_between_drains
from celery_safe.embedded import SQLiteTransport


@pytest.fixture
def saturated(tmp_path: Path) -> Iterator[tuple[Any, list[float]]]:
    """A connection whose consumer holds its only prefetch slot, two messages queued; the
    transport's waits recorded instead of slept."""
    app = celery_safe.embedded.configure(Celery("acks"), tmp_path)
    with app.connection_for_write() as conn:
        conn.connect()
        channel = conn.default_channel
        queue = Queue("q", channel=channel)
        queue.declare()
        for n in range(2):
            channel.basic_publish(channel.prepare_message(f"m{n}"), "", "q")
        held: list[Any] = []
        consumer = Consumer(channel, [queue], callbacks=[lambda _, message: held.append(message)])
        consumer.qos(prefetch_count=1)
        consumer.consume()
        conn.drain_events(timeout=1)  # takes the only slot
        assert len(held) == 1 and not channel.qos.can_consume()
        waits: list[float] = []
        transport = conn.transport
        assert isinstance(transport, SQLiteTransport)

        def wait(timeout: float) -> bool:  # no ring comes: sleep, and record the wait
            waits.append(timeout)
            time.sleep(timeout)
            return False

        transport._wait = wait  # type: ignore[method-assign]
        yield conn, waits


def test_a_saturated_worker_gets_back_to_its_loop_when_acks_wait_for_it(
    saturated: tuple[Any, list[float]], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn, waits = saturated
    monkeypatch.setattr(celery_safe.embedded.transport, "_acks_between_drains", lambda: True)
    with pytest.raises(TimeoutError):
        conn.drain_events(timeout=2.0)
    assert waits == [SQLiteTransport.saturated_slice]  # one short wait, not 2 s of them


def test_when_acks_come_at_once_a_saturated_worker_waits_for_the_ring(
    saturated: tuple[Any, list[float]], monkeypatch: pytest.MonkeyPatch
) -> None:
    conn, waits = saturated
    monkeypatch.setattr(celery_safe.embedded.transport, "_acks_between_drains", lambda: False)
    with pytest.raises(TimeoutError):
        conn.drain_events(timeout=0.3)
    assert len(waits) > 1 and SQLiteTransport.saturated_slice not in waits


def test_the_version_fact() -> None:
    assert worker_acks_between_drains((5, 6, 3)) and not worker_acks_between_drains((5, 7, 0))
