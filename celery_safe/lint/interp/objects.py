"""Objects of project classes, as far as following their methods goes.

A task often reaches a join through an object: ``Poller().wait(r)``,
``run = Run.objects.get(pk=pk); run.wait(r)``, or ``r, run = other.submit()`` where
``submit`` is annotated ``-> tuple[AsyncResult, Run]`` or returns ``(x.delay(), self)``.
This module says what such an expression is: an ``instance`` value naming its class
(in the module where that name means it), a Celery result named by an annotation, or
a tuple of those. Only the cheap, common shapes are read: a return annotation (``X``,
``"X"``, ``X | None``, ``Optional[X]``, ``tuple[A, B]``) and Django's
``Model.objects...get()``, ``get_object_or_404(Model, ...)`` and ``get_user_model()``;
anything else is unknown. :func:`django_model` says whether such an object is
definitely a Django model instance (its class derives from ``django.db.models.Model``
through bases the project index resolves).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import replace

from .imports import FOREIGN_ROOTS, ImportMap
from .index import FunctionInfo, ModuleIndex
from .values import Instance, Result, Results, TupleOf, Value

__all__ = [
    "DJANGO_MODELS",
    "GET_OR_404",
    "MANAGER_GETTERS",
    "MODEL_SIGNALS",
    "RECEIVERS",
    "RESULT_TYPES",
    "USER_MODEL",
    "USER_MODEL_FACTORY",
    "annotation_value",
    "class_named",
    "django_model",
    "made_object",
    "manager_model",
    "queryset_item",
    "rehomed",
    "returned_by_annotation",
    "tuple_value",
]

#: Classes whose instances are Celery results (an annotation naming one is a result).
RESULT_TYPES = frozenset(
    f"{module}.{name}"
    for module in ("celery", "celery.result")
    for name in ("AsyncResult", "GroupResult", "ResultSet")
)
#: ``Model.objects.<getter>(...)``: one object of the model (Django's manager API);
#: the ``*_or_create`` ones give ``(object, created)``.
MANAGER_GETTERS = frozenset(
    {"get", "create", "first", "last", "latest", "earliest", "get_or_create",
     "update_or_create", "aget", "acreate", "afirst", "alast"}
)
#: QuerySet methods that keep the model: ``Model.objects.filter(...).first()``.
QUERYSET_CHAIN = frozenset(
    {"all", "filter", "exclude", "select_related", "prefetch_related", "order_by", "using",
     "only", "defer", "annotate", "select_for_update", "distinct", "reverse"}
)
#: Django's model base, and the models Django itself defines that projects use without
#: defining them (``django.contrib``): an object of one of these is a model instance.
#: ``AnonymousUser`` is not a model, and no serializer but pickle carries it either.
DJANGO_MODELS = frozenset(
    {
        "django.db.models.Model",
        "django.db.models.base.Model",
        "django.contrib.auth.models.User",
        "django.contrib.auth.models.AbstractUser",
        "django.contrib.auth.models.AbstractBaseUser",
        "django.contrib.auth.base_user.AbstractBaseUser",
        "django.contrib.auth.models.AnonymousUser",
        "django.contrib.auth.models.Group",
        "django.contrib.auth.models.Permission",
        "django.contrib.auth.models.PermissionsMixin",
        "django.contrib.contenttypes.models.ContentType",
        "django.contrib.sites.models.Site",
        "django.contrib.sessions.models.Session",
        "django.contrib.admin.models.LogEntry",
        "django.contrib.flatpages.models.FlatPage",
        "django.contrib.redirects.models.Redirect",
    }
)
#: ``get_user_model()`` returns the class ``AUTH_USER_MODEL`` names (an abstract base's
#: subclass: a model); its objects are written as objects of :data:`USER_MODEL`.
USER_MODEL_FACTORY = "django.contrib.auth.get_user_model"
USER_MODEL = "django.contrib.auth.models.AbstractBaseUser"
#: ``get_object_or_404(Model or queryset, ...)``: one object of the model, or Http404.
GET_OR_404 = "django.shortcuts.get_object_or_404"
#: Django's model signals: a receiver's ``instance`` keyword is an object of the sender
#: model (Django sends it by that name), and ``@receiver`` connects one.
MODEL_SIGNALS = frozenset(
    f"django.db.models.signals.{name}"
    for name in ("pre_save", "post_save", "pre_delete", "post_delete", "m2m_changed")
)
RECEIVERS = frozenset({"django.dispatch.receiver", "django.dispatch.dispatcher.receiver"})
#: How many bases up a class is followed to ``django.db.models.Model``.
_MODEL_HOPS = 6
#: Roots whose classes are never the project's (typing, the standard library's usual ones).
NOT_PROJECT = FOREIGN_ROOTS | {"typing", "typing_extensions", "collections", "celery", "kombu"}
#: What a tuple item must be for the tuple's positions to be worth keeping.
OBJECT_KINDS = (Instance, Result, Results, TupleOf)
#: How deep an annotation is read (``Optional[tuple[A, B | None]]`` is 3).
_DEPTH = 4


def tuple_value(items: Sequence[Value | None], held: Value | None) -> Value | None:
    """A tuple of known length: ``held`` (what it is as a container) with its items."""
    if not any(isinstance(i, OBJECT_KINDS) for i in items):
        return held
    if isinstance(held, (Results, TupleOf)):
        return replace(held, items=tuple(items))
    return TupleOf(items=tuple(items))


def manager_model(receiver: ast.expr) -> ast.expr | None:
    """``Model`` in ``Model.objects[.filter(...)...]``: the receiver of a manager getter."""
    while (
        isinstance(receiver, ast.Call)
        and isinstance(receiver.func, ast.Attribute)
        and receiver.func.attr in QUERYSET_CHAIN
    ):
        receiver = receiver.func.value
    if isinstance(receiver, ast.Attribute) and receiver.attr == "objects":
        return receiver.value
    return None


def rehomed(value: Value | None, owner: ModuleIndex) -> Value | None:
    """``value`` as computed in ``owner``, made meaningful in any other module."""
    if value is None:
        return None
    match value:
        case Instance(home=None):
            return replace(value, home=owner)
        case Results(items=items) | TupleOf(items=items) if items:
            return replace(value, items=tuple(rehomed(i, owner) for i in items))
    return value


def returned_by_annotation(info: FunctionInfo) -> Value | None:
    """What ``info``'s return annotation says it returns (``None``: nothing we follow)."""
    owner = info.module
    if info.node.returns is None or owner is None:
        return None
    return annotation_value(info.node.returns, owner, owner.imports_for(info.parent))


