"""Fan a task out over items, then call a callback with the list of results.

    map_reduce(price.s(currency="EUR"), ids, total.s())
    # == chord([price.s(i, currency="EUR") for i in ids], total.s()), validated

An empty ``items`` still calls the callback, with ``[]``: Celery 5.7's chord sends the
body with an empty list when its header is empty (older Celery left it waiting forever),
and the in-process runner does the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery import Celery
from celery.canvas import Signature

from .builders import chord

__all__ = ["map_reduce"]


def _as_signature(task: Any, role: str) -> Signature:
    if isinstance(task, Signature):
        return task
    make = getattr(task, "s", None)
    if callable(make):
        sig: Signature = make()
        return sig
    raise TypeError(f"map_reduce(): {role} must be a task or a signature, got {task!r}")


def map_reduce(
    task: Any, items: Iterable[Any], callback: Any, *, app: Celery | None = None
) -> Signature:
    """A validated chord: ``task`` once per item (the item prepended), then ``callback(list)``."""
    mapper = _as_signature(task, "task")
    reducer = _as_signature(callback, "callback")
    if mapper.immutable:
        raise ValueError(
            f"map_reduce(): {mapper.task} is immutable (.si()), so it would ignore every item;"
            " pass a mutable signature (.s())"
        )
    header = [mapper.clone(args=(item,)) for item in items]
    options: dict[str, Any] = {"app": app} if app is not None else {}
    return chord(header, reducer, **options)
