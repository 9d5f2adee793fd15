"""Two greenlets in one monkey-patched process: does the guard leak between them?

    python green_isolation.py gevent|eventlet      # prints one JSON object

Patches first, like ``celery worker -P gevent|eventlet`` does before importing Celery.
Greenlet ``in_task`` runs a guarded task (``apply``: Celery's tracer, as on a worker)
that parks mid-task on a green event; meanwhile greenlet ``outside`` looks for a running
task and joins a result, then wakes ``in_task``, which looks and joins in turn.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

LIBRARY = sys.argv[1]
if LIBRARY == "gevent":
    from gevent import monkey

    monkey.patch_all()
elif LIBRARY == "eventlet":
    import eventlet

    eventlet.monkey_patch()
else:
    raise SystemExit(f"usage: green_isolation.py gevent|eventlet (got {LIBRARY!r})")

import threading  # noqa: E402  (green after patching: Event and Thread are greenlet-based)

import greenlet  # noqa: E402
from celery import Celery  # noqa: E402

import celery_safe  # noqa: E402


def spawn(function: Callable[[], None]) -> Callable[[], Any]:
    """Start ``function`` in a new greenlet; returns a callable that waits for it."""
    if LIBRARY == "gevent":
        import gevent

        return gevent.spawn(function).join
    return eventlet.spawn(function).wait


def os_thread() -> int:
    """The real OS thread's id (``threading.get_ident`` is the greenlet's once patched)."""
    if LIBRARY == "gevent":
        return int(monkey.get_original("_thread", "get_ident")())
    return int(eventlet.patcher.original("_thread").get_ident())


def try_join(app: Celery) -> str:
    try:
        return f"joined {app.tasks['green.add'].apply((1, 2)).get()}"
    except celery_safe.JoinInTaskError as error:
        return f"JoinInTaskError {error.task_name}"


app = Celery("green_isolation", set_as_current=False)
celery_safe.guard(app)
task_started, outside_done = threading.Event(), threading.Event()
seen: dict[str, Any] = {}


@celery_safe.task(app, name="green.add", shared=False)
def add(x: int, y: int) -> int:
    return x + y


@celery_safe.task(app, name="green.parked", shared=False)
def parked() -> None:
    seen["in_task"] = [id(greenlet.getcurrent()), os_thread()]
    task_started.set()
    outside_done.wait(30)  # yields to the hub: ``outside`` runs now, mid-task
    seen["in_task_after_outside"] = celery_safe.current_guarded_task()
    seen["join_in_task"] = try_join(app)  # noqa: CSF104 (deliberate: what the guard stops)


def in_task() -> None:
    parked.apply()


def outside() -> None:
    task_started.wait(30)
    seen["outside"] = [id(greenlet.getcurrent()), os_thread()]
    seen["outside_while_task_runs"] = celery_safe.current_guarded_task()
    seen["join_outside"] = try_join(app)
    outside_done.set()


waits = [spawn(in_task), spawn(outside)]
for wait in waits:
    wait()
print(json.dumps(seen))