def annotation_value(
    node: ast.expr, owner: ModuleIndex, imports: ImportMap, depth: int = 0
) -> Value | None:
    """The value an annotation written in ``owner`` denotes, for the shapes we read."""
    if depth > _DEPTH:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if len(node.value) > 200:
            return None  # not an annotation anyone writes by hand
        try:
            parsed = ast.parse(node.value.strip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        return annotation_value(parsed, owner, imports, depth + 1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _one_of([node.left, node.right], owner, imports, depth)
    if isinstance(node, ast.Subscript):
        generic = _generic(node.value, imports)
        inner = node.slice
        parts = inner.elts if isinstance(inner, ast.Tuple) else [inner]
        if generic == "Optional":
            return annotation_value(inner, owner, imports, depth + 1)
        if generic == "Union":
            return _one_of(parts, owner, imports, depth)
        if generic == "tuple":
            if any(isinstance(p, ast.Constant) and p.value is Ellipsis for p in parts):
                return None  # ``tuple[X, ...]``: no fixed positions
            items = [annotation_value(p, owner, imports, depth + 1) for p in parts]
            return tuple_value(items, None)
        return None
    if isinstance(node, (ast.Name, ast.Attribute)):
        return _named(node, owner, imports)
    return None


def _one_of(
    options: Sequence[ast.expr], owner: ModuleIndex, imports: ImportMap, depth: int
) -> Value | None:
    """``X | None``: X (the object may be None; its methods are still its class's)."""
    real = [o for o in options if not (isinstance(o, ast.Constant) and o.value is None)]
    if len(real) != 1:
        return None  # a union of two types: which one is unknown
    return annotation_value(real[0], owner, imports, depth + 1)


def _generic(node: ast.expr, imports: ImportMap) -> str:
    qualified = imports.qualify(node)
    if qualified is None:
        return "tuple" if isinstance(node, ast.Name) and node.id == "tuple" else ""
    module, _, name = qualified.rpartition(".")
    if module in ("typing", "typing_extensions"):
        return "tuple" if name == "Tuple" else name
    return ""


def _named(node: ast.Name | ast.Attribute, owner: ModuleIndex, imports: ImportMap) -> Value | None:
    qualified = imports.qualify(node)
    if qualified in RESULT_TYPES:
        return Result(method=qualified.rpartition(".")[2], callee=ast.unparse(node))
    if qualified is None:
        if isinstance(node, ast.Name) and node.id in owner.classes:
            return Instance(callee=node.id, home=owner)
        return None
    if qualified.lstrip(".").partition(".")[0] in NOT_PROJECT or owner.external is None:
        return None
    return Instance(callee=ast.unparse(node), qualified=qualified, home=owner)


def made_object(node: ast.expr, imports: ImportMap, index: ModuleIndex) -> Instance | None:
    """The object of a class that a Django expression makes, the class resolved through
    ``imports`` alone (the walks of functions that are not tasks follow no import):
    ``M.objects.get(...)`` (any getter, through a queryset chain), ``M.objects.
    get_or_create(...)[0]``, ``get_object_or_404(M or a queryset, ...)``, ``M(...)``."""
    pair = False
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.slice, ast.Constant)
        and node.slice.value == 0
    ):
        node, pair = node.value, True
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    model: ast.expr | None = func
    if isinstance(func, ast.Attribute) and func.attr in MANAGER_GETTERS:
        if func.attr.endswith("_or_create") is not pair or func.attr.startswith("a"):
            return None  # why: ``(object, created)`` unindexed, or a coroutine
        model = manager_model(func.value)
    elif pair:
        return None
    elif imports.qualify(func) == GET_OR_404:
        klass = node.args[0] if node.args else None
        model = klass and (manager_model(klass) or klass)
    return class_named(model, imports, index)


