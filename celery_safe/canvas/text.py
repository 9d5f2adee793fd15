"""How a problem names tasks and values: short, and the same on both front-ends."""

from __future__ import annotations

import reprlib
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["SourceText", "short_call", "short_name", "short_value"]


class SourceText(str):
    """An argument as written in the source (the linter's view): shown as written."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


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
    name: str, args: Sequence[Any], kwargs: Mapping[str, Any] | None, leading: Sequence[str] = ()
) -> str:
    """``add(<result>, 2, scale=1.5)``: a call written short enough for a message or a graph."""
    parts = [*leading, *(_repr.repr(arg) for arg in args)]
    if kwargs is None:
        parts.append("**...")
    else:
        parts += [f"{key}={_repr.repr(value)}" for key, value in kwargs.items()]
    return f"{short_name(name)}({', '.join(parts)})"
