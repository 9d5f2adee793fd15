"""Static canvas shapes and what each link receives (CSF201/CSF202/CSF204).

A canvas built in the module (``a.s(1) | b.s()``, ``chain(...)``, ``chord(h, body)``)
is modelled as nested :class:`Sig`/:class:`Chain`/:class:`Group`/:class:`Chord`; a link
whose task is defined in this module is checked against its ``def``: the parent's
result is prepended unless the signature is immutable, a chord body receives one list.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from .index import FunctionInfo, Params

#: CSF204's ``{role}``, worded as the runtime validator words it.
ROLES = {
    "header": "is in a chord header: its result is never stored, so the body never runs",
    "body": "is a chord body: the chord's result is never stored",
}

__all__ = ["Canvas", "CanvasProblem", "Chain", "Chord", "Group", "Sig", "mismatch", "problems"]


@dataclass(frozen=True)
class Sig:
    """``task.s(*args, **kwargs)``; ``args``/``kwargs`` are ``None`` when not countable."""

    node: ast.expr
    label: str
    task: FunctionInfo | None
    args: int | None
    kwargs: frozenset[str] | None
    immutable: bool = False


@dataclass(frozen=True)
class Chain:
    steps: tuple[Canvas | None, ...]


@dataclass(frozen=True)
class Group:
    members: tuple[Canvas | None, ...]


@dataclass(frozen=True)
class Chord:
    header: Group
    body: Canvas | None


Canvas = Sig | Chain | Group | Chord


@dataclass(frozen=True)
class CanvasProblem:
    code: str  # CSF201, CSF202 or CSF204
    sig: Sig
    facts: dict[str, str]


def mismatch(params: Params, npos: int, keywords: frozenset[str] | None) -> str | None:
    """Why ``params`` cannot bind ``npos`` positional arguments and ``keywords``, or None.

    Python's own binding rules (``inspect.Signature.bind``); ``keywords=None`` means
    the keywords are not known (``**options``) and only positional counts are checked.
    """
    names = [name for name, _ in params.positional]
    if npos > len(names) and not params.varargs:
        return f"takes at most {len(names)} positional argument(s)"
    if keywords is None:
        return None
    posonly = set(names[: params.positional_only])
    for name in names[:npos]:
        if name in keywords and name not in posonly:
            return f"would get {name} twice (by position and by keyword)"
    known = set(names) - posonly | {name for name, _ in params.keyword_only}
    unexpected = sorted(k for k in keywords if k not in known)
    if unexpected and not params.varkw:
        return "takes no keyword " + ", ".join(unexpected)
    missing = [
        name
        for i, (name, default) in enumerate(params.positional)
        if i >= npos and not default and (name in posonly or name not in keywords)
    ]
    missing += [
        name for name, default in params.keyword_only if not default and name not in keywords
    ]
    if missing:
        return "would miss " + ", ".join(missing)
    return None


def _received(sig: Sig, prepended: int) -> str:
    given = sig.args or 0
    parts = []
    if prepended:
        parts.append("the parent's result" if prepended == 1 else f"{prepended} results")
    if given:
        parts.append(f"{given} bound argument(s)")
    return " + ".join(parts) or "no arguments"


def _check_sig(sig: Sig, prepended: int, code: str) -> Iterator[CanvasProblem]:
    task = sig.task
    if task is None or task.task is None or not task.task.typing or sig.args is None:
        return
    received = 0 if sig.immutable else prepended
    if not received:
        return  # not the parent's fault: a plain call mismatch is Celery's TypeError
    params = task.params()
    why = mismatch(params, sig.args + received, sig.kwargs)
    if why is not None:
        yield CanvasProblem(
            code,
            sig,
            {
                "step": f"`{sig.label}`",
                "task": task.name,
                "received": _received(sig, received),
                "source": "the chord header",
                "reason": f"{task.name}{params.describe()} {why}",
            },
        )


def _ignore_result(node: Canvas | None, role: str) -> Iterator[CanvasProblem]:
    for sig in _sigs(node):
        if sig.task is not None and sig.task.task is not None and sig.task.task.ignore_result:
            yield CanvasProblem("CSF204", sig, {"step": f"`{sig.label}`", "role": ROLES[role]})


def _sigs(node: Canvas | None) -> Iterator[Sig]:
    if isinstance(node, Sig):
        yield node
    elif isinstance(node, Chain):
        for step in node.steps:
            yield from _sigs(step)
    elif isinstance(node, Group):
        for member in node.members:
            yield from _sigs(member)
    elif isinstance(node, Chord):
        yield from _sigs(node.header)
        yield from _sigs(node.body)


def _last(node: Canvas | None) -> Canvas | None:
    while isinstance(node, Chain) and node.steps:
        node = node.steps[-1]
    return node


def problems(
    node: Canvas | None, prepended: int = 0, code: str = "CSF201"
) -> Iterator[CanvasProblem]:
    """Every problem in ``node`` when it receives ``prepended`` positional values."""
    if isinstance(node, Sig):
        yield from _check_sig(node, prepended, code)
    elif isinstance(node, Group):
        for member in node.members:
            yield from problems(member, prepended, code)
    elif isinstance(node, Chord):
        yield from _chord(node.header, node.body, prepended)
    elif isinstance(node, Chain):
        previous: Canvas | None = None
        for i, step in enumerate(node.steps):
            if i == 0:
                yield from problems(step, prepended, code)
            elif isinstance(_last(previous), Group):
                header = _last(previous)
                assert isinstance(header, Group)
                yield from _chord(header, step, None)
            else:
                yield from problems(step, 1)
            previous = step


def _chord(header: Group, body: Canvas | None, prepended: int | None) -> Iterator[CanvasProblem]:
    if prepended is not None:
        yield from problems(header, prepended)
    yield from problems(body, 1, "CSF202")
    yield from _ignore_result(header, "header")
    yield from _ignore_result(body, "body")
