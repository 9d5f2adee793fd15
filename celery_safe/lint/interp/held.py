"""What containers written in the source hold, and Django's QuerySets, as values
(:class:`~.values.Holding`, :class:`~.values.QuerySet`, :class:`~.values.Refused`):
what a serializer is handed when they are sent (static CSF207).

Only what is written is read: a list, tuple or dict display (``[order]``, ``{"user":
user}``, ``{**base, "user": user}``: what comes before the last ``**`` may be replaced),
``dict(user=user)``, and ``Model.objects`` followed by QuerySet methods (``filter``,
``values``, ``values_list``...). Anything else (``list(qs)``, which is ``[]`` when the
query finds nothing) is unknown.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence

from .index import ModuleIndex
from .objects import django_model
from .values import HELD, Holding, Instance, QuerySet, Refused, TupleOf, Value

__all__ = [
    "QUERYSET_METHODS",
    "QUERYSET_ROWS",
    "Found",
    "displayed",
    "holding",
    "keywords_held",
    "queryset_of",
    "refused",
    "signature_held",
]

#: (kind, model's name or "", where inside the value: ``"['user'][0]"``)
Found = tuple[str, str, str]

#: QuerySet methods that give a QuerySet of the same rows (Django's QuerySet API).
QUERYSET_METHODS = frozenset(
    {"all", "filter", "exclude", "select_related", "prefetch_related", "order_by", "using",
     "only", "defer", "annotate", "select_for_update", "distinct", "reverse", "none",
     "alias", "extra", "union", "intersection", "difference"}
)
#: QuerySet methods whose rows are no longer model objects (dicts, tuples, flat values).
QUERYSET_ROWS = frozenset({"values", "values_list", "dates", "datetimes"})
#: How deep containers are kept in containers (``[{"user": user}]`` is 2).
_DEPTH = 4
#: Nodes that make an object JSON refuses wherever they are written.
_MADE = {ast.Lambda: "function", ast.GeneratorExp: "generator", ast.SetComp: "set"}


def _depth(value: Value) -> int:
    if isinstance(value, Holding):
        return 1 + max((_depth(v) for _, v in value.items), default=0)
    return 0


def holding(
    places: Sequence[tuple[str, Value | None]], origin: ast.AST
) -> Holding | None:
    """A container made at ``origin`` with ``places`` (where, value): ``None`` when no
    place holds anything that decides how it is sent."""
    kept = tuple(
        (where, value) for where, value in places
        if isinstance(value, HELD) and _depth(value) < _DEPTH
    )
    return Holding(items=kept, origin=origin) if kept else None


def _item(node: ast.expr, value: Callable[[ast.expr], Value | None]) -> Value | None:
    made = _MADE.get(type(node))
    found = value(node)
    if made is not None and found is None:
        return Refused(kind=made)
    return found


def displayed(
    node: ast.List | ast.Tuple | ast.Dict, value: Callable[[ast.expr], Value | None]
) -> Holding | None:
    """A list, tuple or dict display as a :class:`Holding`."""
    places: list[tuple[str, Value | None]] = []
    if isinstance(node, ast.Dict):
        last = max((i for i, k in enumerate(node.keys) if k is None), default=-1)
        for at, (key, item) in enumerate(zip(node.keys, node.values, strict=True)):
            if at > last and key is not None:
                where = f"[{ast.unparse(key)}]" if isinstance(key, ast.Constant) else "[...]"
                places.append((where, _item(item, value)))
        return holding(places, node)
    positional = True
    for at, item in enumerate(node.elts):
        if isinstance(item, ast.Starred):
            positional = False  # why: the places after it are not known
            continue
        places.append((f"[{at}]" if positional else "[...]", _item(item, value)))
    return holding(places, node)


def keywords_held(node: ast.Call, value: Callable[[ast.expr], Value | None]) -> Holding | None:
    """``dict(user=user, **more)``: a dict holding its keywords' values (a key given twice
    is a TypeError, so ``**more`` replaces none of them)."""
    if node.args:
        return None  # why: ``dict(pairs, k=v)``, what ``pairs`` holds is not read
    places = [
        (f"[{k.arg!r}]", _item(k.value, value)) for k in node.keywords if k.arg is not None
    ]
    return holding(places, node)


def signature_held(
    node: ast.Call, value: Callable[[ast.expr], Value | None]
) -> Holding | None:
    """``t.s(order, note=x)``'s own arguments, at ``.args[0]``, ``.kwargs['note']``
    (the places Celery's ``Signature`` keeps them)."""
    places: list[tuple[str, Value | None]] = []
    for at, item in enumerate(node.args):
        if isinstance(item, ast.Starred):
            break  # why: the places after it are not known
        places.append((f".args[{at}]", _item(item, value)))
    places += [
        (f".kwargs[{k.arg!r}]", _item(k.value, value)) for k in node.keywords if k.arg
    ]
    return holding(places, node)


def queryset_of(
    func: ast.Attribute, base: Value | None, model: Instance | None
) -> QuerySet | None:
    """``model.objects.<method>(...)`` (``model`` is what ``Model`` names, a project class
    or Django's), or ``<method>(...)`` of the QuerySet ``base``: a QuerySet, when
    ``<method>`` is one of Django's that gives one."""
    method = func.attr
    if method not in QUERYSET_METHODS and method not in QUERYSET_ROWS:
        return None
    if isinstance(base, QuerySet):
        rows = "values" if method in QUERYSET_ROWS else base.rows
        return QuerySet(model=base.model, rows=rows, unsure=base.unsure)
    manager = func.value
    if model is None or not (isinstance(manager, ast.Attribute) and manager.attr == "objects"):
        return None
    return QuerySet(model=model, rows="values" if method in QUERYSET_ROWS else "objects")


def refused(value: Value | None, index: ModuleIndex, depth: int = 0) -> Found | None:
    """What in ``value`` kombu's JSON definitely refuses: its kind (a key of
    :data:`~celery_safe.canvas.encoding.JSON_REFUSES`), the model's name (``""`` for
    other kinds) and where it is inside ``value`` (``"['user']"``; ``""``: ``value``
    itself). A value held on some paths only, at any depth, is not known to be refused."""
    if value is None or value.unsure or depth > _DEPTH:
        return None
    match value:
        case Instance():
            model = django_model(value, index)
            return ("model", model, "") if model is not None else None
        case QuerySet(model=model):
            name = django_model(model, index)
            return ("queryset", name, "") if name is not None else None
        case Refused(kind=kind):
            return kind, "", ""
        case Holding() | TupleOf():
            places: Sequence[tuple[str, Value | None]] = (
                value.items if isinstance(value, Holding)
                else [(f"[{at}]", item) for at, item in enumerate(value.items)]
            )
            for where, item in places:
                found = refused(item, index, depth + 1)
                if found is not None:
                    return found[0], found[1], where + found[2]
    return None
