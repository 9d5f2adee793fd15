"""Result backends that force the retry race on a real worker, with no timing luck.

A task retrying with ``countdown=0`` sends its next attempt before it stores ``RETRY``;
Celery's key-value store reads the task's state, then writes it. With two pool
processes the next attempt can run and store ``SUCCESS`` between that read and that
write: the late ``RETRY`` then replaces the ``SUCCESS`` (measured on Redis, 2 runs of 4
without any hold). These backends hold the ``RETRY`` of ``wf.retry_now`` at that point
until its ``SUCCESS`` is stored, so the race is lost every time:

- ``HoldingRedisBackend`` holds between Celery's read and its write (``_set_with_state``),
  and the next attempt's end waits until that read is done: read after the ``SUCCESS``,
  Celery keeps it, and the race was not forced (seen once in 10 runs on Celery 5.4: the
  retry's ``SUCCESS`` was stored before the failed attempt's store read the state);
- ``HoldingSQLiteBackend`` (the embedded backend, whose read and write are one
  transaction: there is no point between them) holds before the store, and once the
  held store is over marks it done under the id ``task_id + STORED`` (so a test knows
  when to look at what it left).
"""

from __future__ import annotations

import time
from typing import Any

from celery import states
from celery.backends.redis import RedisBackend

from celery_safe.embedded import SQLiteBackend

#: The tasks whose RETRY is held.
HELD = frozenset({"wf.retry_now", "wf.retry_then_fail"})
#: The longest a RETRY is held (a test fails on the state long before).
HOLD = 120.0
#: Suffix of the id under which ``HoldingSQLiteBackend`` marks a held store as over.
STORED = "-late-retry-stored"


def _held(backend: Any, task_id: str, state: str, request: Any) -> bool:
    if state != states.RETRY or getattr(request, "task", None) not in HELD:
        return False
    deadline = time.monotonic() + HOLD
    while backend.get_task_meta(task_id, cache=False)["status"] not in (states.SUCCESS,
                                                                         states.FAILURE):
        if time.monotonic() > deadline:
            return True
        time.sleep(0.02)
    return True


def _read_key(task_id: str) -> str:
    """The Redis key set once the held RETRY's store of ``task_id`` has read its state."""
    return f"wf-hold-read-{task_id}"


class HoldingRedisBackend(RedisBackend):  # type: ignore[misc]
    def _store_result(self, task_id: str, result: Any, state: str, traceback: Any = None,
                      request: Any = None, **kwargs: Any) -> Any:
        if (state in states.READY_STATES and getattr(request, "task", None) in HELD
                and getattr(request, "retries", 0)):  # the retry's end: after that read
            deadline = time.monotonic() + HOLD
            while not self.client.get(_read_key(task_id)) and time.monotonic() < deadline:
                time.sleep(0.02)
        self._held = (task_id, state, request)  # for _set_with_state, after Celery's read
        try:
            return super()._store_result(task_id, result, state, traceback=traceback,
                                         request=request, **kwargs)
        finally:
            self._held = None

    def _set_with_state(self, key: Any, value: Any, state: str) -> Any:
        held = getattr(self, "_held", None)
        if held is not None:
            task_id, held_state, request = held
            if held_state == states.RETRY and getattr(request, "task", None) in HELD:
                self.client.set(_read_key(task_id), 1)
            _held(self, *held)
        return super()._set_with_state(key, value, state)


class HoldingSQLiteBackend(SQLiteBackend):
    def _store_result(self, task_id: str, result: Any, state: str, traceback: Any = None,
                      request: Any = None, **kwargs: Any) -> Any:
        held = _held(self, task_id, state, request)
        stored = super()._store_result(task_id, result, state, traceback=traceback,
                                       request=request, **kwargs)
        if held:
            self.mark_as_done(task_id + STORED, state)
        return stored
