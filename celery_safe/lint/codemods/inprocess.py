"""How ``task.delay(...).get()`` and friends become one in-process call.

``plan_call`` reads the call that started the task (``delay``, ``apply_async``,
``apply``, optionally on a ``.s(...)``/``.si(...)`` signature) and the join
(``get``/``wait``), maps every argument form onto a plain call, and sorts every
option into "means nothing in-process" (dropped, and said so in a comment) or
"changes what happens" (the rewrite is refused, with the reason).

Why each dropped option is safe, by Celery's documented meaning:

- ``countdown``/``eta``/``expires`` delay or bound *when* a worker may start the task;
  the caller waited for it anyway, in-process it simply runs now.
- ``queue``/``routing_key``/``exchange``/``priority`` route the message; there is none.
- ``serializer``/``compression``/``retry``/``retry_policy``/``shadow``/``add_to_parent``
  shape or publish the message; there is none.
- ``time_limit``/``soft_time_limit`` are enforced by the worker on the child task; the
  call now runs inside the calling task, under the calling task's limits.
- ``timeout``/``interval``/``no_ack``/``disable_sync_subtasks`` of the join govern
  waiting and polling; an in-process call returns when done, nothing is polled.
- ``propagate=True`` (the default) and ``apply(throw=...)``: a call raises anyway.
"""

from __future__ import annotations

import keyword
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m

from .report import Refusal

__all__ = [
    "DISPATCH_METHODS",
    "JOIN_METHODS",
    "InProcessCall",
    "Refusal",
    "is_pure",
    "plan_call",
    "split_origin",
]

DISPATCH_METHODS = frozenset({"delay", "apply_async", "apply"})
SIGNATURE_METHODS = frozenset({"s", "si"})
JOIN_METHODS = frozenset({"get", "wait"})

_NOW = "runs now"
_MESSAGE = "no message in-process"
_LIMITS = "the caller's limits apply"
_WAIT = "nothing to wait for"
_RAISES = "a call raises anyway"

DROPPED_DISPATCH_OPTIONS: dict[str, str] = {
    "countdown": _NOW,
    "eta": _NOW,
    "expires": _NOW,
    "queue": _MESSAGE,
    "routing_key": _MESSAGE,
    "exchange": _MESSAGE,
    "priority": _MESSAGE,
    "serializer": _MESSAGE,
    "compression": _MESSAGE,
    "retry": _MESSAGE,
    "retry_policy": _MESSAGE,
    "shadow": _MESSAGE,
    "add_to_parent": _MESSAGE,
    "ignore_result": "the value is returned directly",
    "time_limit": _LIMITS,
    "soft_time_limit": _LIMITS,
}
DROPPED_APPLY_OPTIONS: dict[str, str] = {
    "throw": _RAISES,
    "logfile": "no eager logger",
    "loglevel": "no eager logger",
}
DROPPED_JOIN_OPTIONS: dict[str, str] = {
    "timeout": _WAIT,
    "interval": _WAIT,
    "no_ack": _MESSAGE,
    "disable_sync_subtasks": "no subtask",
}
_LITERALS = (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString)


@dataclass(frozen=True)
class InProcessCall:
    """The pieces of the replacement: ``task`` called with ``args``."""

    task: cst.BaseExpression
    args: tuple[cst.Arg, ...]
    #: ``"timeout=600 (an in-process call has nothing to wait for)"``, in source order
    dropped: tuple[str, ...]
    #: True when ``args`` are the dispatch call's own ``Arg`` nodes (formatting kept)
    reused: bool = False


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def is_pure(node: cst.CSTNode) -> bool:
    """True for expressions whose evaluation has no side effects worth keeping.

    Names, attributes, subscripts, literals and operators on them; no calls, no
    ``await``/``yield``, no walrus, no lambdas or comprehensions.
    """
    if isinstance(node, (cst.Name, *_LITERALS)):
        return True
    if isinstance(node, cst.Attribute):
        return is_pure(node.value)
    if isinstance(node, cst.Subscript):
        return is_pure(node.value) and all(
            isinstance(s.slice, cst.Index) and is_pure(s.slice.value) for s in node.slice
        )
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        return all(is_pure(e.value) for e in node.elements)
    if isinstance(node, cst.Dict):
        return all(
            is_pure(e.value) and (not isinstance(e, cst.DictElement) or is_pure(e.key))
            for e in node.elements
        )
    if isinstance(node, cst.UnaryOperation):
        return is_pure(node.expression)
    if isinstance(node, (cst.BinaryOperation, cst.BooleanOperation)):
        return is_pure(node.left) and is_pure(node.right)
    if isinstance(node, cst.Comparison):
        return is_pure(node.left) and all(is_pure(c.comparator) for c in node.comparisons)
    return False


