"""celery-safe: Celery workflows that are safe by construction.

    app = Celery("proj")
    celery_safe.guard(app)                 # joins inside tasks now always raise

    @celery_safe.task(app, resources={"db": Session})
    def store(items, *, db): ...

    store.delay(items)                     # a normal Celery task
    store.logic(items, db=db)              # the plain function, in-process
"""

from __future__ import annotations

from .guard import JoinInTaskError, current_guarded_task, guard, is_guarded
from .resources import ResourceError, ResourceFactory
from .states import report_failure, report_progress
from .tasks import SafeTask, task, task_logic, task_resources

__all__ = [
    "JoinInTaskError",
    "ResourceError",
    "ResourceFactory",
    "SafeTask",
    "current_guarded_task",
    "guard",
    "is_guarded",
    "report_failure",
    "report_progress",
    "task",
    "task_logic",
    "task_resources",
]

__version__ = "0.1.0"
