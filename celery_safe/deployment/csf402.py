"""CSF402: ``acks_late`` without ``reject_on_worker_lost``.

A task whose pool process dies (SIGKILL from the OOM killer, a segfault) fails with
``WorkerLostError``; unless ``reject_on_worker_lost`` (or, on Celery 5.7,
``retry_on_worker_lost``) is set, the worker then acknowledges its message — or drops
it, with ``acks_on_failure_or_timeout=False`` — and nothing runs it again. That is the
opposite of what ``acks_late`` is chosen for (measured on Celery 5.3-5.7 by
``tests/workflows/test_wf_deploy_measure.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..canvas.problems import Problem
from .examples import EXAMPLES
from .registry import rule
from .view import AppView


@rule("CSF402", invalid=EXAMPLES["CSF402"].invalid, valid=EXAMPLES["CSF402"].valid)
def acks_late_lost_with_worker(view: AppView) -> Iterator[Problem]:
    for name, task in view.tasks.items():
        if not getattr(task, "acks_late", False):
            continue
        if getattr(task, "reject_on_worker_lost", False) or getattr(
            task, "retry_on_worker_lost", False
        ):
            continue
        app_wide = task.acks_late == view.conf.task_acks_late
        source = "task_acks_late" if app_wide else "acks_late=True"
        yield Problem.make("CSF402", ("tasks", name), name, {"source": source})
