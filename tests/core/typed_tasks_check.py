"""Checked by mypy --strict AND pyright in test_typing.py (never imported by pytest).

Every ``# type: ignore`` line must be an error for both checkers: each runs with unused
ignores reported as errors, so a wrongly permissive ``.delay``/``.si`` fails the check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from celery import Celery

import celery_safe

app = Celery("typed")


@contextlib.contextmanager
def session() -> Iterator[list[str]]:
    yield []


@celery_safe.task(app)
def store(items: list[str], *, tag: str = "") -> int:
    return len(items)


@celery_safe.task(app, bind=True)
def bound(self: Any, count: int) -> int:
    return count


@celery_safe.task(app, resources={"db": session})
def with_db(item: str, *, db: list[str]) -> None:
    db.append(item)


store.delay(["a"])
store.delay(["a"], tag="x")
store.si(["a"])
bound.delay(3)
bound.si(3)
with_db.delay("a")  # resources are hidden: a task with them is not typed by them
store.s()  # a prefix of the parameters: not typed
store.apply_async((["a"],), countdown=1)

store.delay(1, "x")  # type: ignore  # noqa: CSF205
store.delay(["a"], colour="x")  # type: ignore  # noqa: CSF205
store.si(1)  # type: ignore
bound.delay("three")  # type: ignore
