"""Celery's in-process test worker with the join guard on.

    with start_guarded_worker(app, pool="threads", concurrency=2):
        assert add.delay(1, 2).get(timeout=10) == 3

``celery.contrib.testing.worker.start_worker`` turns Celery's own "never join inside a
task" check off; here :func:`celery_safe.guard` refuses such joins instead. It also
makes its app the process's current and default app and leaves it so: every
``shared_task`` proxy used later in the process (in later tests) then resolves against
that stale app and raises ``NotRegistered``. Here both are put back afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Celery
    from celery.worker import WorkController

__all__ = ["SHUTDOWN_TIMEOUT", "keep_current_app", "start_guarded_worker"]

#: Seconds a worker gets to finish its tasks when the block ends.
SHUTDOWN_TIMEOUT = 10.0


@contextlib.contextmanager
def start_guarded_worker(
    app: Celery, *, pool: str = "threads", concurrency: int = 2, **options: Any
) -> Iterator[WorkController]:
    """Run a worker for ``app`` in a thread of this process, with the guard on for ``app``.

    Options go to Celery's ``start_worker``; the ping check is off by default (it needs
    ``celery.contrib.testing.tasks`` registered). Register tasks before starting: the
    worker only consumes tasks it knew at start.
    """
    from celery.contrib.testing.worker import start_worker

    from celery_safe.join_guard import guard

    guard(app)
    options.setdefault("perform_ping_check", False)
    options.setdefault("shutdown_timeout", SHUTDOWN_TIMEOUT)
    with keep_current_app(), start_worker(
        app, pool=pool, concurrency=concurrency, **options
    ) as worker:
        yield worker


@contextlib.contextmanager
def keep_current_app() -> Iterator[None]:
    """Put Celery's current and default app back as they were when the block ends."""
    from celery import _state

    current, default = getattr(_state._tls, "current_app", None), _state.default_app
    try:
        yield
    finally:
        _state._set_current_app(current)
        _state.set_default_app(default)
