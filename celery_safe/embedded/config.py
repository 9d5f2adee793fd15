"""The settings of the embedded default: :func:`configure` and :func:`embedded_config`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery

from celery_safe.embedded.sqlite import LOCK_TIMEOUT, private_directory, private_file
from celery_safe.embedded.store import DEFAULT_VISIBILITY_TIMEOUT
from celery_safe.embedded.transport import DEFAULT_POLLING_INTERVAL
from celery_safe.embedded.wake import listeners, wake_directory

__all__ = ["configure", "embedded_config"]

#: Where Celery finds the embedded classes: the package's stable names.
_PACKAGE = "celery_safe.embedded"


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
    root = private_directory(Path(directory).resolve())
    for name in ("broker.sqlite", "results.sqlite"):  # 0600 before Celery's engine makes one
        private_file(str(root / name))
    return {
        "broker_url": f"sqlite:///{root / 'broker.sqlite'}",
        "broker_transport": f"{_PACKAGE}:SQLiteTransport",
        "broker_transport_options": {
            "polling_interval": polling_interval, "visibility_timeout": visibility_timeout,
        },
        "broker_connection_retry_on_startup": True,
        "result_backend": f"{_PACKAGE}:SQLiteBackend",
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
    return listeners(wake_directory(os.path.abspath(url[len("sqlite:///"):])))
