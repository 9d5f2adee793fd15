"""A guarded app on the embedded default, for worker subprocesses (``celery -A embedded_app``)."""

from __future__ import annotations

import os

from celery import Celery

import celery_safe
import celery_safe.embedded

app = celery_safe.embedded.configure(Celery("embedded_app"), os.environ["EMBEDDED_TEST_DIR"])
celery_safe.guard(app)


@celery_safe.task(app)
def add(x: int, y: int) -> int:
    return x + y


@celery_safe.task(app)
def total(values: list[int]) -> int:
    return sum(values)


@celery_safe.task(app)
def joins(x: int) -> int:
    result: int = add.delay(x, 1).get(timeout=10)  # noqa: CSF101 (deliberate)
    return result
