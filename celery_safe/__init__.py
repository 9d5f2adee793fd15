"""celery-safe: Celery workflows that are safe by construction.

    app = Celery("proj")
    celery_safe.guard(app)                 # joins inside tasks now always raise

    @celery_safe.task(app, resources={"db": Session})
    def store(items, *, db): ...

    store.delay(items)                     # a normal Celery task
    store.logic(items, db=db)              # the plain function, in-process

Names load on first use (PEP 562): ``import celery_safe.lint`` inside flake8 does not
pay for importing Celery's app machinery that only the runtime needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .celery_internals import CeleryInternalsError
    from .join_guard import JoinInTaskError, current_guarded_task, guard, is_guarded
    from .resources import ResourceError, ResourceFactory
    from .states import report_failure, report_progress
    from .tasks import SafeTask, task, task_logic, task_resources

#: public name -> the submodule defining it
_EXPORTS = {
    "CeleryInternalsError": "celery_internals",
    "JoinInTaskError": "join_guard",
    "ResourceError": "resources",
    "ResourceFactory": "resources",
    "SafeTask": "tasks",
    "current_guarded_task": "join_guard",
    "guard": "join_guard",
    "is_guarded": "join_guard",
    "report_failure": "states",
    "report_progress": "states",
    "task": "tasks",
    "task_logic": "tasks",
    "task_resources": "tasks",
}

__all__ = [
    "CeleryInternalsError",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'celery_safe' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
