"""Checked by mypy --strict in test_typing.py (never imported by pytest).

Each ``# type: ignore[code]`` line must be an error: under --strict an unneeded
ignore is itself an error, so a wrongly permissive ``.logic`` fails the check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from celery import Celery

import celery_safe

app = Celery("typing")


@contextlib.contextmanager
def session() -> Iterator[list[str]]:
    yield []


@celery_safe.task(app)
def add(x: int, y: int) -> int:
    return x + y


@celery_safe.task
def bare(name: str) -> str:
    return name


@celery_safe.task()
def empty(flag: bool) -> bool:
    return flag


@celery_safe.task(app, name="proj.opts", autoretry_for=(KeyError,), max_retries=3)
def with_options(count: int) -> list[int]:
    return [count]


@celery_safe.task(app, bind=True)
def bound(self: Any, item: str) -> int:
    return len(item)


@celery_safe.task(app, resources={"db": session})
def store(item: str, *, db: list[str]) -> None:
    db.append(item)


total: int = add.logic(1, 2)
named: str = bare.logic("x")
flag: bool = empty.logic(True)
counts: list[int] = with_options.logic(3)
length: int = bound.logic("abc")  # ``self`` is bound: not passed
store.logic("a", db=[])

add.logic("1", 2)  # type: ignore[arg-type]
wrong: str = add.logic(1, 2)  # type: ignore[assignment]
bare.logic()  # type: ignore[call-arg]
bound.logic(None, "abc")  # type: ignore[arg-type, call-arg]
store.logic("a")  # type: ignore[call-arg]

# The Celery side stays a Celery task.
add.delay(1, 2)
add.apply_async((1, 2), countdown=1)
signature = add.s(1) | add.s()  # noqa: CSF205 (deliberate)
task_name: str = add.name
