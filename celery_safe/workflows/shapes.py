"""Celery's canvas shapes as the validator, the renderer and the runner see them.

Celery normalises a chain when it runs it (``_chain.prepare_steps``): nested chains are
spliced in, a group of one task is that task, an empty group in the middle is skipped,
and a group followed by another step becomes a chord whose body is that step. These
helpers apply the same rules to any canvas, however it was built, so every consumer
agrees with what a worker will do.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from celery import Celery, current_app
from celery.canvas import Signature, _chain, _chord, group, maybe_signature

from ..canvas.check import normalized_steps

__all__ = [
    "app_of",
    "chain_steps",
    "chain_tasks",
    "chord_header",
    "group_members",
    "is_chain",
    "is_chord",
    "is_group",
    "link_errbacks",
    "links",
]


def is_chain(sig: Signature) -> bool:
    return isinstance(sig, _chain)


def is_group(sig: Signature) -> bool:
    return isinstance(sig, group)


def is_chord(sig: Signature) -> bool:
    return isinstance(sig, _chord)


def app_of(canvas: Signature, app: Celery | None = None) -> Celery:
    """The app that sends ``canvas``: ``app``, the canvas's own, or its first task's."""
    found: Any = app or canvas._app or canvas.app or current_app
    unwrap = getattr(found, "_get_current_object", None)  # current_app is a proxy
    resolved: Celery = unwrap() if callable(unwrap) else found
    return resolved


def _as_signature(value: Any, app: Celery | None) -> Signature:
    if isinstance(value, Signature):
        return value
    if isinstance(value, dict):
        converted: Signature = maybe_signature(value, app=app)
        return converted
    raise TypeError(f"expected a Celery signature, got {type(value).__name__}: {value!r}")


def group_members(sig: Signature, app: Celery | None = None) -> list[Signature]:
    """The tasks of a group, as signatures (a generator-backed group is read once)."""
    return [_as_signature(task, app) for task in sig.tasks]


def chord_header(sig: Signature, app: Celery | None = None) -> list[Signature]:
    """The header of a chord, as a list of signatures."""
    header = sig.tasks
    if isinstance(header, group):
        header = header.tasks
    if isinstance(header, Signature):
        return [header]
    return [_as_signature(task, app) for task in header or ()]


def chain_tasks(sig: Signature, app: Celery | None = None) -> list[Signature]:
    """The steps of a chain as written, as signatures."""
    return [_as_signature(task, app) for task in sig.tasks]


def chain_steps(sig: Signature, app: Celery | None = None) -> list[tuple[int, Signature]]:
    """The steps of a chain, with their index, as a worker runs them (see
    :func:`celery_safe.canvas.check.normalized_steps`)."""
    return normalized_steps(
        chain_tasks(sig, app), lambda step: group_members(step, app) if is_group(step) else None
    )


def _list_option(sig: Signature, key: str) -> list[Signature]:
    value = sig.options.get(key)
    if not value:
        return []
    if isinstance(value, dict):
        value = [value]
    return [_as_signature(item, sig._app) for item in value]


def links(sig: Signature) -> list[Signature]:
    """Callbacks run with the step's result (``link``)."""
    return _list_option(sig, "link")


def link_errbacks(sig: Signature) -> list[Signature]:
    """Callbacks run when the step fails (``link_error``)."""
    return _list_option(sig, "link_error")


def walk_tasks(sig: Signature, app: Celery | None = None) -> Iterator[Signature]:
    """Every task signature in a canvas, depth first (links and errbacks included)."""
    if isinstance(sig, _chord):
        for member in chord_header(sig, app):
            yield from walk_tasks(member, app)
        if sig.body is not None:
            yield from walk_tasks(_as_signature(sig.body, app), app)
    elif isinstance(sig, _chain):
        for _, step in chain_steps(sig, app):
            yield from walk_tasks(step, app)
    elif isinstance(sig, group):
        for member in group_members(sig, app):
            yield from walk_tasks(member, app)
    else:
        yield sig
    for callback in (*links(sig), *link_errbacks(sig)):
        yield from walk_tasks(callback, app)
