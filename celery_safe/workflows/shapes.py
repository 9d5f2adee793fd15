"""Celery's canvas shapes as the validator, the renderer and the runner see them.

Celery normalises a chain when it runs it (``_chain.prepare_steps``): nested chains are
spliced in, a group of one task is that task, an empty group in the middle is skipped,
and a group followed by another step becomes a chord whose body is that step. These
helpers apply the same rules to any canvas, however it was built, so every consumer
agrees with what a worker will do.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator, Sequence
from typing import Any

from celery import Celery, current_app
from celery.canvas import Signature, _chain, _chord, group, maybe_signature

__all__ = [
    "app_of",
    "chain_steps",
    "chord_header",
    "group_members",
    "is_chain",
    "is_chord",
    "is_group",
    "link_errbacks",
    "links",
    "short_call",
    "short_name",
    "short_value",
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


def chain_steps(sig: Signature, app: Celery | None = None) -> list[tuple[int, Signature]]:
    """The steps of a chain, with their index, as a worker runs them.

    Single-task groups are unrolled and empty groups before another step are skipped
    (Celery's ``prepare_steps``). Nested chains stay as they are: the caller descends
    into them, keeping the positions the user wrote.
    """
    raw = [_as_signature(task, app) for task in sig.tasks]
    steps: list[tuple[int, Signature]] = []
    for index, step in enumerate(raw):
        if isinstance(step, group):
            members = group_members(step, app)
            if len(members) == 1:
                step = members[0]
            elif not members and (steps or index < len(raw) - 1):
                continue
        steps.append((index, step))
    return steps


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


def short_name(task_name: str) -> str:
    """``registry.tasks.clone_repositories_task`` -> ``clone_repositories_task``."""
    return task_name.rpartition(".")[2] or task_name


_repr = reprlib.Repr()
_repr.maxstring = 24
_repr.maxother = 24
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxdict = 3
_repr.maxlevel = 2


def short_value(value: Any) -> str:
    """A value's repr, cut short."""
    text: str = _repr.repr(value)
    return text


def short_call(
    name: str, args: Sequence[Any], kwargs: dict[str, Any], leading: Sequence[str] = ()
) -> str:
    """``add(<result>, 2, scale=1.5)``: a call written short enough for a message or a graph."""
    parts = [*leading, *(_repr.repr(arg) for arg in args)]
    parts += [f"{key}={_repr.repr(value)}" for key, value in kwargs.items()]
    return f"{short_name(name)}({', '.join(parts)})"


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
