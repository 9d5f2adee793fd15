"""How Celery composes canvases: ``a | b`` and ``chain(a, b, c)``, over the model.

Celery reshapes a canvas as it is built: ``chain(x, y, z)`` is ``x | y | z``, a group
followed by a task becomes a chord, a task piped into a chord joins its body, and a
group of one task is that task. At runtime Celery has already done this to the
objects the validator sees; the linter sees source, so it composes the model with the
same rules (Celery's ``__or__`` operators, per Celery version: ``celery``, the installed
one by default) to check the canvas Celery will run.
An unknown piece (``None``) composes like a task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..celery_internals import chain_or_chain_folds
from .model import Chain, Chord, Group, Node

__all__ = ["chord_header", "fold_chain", "group_of", "pipe"]


Version = tuple[int, int, int] | None


def fold_chain(
    items: Sequence[Node | None], origin: Any = None, *, listed: bool = False,
    celery: Version = None,
) -> Node | None:
    """``chain(*items)`` (``listed``: ``chain([...])``): Celery folds the items with ``|``,
    starting from an empty chain; one item not in a list is kept as it is."""
    if len(items) == 1 and not listed:
        return Chain(origin=origin, steps=tuple(items))
    result: Node | None = Chain(origin=origin)
    for item in items:
        result = pipe(result, item, origin, celery=celery)
    return result


def group_of(members: Sequence[Node | None], origin: Any = None, *, exact: bool = True) -> Group:
    """``group(*members)``: a single group argument gives its own members."""
    if len(members) == 1 and isinstance(members[0], Group):
        inner = members[0]
        return Group(origin=origin, members=inner.members, exact=inner.exact)
    return Group(origin=origin, members=tuple(members), exact=exact)


def chord_header(header: Node | None, origin: Any = None) -> Group | None:
    """A chord's header: a group's or a chain's tasks, or one signature (None: unknown)."""
    if isinstance(header, Group):
        return header
    if isinstance(header, Chain):
        return Group(origin=origin, members=header.steps)
    if header is None:
        return None
    return Group(origin=origin, members=(header,))


def pipe(
    left: Node | None, right: Node | None, origin: Any = None, *, celery: Version = None
) -> Node | None:
    """``left | right`` as Celery ``celery`` builds it."""
    if isinstance(left, Chord):
        return _chord_or(left, right, origin, celery)
    if isinstance(left, Chain):
        return _chain_or(left, right, origin, celery)
    if isinstance(left, Group):
        if _is_empty(right):
            return left
        return Chord(origin=origin, header=left, body=right)
    # a task (or an unknown piece)
    if isinstance(right, Chain):
        return Chain(origin=origin, steps=(left, *right.steps))
    return Chain(origin=origin, steps=(left, _unroll(right)))


def _chain_or(left: Chain, right: Node | None, origin: Any, celery: Version) -> Node | None:
    if _is_empty(right):
        return left
    steps = list(left.steps)
    if isinstance(right, Group):
        unrolled = _unroll(right)
        if not isinstance(unrolled, Group):
            return _chain_or(left, unrolled, origin, celery)
        if not steps:
            return unrolled
        last = steps[-1]
        if isinstance(last, Chord):
            steps[-1] = replace(last, body=pipe(last.body, unrolled, origin, celery=celery))
        else:
            steps.append(unrolled)
        return replace(left, origin=origin, steps=tuple(steps))
    if isinstance(right, Chain):
        if not chain_or_chain_folds(celery):  # before 5.5: the task lists are concatenated
            return replace(left, origin=origin, steps=(*steps, *right.steps))
        result: Node | None = left
        for step in right.steps:
            result = pipe(result, step, origin, celery=celery)
        return result
    last = steps[-1] if steps else None
    if isinstance(last, Group):
        # CHAIN [group] | TASK -> the group and the task become a chord; a chord right
        # before it absorbs that chord into its body.
        steps[-1] = Chord(origin=origin, header=last, body=right)
        if len(steps) > 1 and isinstance(steps[-2], Chord):
            before = steps[-2]
            steps[-2] = replace(before, body=pipe(before.body, steps[-1], origin, celery=celery))
            steps.pop()
    elif isinstance(last, Chord) and not isinstance(right, Chord):
        steps[-1] = replace(last, body=pipe(last.body, right, origin, celery=celery))
    else:
        steps.append(right)
    return replace(left, origin=origin, steps=tuple(steps))


def _chord_or(left: Chord, right: Node | None, origin: Any, celery: Version) -> Node | None:
    if not isinstance(right, (Group, Chain)):
        body = right if left.body is None else pipe(left.body, right, origin, celery=celery)
        return replace(left, body=body)
    if isinstance(right, Group) and right.exact and len(right.members) == 1:
        member = right.members[0]
        body = member if left.body is None else pipe(left.body, member, origin, celery=celery)
        return replace(left, body=body)
    if isinstance(right, Chain):
        return Chain(origin=origin, steps=(left, *right.steps))
    return Chain(origin=origin, steps=(left, _unroll(right)))


def _unroll(node: Node | None) -> Node | None:
    """A group of exactly one member is that member (Celery's ``maybe_unroll_group``)."""
    if isinstance(node, Group) and node.exact and len(node.members) == 1:
        return node.members[0]
    return node


def _is_empty(node: Node | None) -> bool:
    return isinstance(node, Group) and node.exact and not node.members
