"""The legacy registry's Celery app: Redis broker and backend, every task module included."""

import os

from celery import Celery

app = Celery(
    "legacy_registry",
    broker=os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
    backend=os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
    include=[
        "legacy.registry_tasks",
        "legacy.enhancement_tasks",
        "legacy.workflow_tasks",
        "legacy.health_tasks",
    ],
)

app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_track_started=True,
    task_time_limit=3600,
    beat_schedule={
        "sync-collections": {"task": "legacy.workflow_tasks.sync_all_collections_task",
                             "schedule": 6 * 3600.0},
        "health-check": {"task": "legacy.health_tasks.health_check_task", "schedule": 300.0},
    },
)
