"""What a task accepts, read once per task object and checked in a few integer steps.

``inspect.signature`` costs tens of microseconds; a 10,000-signature chord of one task
must not pay it 10,000 times. :func:`params_of` reads the task's ``run`` (Celery's own
view of the call: ``bind=True`` drops ``self``, ``celery_safe.task`` hides resources
through ``__signature__``) once and caches a :class:`Params` per task object.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Collection
from dataclasses import dataclass
from functools import partial
from typing import Any

__all__ = ["Params", "errback_style", "params_of"]

_KINDS = inspect.Parameter


@dataclass(frozen=True)
class Params:
    """The parameters of a callable, reduced to what argument binding needs."""

    positional: tuple[str, ...]
    positional_only: int
    required_positional: int
    varargs: bool
    keyword_only: frozenset[str]
    required_keyword_only: frozenset[str]
    varkw: bool
    text: str

    @classmethod
    def from_signature(cls, signature: inspect.Signature) -> Params:
        positional: list[str] = []
        positional_only = required = 0
        keyword_only: set[str] = set()
        required_kw: set[str] = set()
        varargs = varkw = False
        for parameter in signature.parameters.values():
            kind = parameter.kind
            has_default = parameter.default is not _KINDS.empty
            if kind in (_KINDS.POSITIONAL_ONLY, _KINDS.POSITIONAL_OR_KEYWORD):
                positional.append(parameter.name)
                positional_only += kind is _KINDS.POSITIONAL_ONLY
                required += not has_default
            elif kind is _KINDS.VAR_POSITIONAL:
                varargs = True
            elif kind is _KINDS.KEYWORD_ONLY:
                keyword_only.add(parameter.name)
                if not has_default:
                    required_kw.add(parameter.name)
            else:
                varkw = True
        return cls(
            positional=tuple(positional),
            positional_only=positional_only,
            required_positional=required,
            varargs=varargs,
            keyword_only=frozenset(keyword_only),
            required_keyword_only=frozenset(required_kw),
            varkw=varkw,
            text=_plain_text(signature),
        )

    def mismatch(self, npositional: int, keywords: Collection[str] = ()) -> str | None:
        """Why a call with ``npositional`` arguments and ``keywords`` fails (None if it binds)."""
        most = len(self.positional)
        if not keywords and not self.required_keyword_only:
            # The common case: positional arguments only.
            if npositional < self.required_positional:
                return _missing(self.positional[npositional : self.required_positional])
            if npositional > most and not self.varargs:
                return _too_many(npositional, most)
            return None
        if npositional > most and not self.varargs:
            return _too_many(npositional, most)
        filled = self.positional[:npositional]
        for name in keywords:
            if name in filled and self.positional.index(name) >= self.positional_only:
                return f"got multiple values for argument {name!r}"
            by_keyword = name in self.positional[max(npositional, self.positional_only) :]
            if not (by_keyword or name in self.keyword_only or self.varkw):
                return f"got an unexpected keyword argument {name!r}"
        missing = [
            name
            for index, name in enumerate(self.positional[: self.required_positional])
            if index >= npositional and (index < self.positional_only or name not in keywords)
        ]
        missing += sorted(self.required_keyword_only.difference(keywords))
        return _missing(missing) if missing else None


def _plain_text(signature: inspect.Signature) -> str:
    """``(x, y=0, *, factor)``: the parameters without annotations, as a message shows them."""
    bare = [p.replace(annotation=_KINDS.empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=bare, return_annotation=inspect.Signature.empty))


def _missing(names: Collection[str]) -> str:
    listed = ", ".join(repr(name) for name in names)
    return f"missing required argument{'s' if len(names) > 1 else ''} {listed}"


def _too_many(given: int, most: int) -> str:
    return f"{given} positional argument{'s' if given != 1 else ''} given, at most {most} accepted"


_cache: weakref.WeakKeyDictionary[Any, Params | None] = weakref.WeakKeyDictionary()
_errback_cache: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def params_of(task: Any) -> Params | None:
    """The parameters Celery calls ``task`` with (None when they cannot be read)."""
    try:
        return _cache[task]
    except KeyError:
        pass
    try:
        params: Params | None = Params.from_signature(inspect.signature(task.run))
    except (AttributeError, TypeError, ValueError):
        params = None
    _cache[task] = params
    return params


def errback_style(task: Any) -> bool:
    """True when Celery calls ``task`` as ``(request, exc, traceback)`` on failure.

    Celery's rule (``celery.backends.base``): a task whose generated ``__header__``
    takes more than one positional argument, and is not bound, gets the request, the
    exception and the traceback; any other is sent as a task with the failed task's id.
    """
    try:
        return _errback_cache[task]
    except KeyError:
        pass
    header = getattr(task, "__header__", None)
    new_style = False
    if header is not None and not isinstance(header, partial):
        try:
            spec = inspect.getfullargspec(header)
            new_style = bool(spec.varargs) or len(spec.args) > 1
        except TypeError:
            new_style = False
    _errback_cache[task] = new_style
    return new_style