def queryset_item(node: ast.expr, imports: ImportMap, index: ModuleIndex) -> Instance | None:
    """What iterating ``node`` gives when it is a queryset of a model's objects
    (``M.objects.all()``, ``M.objects.filter(...).order_by(...)``): one object of ``M``
    (not ``values()``/``values_list()``, whose items are dicts and tuples)."""
    if not isinstance(node, ast.Call):
        return None  # why: ``M.objects`` itself is a manager, not iterable
    return class_named(manager_model(node), imports, index)


def class_named(
    model: ast.expr | None, imports: ImportMap, index: ModuleIndex
) -> Instance | None:
    """An object of the class ``model`` names: a class of ``index``'s module, or one
    imported from a module that is not a known library's (resolved when needed)."""
    if not isinstance(model, (ast.Name, ast.Attribute)):
        return None
    if isinstance(model, ast.Name) and model.id in index.classes:
        return Instance(callee=model.id)
    qualified = imports.qualify(model)
    if qualified is None or qualified.lstrip(".").partition(".")[0] in NOT_PROJECT:
        return None
    return Instance(callee=ast.unparse(model), qualified=qualified)


def django_model(value: Instance, index: ModuleIndex) -> str | None:
    """The name of ``value``'s class when it definitely derives from Django's ``Model``
    (or is one of Django's own, :data:`DJANGO_MODELS`), through bases the project
    index resolves; ``None`` when that is not known. A class that defines ``__json__``
    (kombu's JSON encoder calls it) is not reported as one."""
    home = value.home or index
    name = value.callee.rpartition(".")[2] or value.qualified.rpartition(".")[2]
    if value.qualified:
        if value.qualified in DJANGO_MODELS:
            return "User" if value.qualified == USER_MODEL else name
        where = _class_home(home, value.qualified)
        if where is None:
            return None
        home, cls = where
    else:
        cls = value.callee
    seen: set[int] = set()
    found = _model_bases(home, cls, 0, seen)
    return cls if found and found is not _JSON else None


def _class_home(home: ModuleIndex, qualified: str) -> tuple[ModuleIndex, str] | None:
    lookup = getattr(home.external, "class_home", None)
    return lookup(qualified) if lookup is not None else None


#: a class in the bases defines ``__json__``: kombu's encoder carries the object
_JSON = "__json__"


def _model_bases(home: ModuleIndex, cls: str, hops: int, seen: set[int]) -> str | None:
    """"model" when the class ``cls`` of ``home`` derives from a Django model, ``_JSON``
    when it or a base the index resolves defines ``__json__``, else None."""
    node = home.class_defs.get(cls)
    if node is None or hops > _MODEL_HOPS or id(node) in seen:
        return None
    seen.add(id(node))
    if _defines(node, _JSON):
        return _JSON
    found: str | None = None
    for base in node.bases:
        here: str | None = None
        if isinstance(base, ast.Name) and base.id in home.classes and base.id != cls:
            here = _model_bases(home, base.id, hops + 1, seen)
        elif (qualified := home.imports.qualify(base)) in DJANGO_MODELS:
            here = "model"
        elif qualified is not None and (where := _class_home(home, qualified)) is not None:
            here = _model_bases(where[0], where[1], hops + 1, seen)
        if here is _JSON:
            return _JSON
        found = found or here
    return found


def _defines(node: ast.ClassDef, name: str) -> bool:
    return any(
        (isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name == name)
        or (isinstance(item, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == name for t in item.targets))
        for item in node.body
    )