def split_origin(origin: cst.Call) -> tuple[cst.BaseExpression, str, cst.Call | None] | None:
    """``(task expression, dispatch method, signature call or None)`` of a dispatch call."""
    if not m.matches(origin.func, m.Attribute(attr=m.Name())):
        return None
    func = origin.func
    assert isinstance(func, cst.Attribute)
    method = func.attr.value
    if method not in DISPATCH_METHODS:
        return None
    target = func.value
    if isinstance(target, cst.Call) and m.matches(target.func, m.Attribute(attr=m.Name())):
        inner = target.func
        assert isinstance(inner, cst.Attribute)
        if inner.attr.value in SIGNATURE_METHODS:
            return inner.value, method, target
    return target, method, None


def _arg(value: cst.BaseExpression, *, keyword_name: str | None = None, star: str = "") -> cst.Arg:
    if keyword_name is not None:
        return cst.Arg(
            value=value,
            keyword=cst.Name(keyword_name),
            equal=cst.AssignEqual(
                whitespace_before=cst.SimpleWhitespace(""),
                whitespace_after=cst.SimpleWhitespace(""),
            ),
        )
    return cst.Arg(value=value, star=star)  # type: ignore[arg-type]


def _clean(arg: cst.Arg) -> cst.Arg:
    """An argument moved into a new call: keep value, keyword and star, reset the comma."""
    if arg.keyword is not None:
        return _arg(arg.value, keyword_name=arg.keyword.value)
    return _arg(arg.value, star=arg.star)


def _positional(value: cst.BaseExpression) -> list[cst.Arg] | Refusal:
    """``args=`` of ``apply_async``/``apply`` as call arguments."""
    if isinstance(value, cst.Name) and value.value == "None":
        return []
    if isinstance(value, (cst.List, cst.Tuple)):
        out: list[cst.Arg] = []
        for element in value.elements:
            star = "*" if isinstance(element, cst.StarredElement) else ""
            out.append(_arg(element.value, star=star))
        return out
    return [_arg(value, star="*")]


def _keywords(value: cst.BaseExpression) -> list[cst.Arg] | Refusal:
    """``kwargs=`` of ``apply_async``/``apply`` as call arguments."""
    if isinstance(value, cst.Name) and value.value == "None":
        return []
    if not isinstance(value, cst.Dict):
        return [_arg(value, star="**")]
    out: list[cst.Arg] = []
    seen: set[str] = set()
    for element in value.elements:
        if not isinstance(element, cst.DictElement):
            out.append(_arg(element.value, star="**"))
            continue
        key = element.key
        name = key.evaluated_value if isinstance(key, cst.SimpleString) else None
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            return [_arg(value, star="**")]
        if name in seen:
            return Refusal(f"kwargs= repeats the key {name!r}")
        seen.add(name)
        out.append(_arg(element.value, keyword_name=name))
    return out


