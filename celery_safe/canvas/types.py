"""Can what one step returns be what the next step's parameter expects? (CSF210)

Both front-ends give real type hints: the runtime from ``typing.get_type_hints`` on the
task's function, the linter by building the same hints from annotations it can read
(builtins, ``typing``, ``collections.abc`` and the project's classes). One verdict for
both: a mismatch is *definite* only when no part of the produced type fits — ``X | None``
into ``X`` fits in part, so it is not reported, and ``int`` fits ``float`` (the numeric
tower). ``Any``, type variables, and anything the subtype checker cannot read give no
verdict. Subtyping itself is ``beartype.door.is_subhint``, imported on first use.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["MISSING", "describe", "fits", "list_of", "union_of"]


class _Missing:
    """No annotation (or one that could not be read): nothing to compare."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

#: ``int`` is acceptable where ``float`` is, and both where ``complex`` is (PEP 484).
_TOWER = {float: (float, int), complex: (complex, float, int)}


def list_of(hint: Any) -> Any:
    """What a chord body or the step after a group receives: ``list[T]``."""
    return MISSING if hint is MISSING else list[hint]


def union_of(hints: Iterable[Any]) -> Any:
    """One type for what several members return (MISSING if any is unknown)."""
    collected = list(hints)
    if not collected or any(h is MISSING for h in collected):
        return MISSING
    unique = list(dict.fromkeys(collected))
    return unique[0] if len(unique) == 1 else typing.Union[tuple(unique)]  # noqa: UP007


def describe(hint: Any) -> str:
    """A hint as a message shows it, the same on both sides: ``list[str | None]``."""
    if hint is type(None) or hint is None:
        return "None"
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(describe(member) for member in args)
    if origin is not None and args:
        base = getattr(origin, "__name__", None) or repr(origin).replace("typing.", "")
        inner = ", ".join("..." if arg is Ellipsis else describe(arg) for arg in args)
        return f"{base}[{inner}]"
    if isinstance(hint, type):
        return hint.__qualname__
    return repr(hint).replace("typing.", "")


def fits(produced: Any, expected: Any) -> bool | None:
    """True when ``produced`` can be passed where ``expected`` is annotated, False when it
    definitely cannot, None when there is nothing to decide."""
    if produced is MISSING or expected is MISSING:
        return None
    try:
        return _verdicts[produced, expected]
    except KeyError:
        pass
    except TypeError:  # an unhashable hint: decided without the memo
        return _fits(produced, expected)
    if len(_verdicts) > 4096:  # the linter's stand-in classes are new per module
        _verdicts.clear()
    verdict = _verdicts[produced, expected] = _fits(produced, expected)
    return verdict


#: A workflow repeats the same few type pairs many times (a 1,000-link chain of one task).
_verdicts: dict[tuple[Any, Any], bool | None] = {}


def _fits(produced: Any, expected: Any) -> bool | None:
    if _opaque(produced) or _opaque(expected):
        return None
    try:
        from beartype.door import is_subhint
    except ImportError:  # pragma: no cover - a dependency of celery-safe
        return None
    target = _widened(expected)
    try:
        return any(is_subhint(_normal(part), target) for part in _alternatives(produced))
    except Exception:  # the checker cannot read this hint: no verdict
        return None


def _alternatives(hint: Any, limit: int = 64) -> list[Any]:
    """The union-free types ``hint`` may be: ``list[int | str]`` -> ``list[int]``,
    ``list[str]``. A value fits in part when one of them fits (capped; past the cap the
    hint stands as it is)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return [alt for member in args for alt in _alternatives(member, limit)][:limit]
    if origin is None or not args:
        return [hint]
    combos: list[tuple[Any, ...]] = [()]
    for arg in args:
        options = [arg] if arg is Ellipsis else _alternatives(arg, limit)
        combos = [(*combo, option) for combo in combos for option in options]
        if len(combos) > limit:
            return [hint]
    rebuilt = []
    for combo in combos:
        try:
            rebuilt.append(hint.copy_with(combo) if hasattr(hint, "copy_with") else origin[combo])
        except TypeError:
            return [hint]
    return rebuilt


def _opaque(hint: Any) -> bool:
    """``Any`` or a type variable anywhere: no definite verdict."""
    if hint is Any or isinstance(hint, typing.TypeVar):
        return True
    return any(_opaque(arg) for arg in typing.get_args(hint) if arg is not Ellipsis)


def _normal(hint: Any) -> Any:
    """``tuple[X, ...]`` as the sequence it is (the checker misses that relation)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
        return Sequence[args[0]]  # type: ignore[valid-type]
    return hint


def _widened(hint: Any) -> Any:
    """``hint`` with the numeric tower spelled out, however deep it sits."""
    if hint in _TOWER:
        return typing.Union[_TOWER[hint]]  # noqa: UP007
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is None or not args:
        return hint
    widened = tuple(arg if arg is Ellipsis else _widened(arg) for arg in args)
    if widened == args:
        return hint
    if origin in (typing.Union, types.UnionType):
        return typing.Union[widened]  # noqa: UP007
    try:
        return hint.copy_with(widened) if hasattr(hint, "copy_with") else origin[widened]
    except TypeError:
        return hint
