"""The registry's Celery app: embedded SQLite by default, Redis when a broker URL is set.

    celery -A registry.celery_app worker          # or: python -m registry worker

With no ``REGISTRY_BROKER_URL`` the broker and result backend are SQLite files under
``$REGISTRY_HOME/celery`` (``celery_safe.embedded``): nothing to install or start. With
``REGISTRY_BROKER_URL=redis://host:6379/0`` (``--broker`` on the CLI) every worker on
every machine pointing at that Redis shares the work, and results go to Redis too unless
``REGISTRY_RESULT_BACKEND`` says otherwise.

Tasks are acknowledged *after* they run (``task_acks_late``) and requeued when the
process running them dies (``task_reject_on_worker_lost``): every task is idempotent,
so running one twice after a crash is harmless, while losing one is not.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun

import celery_safe
from celery_safe import embedded
from celery_safe.workflows import check_app_on_start, check_schedule_on_beat
from registry.config import Settings, load_settings, private_home

__all__ = [
    "BEAT_SCHEDULE", "QUEUE_ENV", "SYNC_INTERVAL_ENV", "app", "beat_schedule", "celery_config",
    "configure",
]

#: The periodic jobs: a full sync every 6 hours, a health check every 5 minutes, the
#: task-growth analytics once a day.
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "sync-collections-every-6h": {
        "task": "registry.scheduled_sync",
        "schedule": timedelta(hours=6),
    },
    "health-check-every-5min": {
        "task": "registry.health_check",
        "schedule": timedelta(minutes=5),
    },
    "task-growth-daily": {  # the /analytics page's report (registry.scheduled_task_growth)
        "task": "registry.scheduled_task_growth",
        "schedule": timedelta(days=1),
    },
}

#: Seconds between scheduled syncs instead of 6 hours (a staging registry, a test).
SYNC_INTERVAL_ENV = "REGISTRY_SYNC_INTERVAL"


def beat_schedule(environ: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """:data:`BEAT_SCHEDULE`, with the sync every ``$REGISTRY_SYNC_INTERVAL`` s if set."""
    env = os.environ if environ is None else environ
    interval = env.get(SYNC_INTERVAL_ENV, "").strip()
    if not interval:
        return BEAT_SCHEDULE
    sync = {**BEAT_SCHEDULE["sync-collections-every-6h"], "schedule": float(interval)}
    return {**BEAT_SCHEDULE, "sync-collections-every-6h": sync}


#: Environment knobs for tests and benchmarks (not needed in normal use).
VISIBILITY_TIMEOUT_ENV = "REGISTRY_VISIBILITY_TIMEOUT"
TIMINGS_FILE_ENV = "REGISTRY_TASK_TIMINGS"
#: The queue the registry's tasks go to and its workers consume (default ``celery``):
#: registries, test runs and benchmarks sharing one broker each use their own.
QUEUE_ENV = "REGISTRY_QUEUE"


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings for ``settings``: the transport, the results, and crash safety."""
    config: dict[str, Any] = {
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # A pool process that died is reported (and its task requeued) after 2 s
        # instead of Celery's 10 s wait for a result it might still have sent.
        "worker_lost_wait": 2.0,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_extended": False,
        "beat_schedule": beat_schedule(),
        "beat_schedule_filename": str(settings.home / "celerybeat-schedule"),
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
    }
    if os.environ.get(QUEUE_ENV):
        config["task_default_queue"] = os.environ[QUEUE_ENV]
    # A message delivered to a worker that dies goes to another after ``visibility`` s:
    # the embedded broker's default (60 s, its leases renewed while a worker lives), or
    # 3600 s on Redis, which has no renewal (keep it above the longest task there).
    chosen = os.environ.get(VISIBILITY_TIMEOUT_ENV)
    if settings.broker_url is None:
        options = {"visibility_timeout": float(chosen)} if chosen else {}
        # the home first: the broker's directory inherits its privacy and its checks
        config.update(embedded.embedded_config(private_home(settings.home) / "celery",
                                               **options))
        return config
    visibility = float(chosen or 3600)
    config["broker_url"] = settings.broker_url
    config["result_backend"] = settings.result_backend or settings.broker_url
    if settings.broker_url.startswith(("redis://", "rediss://")):
        # A message whose worker died is handed out again after ``visibility`` seconds;
        # the sweep for such messages runs every second instead of every 100 s.
        config["broker_transport_options"] = {
            "visibility_timeout": visibility,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        }
        config["result_backend_transport_options"] = {"visibility_timeout": visibility}
    return config


def configure(celery_app: Celery, settings: Settings) -> Celery:
    """Apply :func:`celery_config` to ``celery_app`` (before it sends anything)."""
    celery_app.conf.update(celery_config(settings))
    return celery_app


app = celery_safe.guard(Celery("registry", include=["registry.tasks", "registry.operations"]))
configure(app, load_settings())
# beat refuses to start while an entry names a missing task or takes wrong arguments
check_schedule_on_beat(app)
# workers and beat refuse to start on a deployment mistake (CSF4xx: a task held past the
# visibility timeout, acks_late that loses a killed worker's task, a route matching no
# task, an ignored priority). The visibility knob of the crash tests and benchmarks makes
# Redis redeliver what a live worker holds on purpose (every task is idempotent).
check_app_on_start(app, ignore=("CSF401",) if os.environ.get(VISIBILITY_TIMEOUT_ENV) else ())


def _record_timings(path: Path) -> None:
    """Append ``task-name<TAB>seconds`` per finished task to ``path`` (benchmarks read it)."""
    started: dict[str, float] = {}

    def on_prerun(task_id: str = "", **_: Any) -> None:
        started[task_id] = time.perf_counter()

    def on_postrun(task_id: str = "", task: Any = None, **_: Any) -> None:
        begin = started.pop(task_id, None)
        if begin is None:
            return
        line = f"{getattr(task, 'name', '?')}\t{time.perf_counter() - begin:.6f}\n"
        # One short O_APPEND write per line: lines from several processes never interleave.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    task_prerun.connect(on_prerun, weak=False, dispatch_uid="registry.timings.prerun")
    task_postrun.connect(on_postrun, weak=False, dispatch_uid="registry.timings.postrun")


if os.environ.get(TIMINGS_FILE_ENV):
    _record_timings(Path(os.environ[TIMINGS_FILE_ENV]))
