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
    # deployment mistakes (`celery-safe check-app legacy.celery_app:app`, see README.md):
    # a crashed worker's tasks come back after 30 min instead of an hour...
    broker_transport_options={"visibility_timeout": 1800},
    task_annotations={
        # ...but the enhancement, acknowledged late, may run for the hour of task_time_limit
        # (CSF401), and is lost when its worker is OOM-killed (CSF402)
        "legacy.enhancement_tasks.enhance_codebundle_task": {"acks_late": True},
    },
    task_routes={
        # a typo: the task goes to the default queue, not "enhance" (CSF403)
        "legacy.enhancement_tasks.enhance_pending_codebundle_task": {"queue": "enhance"},
        # priority 1 is on Redis's step 0 with every other task's 0 (CSF404)
        "legacy.health_tasks.health_check_task": {"priority": 1},
    },
    beat_schedule={
        "sync-collections": {"task": "legacy.workflow_tasks.sync_all_collections_task",
                             "schedule": 6 * 3600.0},
        "health-check": {"task": "legacy.health_tasks.health_check_task", "schedule": 300.0},
    },
)
