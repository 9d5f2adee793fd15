"""What the lint engine reports; the codemods, the CLI and flake8 all consume this."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any, Literal

__all__ = [
    "AllowJoinDetail",
    "CanvasDetail",
    "Detail",
    "Finding",
    "JoinDetail",
    "Span",
    "StateDetail",
    "decode_detail",
    "encode_detail",
    "printable",
    "spans_of",
]


def printable(text: str) -> str:
    """``text`` (a file name, a line naming one) as one line of a report: a newline, a
    carriage return or another control character is escaped (``\\n``), so a name cannot
    forge another line or drive the terminal. ``check`` and ``fix`` print names through it;
    a :class:`Finding`'s message is made printable by it."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


@dataclass(frozen=True)
class Span:
    """A source range, ``ast`` conventions: 1-based lines, 0-based UTF-8 columns."""

    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class JoinDetail:
    """What a join finding (CSF101, CSF102, CSF104, CSF105, CSF901) tells the codemods.

    ``join`` is the join method (``"get"``); ``join_span`` the join call (inside the
    helper for CSF104, in ``join_path`` when that is another file); ``origin`` the call
    that produced the result (``other.delay(x)``), when known, in ``origin_path`` when
    that is another file; ``origin_method`` how it was produced (``"delay"``,
    ``"apply"``...); ``callee`` the source of the task expression (``"other"``); ``via``
    the names the result flowed through. CSF104 adds ``call_path`` (task -> ... ->
    joining function), ``helper_call`` (the call in the task) and ``joins``: ``"own"``
    (the helper joins its own result) or ``"argument"`` (one it was given).
    """

    join: str = ""
    join_span: Span | None = None
    origin: Span | None = None
    origin_method: str = ""
    callee: str = ""
    via: tuple[str, ...] = ()
    origin_path: str = ""
    join_path: str = ""
    call_path: tuple[str, ...] = ()
    helper_call: Span | None = None
    joins: Literal["", "own", "argument"] = ""


@dataclass(frozen=True)
class AllowJoinDetail:
    """CSF103: the joins its ``allow_join_result()`` block covers."""

    joins: tuple[Span, ...] = ()


@dataclass(frozen=True)
class CanvasDetail:
    """A canvas problem (CSF2xx): the step's path in the canvas, and what to do."""

    step: str
    fix: str


@dataclass(frozen=True)
class StateDetail:
    """CSF301: the failure state written and the meta's keys."""

    state: str
    keys: tuple[str, ...]


#: A rule's typed detail (``None``: the rule has nothing more to say than its message).
Detail = JoinDetail | AllowJoinDetail | CanvasDetail | StateDetail | None


def spans_of(detail: Detail) -> Iterator[Span]:
    """Every source range ``detail`` names (in this file or another)."""
    if detail is None:
        return
    for item in fields(detail):
        value = getattr(detail, item.name)
        for span in value if isinstance(value, tuple) else (value,):
            if isinstance(span, Span):
                yield span


def encode_detail(detail: Detail) -> dict[str, Any] | None:
    """``detail`` as JSON holds it, tagged with its class (the findings cache stores it)."""
    if detail is None:
        return None
    return {"type": type(detail).__name__,
            "fields": {f.name: _encode(getattr(detail, f.name)) for f in fields(detail)}}


def decode_detail(data: object) -> Detail:
    """The typed detail :func:`encode_detail` wrote; ``ValueError`` for anything else."""
    if data is None:
        return None
    if not isinstance(data, dict) or data.get("type") not in _DETAILS:
        raise ValueError(f"not a finding's detail: {data!r:.80}")
    values = data.get("fields")
    if not isinstance(values, dict):
        raise ValueError(f"a detail without fields: {data!r:.80}")
    cls = _DETAILS[data["type"]]
    return cls(**{name: _decode(value) for name, value in values.items()})  # type: ignore[arg-type]


def _encode(value: object) -> object:
    if isinstance(value, Span):
        return {"span": [value.line, value.col, value.end_line, value.end_col]}
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    return value


def _decode(value: object) -> object:
    if isinstance(value, dict) and isinstance(value.get("span"), list):
        line, col, end_line, end_col = (int(n) for n in value["span"])
        return Span(line, col, end_line, end_col)
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    return value


_DETAILS: dict[str, type[JoinDetail | AllowJoinDetail | CanvasDetail | StateDetail]] = {
    cls.__name__: cls for cls in (JoinDetail, AllowJoinDetail, CanvasDetail, StateDetail)
}


@dataclass(frozen=True)
class Finding:
    """One problem at one place.

    ``span`` covers the offending node (for CSF101: the whole join call,
    ``x.delay(1).get()``). ``task`` is the qualified name of the enclosing task
    function. ``detail`` is the rule's typed detail the codemods act on
    (:class:`JoinDetail`, :class:`AllowJoinDetail`, :class:`CanvasDetail`,
    :class:`StateDetail`).
    """

    code: str
    path: str
    span: Span
    message: str
    task: str | None = None
    detail: Detail = None

    def __post_init__(self) -> None:
        # why: a message quotes names from the source (a beat entry's, a task's); one
        # with a newline or a terminal escape would forge report lines in check and flake8
        if not self.message.isprintable():
            object.__setattr__(self, "message", printable(self.message))

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def col(self) -> int:
        return self.span.col