def _dispatch_arguments(method: str, call: cst.Call) -> tuple[list[cst.Arg], list[str]] | Refusal:
    """The task's arguments and the dropped options of ``delay``/``apply_async``/``apply``."""
    if method == "delay":
        return [_clean(a) for a in call.args], []
    table = {**DROPPED_DISPATCH_OPTIONS, **(DROPPED_APPLY_OPTIONS if method == "apply" else {})}
    positional: list[cst.Arg] = []
    keywords: list[cst.Arg] = []
    dropped: list[str] = []
    given: list[str] = []
    for index, arg in enumerate(call.args):
        if arg.star:
            return Refusal(f"{method}() is called with {arg.star}-unpacked options")
        name = (
            arg.keyword.value
            if arg.keyword is not None
            else ("args", "kwargs")[index]
            if index < 2
            else None
        )
        if name is None:
            return Refusal(f"{method}() has more than two positional arguments")
        if name in ("args", "kwargs"):
            mapped = _positional(arg.value) if name == "args" else _keywords(arg.value)
            if isinstance(mapped, Refusal):
                return mapped
            (positional if name == "args" else keywords).extend(mapped)
            given.append(name)
        elif name in table:
            if not is_pure(arg.value):
                return Refusal(f"{name}= of {method}() is computed by a call that would be lost")
            dropped.append(f"{name}={_code(arg.value)} ({table[name]})")
        else:
            return Refusal(f"{method}(..., {name}=...) has no in-process equivalent")
    if given == ["kwargs", "args"] and not (
        all(is_pure(a.value) for a in positional) or all(is_pure(a.value) for a in keywords)
    ):
        return Refusal(f"{method}() computes kwargs= before args=; a call would swap them")
    return positional + keywords, dropped


def _join_options(join: cst.Call) -> list[str] | Refusal:
    dropped: list[str] = []
    func = join.func
    assert isinstance(func, cst.Attribute)
    for index, arg in enumerate(join.args):
        if arg.star:
            return Refusal(f"{func.attr.value}() is called with {arg.star}-unpacked options")
        name = arg.keyword.value if arg.keyword is not None else "timeout" if index == 0 else None
        if name == "propagate" and m.matches(arg.value, m.Name("True")):
            dropped.append(f"propagate=True ({_RAISES})")
            continue
        if name is None or name not in DROPPED_JOIN_OPTIONS:
            shown = name or f"positional argument {index + 1}"
            return Refusal(f"{func.attr.value}({shown}=...) changes what the join returns")
        if not is_pure(arg.value):
            return Refusal(
                f"{name}= of {func.attr.value}() is computed by a call that would be lost"
            )
        dropped.append(f"{name}={_code(arg.value)} ({DROPPED_JOIN_OPTIONS[name]})")
    return dropped


def _merge_signature(
    signature: cst.Call, immutable: bool, call_args: Sequence[cst.Arg]
) -> list[cst.Arg] | Refusal:
    """Celery's ``Signature._merge``: call args first, then the signature's; kwargs merged."""
    bound = [_clean(a) for a in signature.args]
    if immutable:
        if call_args:
            return Refusal(".si(...) ignores the arguments given when it is started")
        return bound
    if not call_args:
        return bound
    if not (all(is_pure(a.value) for a in bound) or all(is_pure(a.value) for a in call_args)):
        return Refusal("the call's arguments go first but are computed after the signature's")
    names = [a.keyword.value for a in [*bound, *call_args] if a.keyword is not None]
    if len(names) != len(set(names)) or any(a.star == "**" for a in [*bound, *call_args]):
        return Refusal("the signature and the call both pass keyword arguments that merge")
    first = [a for a in call_args if a.keyword is None] + [a for a in bound if a.keyword is None]
    last = [a for a in bound if a.keyword is not None] + [
        a for a in call_args if a.keyword is not None
    ]
    return first + last


def plan_call(origin: cst.Call, join: cst.Call | None) -> InProcessCall | Refusal:
    """The in-process call equivalent to starting ``origin`` and joining it with ``join``."""
    parts = split_origin(origin)
    if parts is None:
        return Refusal(
            f"the result comes from {_code(origin.func)}(...), not from starting a task: "
            "compose the steps with celery_safe.workflows"
        )
    task, method, signature = parts
    dropped: list[str] = []
    if join is not None:
        join_dropped = _join_options(join)
        if isinstance(join_dropped, Refusal):
            return join_dropped
        dropped = join_dropped
    mapped = _dispatch_arguments(method, origin)
    if isinstance(mapped, Refusal):
        return mapped
    args, dispatch_dropped = mapped
    if signature is not None:
        func = signature.func
        assert isinstance(func, cst.Attribute)
        merged = _merge_signature(signature, func.attr.value == "si", args)
        if isinstance(merged, Refusal):
            return merged
        args = merged
    reused = method == "delay" and signature is None
    if reused:
        args = list(origin.args)
    return InProcessCall(task, tuple(args), tuple(dispatch_dropped + dropped), reused)
