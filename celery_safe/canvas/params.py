"""What a task accepts, reduced to what argument binding needs, and checked in a few steps.

One :class:`Params` serves both front-ends of the canvas model: the runtime reads it
from the callable Celery will call (:meth:`Params.from_signature`), the linter from the
``def`` in the source (:meth:`Params.from_ast`). Both render the same ``text`` and give
the same reasons, so a problem reads the same wherever it was found.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

from .types import MISSING

__all__ = ["Params"]

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
    #: the annotation of each positional parameter (``types.MISSING`` where there is
    #: none or it cannot be read), for CSF210
    hints: tuple[object, ...] = ()

    def hint(self, position: int) -> object:
        """The annotation of the ``position``-th positional parameter."""
        return self.hints[position] if position < len(self.hints) else MISSING

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

    @classmethod
    def from_ast(
        cls,
        args: ast.arguments,
        hidden: Collection[str] = (),
        drop_first: bool = False,
        hint_of: Any = None,
    ) -> Params:
        """The parameters of a ``def`` as Celery calls it: without ``self`` for a bound
        task or a method (``drop_first``), without ``hidden`` ones (resources).
        ``hint_of`` turns an annotation into a type hint (or ``MISSING``)."""
        plain = [*args.posonlyargs, *args.args]
        if drop_first and plain:
            plain = plain[1:]
        first_default = len([*args.posonlyargs, *args.args]) - len(args.defaults) - drop_first
        annotated = [
            (
                a.arg,
                args.defaults[i - first_default] if i >= first_default else None,
                i < len(args.posonlyargs) - drop_first,
                a.annotation,
            )
            for i, a in enumerate(plain)
            if a.arg not in hidden
        ]
        entries = [(name, default, posonly) for name, default, posonly, _ in annotated]
        kwonly = [
            (a.arg, default)
            for a, default in zip(args.kwonlyargs, args.kw_defaults, strict=True)
            if a.arg not in hidden
        ]
        positional_only = sum(1 for _, _, posonly in entries if posonly)
        text = _ast_text(entries, positional_only, args.vararg, kwonly, args.kwarg)
        return cls(
            positional=tuple(name for name, _, _ in entries),
            positional_only=positional_only,
            required_positional=sum(1 for _, default, _ in entries if default is None),
            varargs=args.vararg is not None,
            keyword_only=frozenset(name for name, _ in kwonly),
            required_keyword_only=frozenset(name for name, default in kwonly if default is None),
            varkw=args.kwarg is not None,
            text=text,
            hints=tuple(
                hint_of(annotation) if hint_of is not None and annotation is not None else MISSING
                for _, _, _, annotation in annotated
            ),
        )

    def with_hints(self, hints: dict[str, object]) -> Params:
        """These parameters with the annotations ``hints`` gives by name."""
        return replace(self, hints=tuple(hints.get(name, MISSING) for name in self.positional))

    def mismatch(self, npositional: int, keywords: Collection[str] | None = ()) -> str | None:
        """Why a call with ``npositional`` arguments and ``keywords`` fails (None if it binds).

        ``keywords=None`` means the keywords are not known (``**options`` in the source):
        only the positional count is checked.
        """
        most = len(self.positional)
        if keywords is None:
            return _too_many(npositional, most) if npositional > most and not self.varargs else None
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


def _ast_text(
    entries: list[tuple[str, ast.expr | None, bool]],
    positional_only: int,
    vararg: ast.arg | None,
    kwonly: list[tuple[str, ast.expr | None]],
    kwarg: ast.arg | None,
) -> str:
    """The same text :func:`_plain_text` gives, written from the source."""

    def show(name: str, default: ast.expr | None) -> str:
        return name if default is None else f"{name}={ast.unparse(default)}"

    parts = [show(name, default) for name, default, _ in entries]
    if positional_only:
        parts.insert(positional_only, "/")
    if vararg is not None:
        parts.append(f"*{vararg.arg}")
    elif kwonly:
        parts.append("*")
    parts += [show(name, default) for name, default in kwonly]
    if kwarg is not None:
        parts.append(f"**{kwarg.arg}")
    return "(" + ", ".join(parts) + ")"


def _missing(names: Collection[str]) -> str:
    listed = ", ".join(repr(name) for name in names)
    return f"missing required argument{'s' if len(names) > 1 else ''} {listed}"


def _too_many(given: int, most: int) -> str:
    return f"{given} positional argument{'s' if given != 1 else ''} given, at most {most} accepted"
