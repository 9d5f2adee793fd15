"""One embedded channel used from two threads, as a prefork worker does.

The consumer thread polls the queue while the pool's result-handler thread puts back
the message of a pool process that died. With kombu's one session per channel, the two
collided ("This session is in 'prepared' state") and the worker died: CI met it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from queue import Empty
from typing import Any

from celery import Celery

import celery_safe.embedded

MESSAGES = 300


def test_a_channel_puts_from_one_thread_while_another_polls(tmp_path: Path) -> None:
    app = Celery("threads", set_as_current=False)
    celery_safe.embedded.configure(app, tmp_path)
    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel
        channel.queue_declare("q")
        errors: list[BaseException] = []
        received: list[int] = []
        done = threading.Event()

        def put_back() -> None:  # what the result-handler thread does on a lost worker
            try:
                for n in range(MESSAGES):
                    channel._put("q", {"n": n})
            except BaseException as exc:  # reported by the test
                errors.append(exc)
            finally:
                done.set()

        putter = threading.Thread(target=put_back)
        putter.start()
        while len(received) < MESSAGES and not errors:
            try:
                received.append(channel._get("q")["n"])
            except Empty:
                if done.is_set() and channel._size("q") == 0:
                    break
        putter.join(30)
    app.close()
    assert errors == []
    assert sorted(received) == list(range(MESSAGES))
