"""Workflows for the `celery-safe graph` tests: a canvas, a builder function, a broken one."""

from __future__ import annotations

from celery import canvas as celery_canvas
from celery.canvas import Signature
from wf_tasks import make_app

from celery_safe.workflows import chain, map_reduce

tasks = make_app()

fixed = chain(
    tasks.store_yaml_data_task.s(),
    tasks.clone_repositories_task.si(["core"]),
    tasks.parse_stored_data_task.si(),
)

# Built with Celery's own chain: the mistake is in the canvas, the graph command finds it.
broken = celery_canvas.chain(
    tasks.store_yaml_data_task.s(),
    tasks.clone_repositories_task.s(["core"]),
    tasks.parse_stored_data_task.s(),
)

NOT_A_CANVAS = 42


def build_fanout() -> Signature:
    return map_reduce(tasks.inc.s(), [1, 2, 3], tasks.tsum.s())
