"""CSF207, statically: an argument sent to a task of the project that the task's
serializer (JSON: Celery's default, and the project sets no other) cannot encode.

Detection: an ``on_call`` handler looks at each ``t.delay(...)`` and ``t.apply_async(args,
kwargs)`` whose ``t`` the interpreter resolves to a task of the project, and each
``t.s(...)``, ``t.si(...)``, ``t.signature(args, kwargs)`` written inside a canvas sent
where it is written (``t.s(x).delay()``), or kept in a name and sent in the same
function (``sig.delay()``: its own arguments as the interpreter kept them, forgotten once
it may change; one returned or stored is data, never read), and records each argument that is
*definitely* of a kind kombu's JSON refuses (:data:`~celery_safe.canvas.encoding.JSON_REFUSES`,
measured against kombu in ``tests/canvas/test_encoding_kombu.py``): an object of a class
deriving from Django's ``Model`` (``Model.objects.get(...)``, ``get_object_or_404``, a
model's constructor, ``get_user_model()``, a model method's ``self``), ``request.user``
in a Django view, a QuerySet, a set, a generator, a lambda or function, an open file,
and a list, tuple or dict holding one (the interpreter's ``Holding``, ``QuerySet`` and
``Refused`` values, read by ``interp.held.refused``: through names, helpers' returns
and ``apply_async(args=packed)``; an ``unsure`` value, held on some paths only, never
is). The check then
asks the project whether every task is sent with JSON (``ModuleResolver.sends_json``:
a project that writes any other serializer, or one no scan can read, is left alone).
Anything else, a name whose value is not known included, is silence.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from ...canvas.encoding import JSON_REFUSES
from ..findings import Finding
from ..interp.analysis import ModuleAnalysis
from ..interp.evaluate import keyword_arg
from ..interp.events import CallEvent, Scope, Subscribers
from ..interp.facts import FunctionFacts
from ..interp.flow import BUILTIN_NAMES, CELERY_TAKES, READS_ONLY
from ..interp.held import Found, refused
from ..interp.index import FunctionInfo
from ..interp.objects import (
    MODEL_SIGNALS,
    RECEIVERS,
    django_model,
    made_object,
    queryset_item,
)
from ..interp.serializers import json_only
from ..interp.values import Canvas, Instance, Param, TaskRef
from ..registry import Report, rule

INVALID = (
    """\
from celery import shared_task
from django.contrib.auth import get_user_model

User = get_user_model()


@shared_task
def send_welcome(user_id):
    return user_id


def sign_up(email):
    user = User.objects.create(email=email)
    send_welcome.delay(user)  # json cannot carry a model instance: EncodeError here
""",
    """\
from celery import shared_task
from django.db import models
from django.shortcuts import get_object_or_404


class Order(models.Model):
    total = models.IntegerField()


@shared_task
def ship(order, carrier):
    return order, carrier


def ship_view(request, pk):
    order = get_object_or_404(Order, pk=pk)
    ship.apply_async(args=(order,), kwargs={"carrier": "dhl"})
""",
    """\
from celery import shared_task
from django.http import HttpResponse


@shared_task
def audit(actor, path):
    return actor, path


def dashboard(request):
    audit.delay(request.user, request.path)  # a User, or AnonymousUser
    return HttpResponse("ok")
""",
    """\
from celery import shared_task


@shared_task
def tag(item_id, labels):
    return item_id, labels


def retag(item_id):
    tag.s(item_id, {"new", "sale"}).delay()  # a set: json has no sets
""",
    """\
from celery import shared_task
from django.db import models


class Order(models.Model):
    total = models.IntegerField()


@shared_task
def reprice(payload):
    return payload


def unpaid():
    return Order.objects.filter(total__gt=0)


def reprice_view(request, pk):
    order = Order.objects.get(pk=pk)
    payload = {"order": order, "path": request.path}
    reprice.delay(payload)  # a model instance inside the dict
    reprice.delay(unpaid())  # a QuerySet, returned by a helper
    reprice.apply_async(kwargs={"payload": dict(orders=[order])})
""",
)

VALID = (
    """\
from celery import shared_task
from django.contrib.auth import get_user_model

User = get_user_model()


@shared_task
def send_welcome(user_id):
    user = User.objects.get(pk=user_id)  # loaded inside the task
    return user.email


def sign_up(email):
    user = User.objects.create(email=email)
    send_welcome.delay(user.pk)
""",
    """\
import datetime
import decimal
import uuid

from celery import shared_task
from django.shortcuts import get_object_or_404

from .models import Receipt


@shared_task
def store(receipt, when, amount, key, raw):
    return receipt, when, amount, key, raw


def save(request, pk, serialize):
    receipt = get_object_or_404(Receipt, pk=pk)
    # kombu's json carries datetime, Decimal, UUID and bytes
    store.delay(serialize(receipt), datetime.datetime.now(), decimal.Decimal("1.10"),
                uuid.uuid4(), b"\\x00")
    # Receipt's class is not in sight (no models.py here): not known to be a model
    store.delay(receipt, None, None, None, request.user.pk)
""",
    """\
from celery import shared_task
from django.db import models


class Order(models.Model):
    total = models.IntegerField()


@shared_task
def reprice(payload):
    return payload


def reprice_view(request, pk, serialize):
    order = Order.objects.get(pk=pk)
    payload = {"order": order}
    payload["order"] = order.pk  # changed before it is sent
    reprice.delay(payload)
    # plain rows: a list of primary keys, a list of dicts
    reprice.delay(list(Order.objects.filter(total__gt=0).values_list("pk", flat=True)))
    reprice.delay(list(Order.objects.values("pk", "total")))
    data = {"order": order}
    reprice.delay(serialize(data))  # what serialize returns is not known
""",
)

#: The methods that send a task or a canvas, and those that make a signature of a task
#: with its arguments (read only inside a canvas sent where it is written).
SENDING = frozenset({"delay", "apply_async"})
SIGNATURES = frozenset({"s", "si", "signature", "subtask"})
SENDS = SENDING | SIGNATURES
#: The methods that take ``(args, kwargs)`` rather than the task's own arguments.
PACKED = frozenset({"apply_async", "signature", "subtask"})
#: Builtins whose call makes an object JSON refuses, by kind.
BUILTIN_KINDS = {"set": "set", "frozenset": "frozenset", "open": "file"}
#: Standard-library calls making one, by qualified name.
LIBRARY_KINDS = {
    "threading.Lock": "lock", "threading.RLock": "lock", "socket.socket": "socket",
    "datetime.timedelta": "timedelta", "pathlib.Path": "path", "pathlib.PurePath": "path",
}
#: How deep containers and single assignments are followed (``[{"user": user}]``).
_DEPTH = 4
#: A name bound to one of these is read from the interpreter's value alone (a change of
#: the container, ``payload["user"] = user.pk``, is seen there).
CONTAINER_DISPLAYS = (ast.List, ast.Tuple, ast.Dict, ast.Set)


@dataclass(frozen=True)
class Unencodable:
    """An argument of a send to a task of the project that JSON cannot carry."""

    node: ast.expr  # the argument as written
    call: ast.Call
    step: str  # ``send_welcome.delay()``
    method: str  # delay, apply_async, s...
    kind: str  # a key of ``JSON_REFUSES``
    what: str  # ``User`` for a model instance, else ""
    where: str = ""  # where in the argument: ``['user']`` (``""``: the argument itself)


def _celerys_class(task: FunctionInfo) -> bool:
    """A task of Celery's own class: not a ``Task`` subclass, no ``base=`` (their
    ``apply_async`` may turn objects into ids before anything is encoded)."""
    if task.task is None or task.task.how == "class":
        return False
    return not any(
        isinstance(d, ast.Call) and any(k.arg in ("base", None) for k in d.keywords)
        for d in task.node.decorator_list
    )


def _task(scope: Scope, receiver: TaskRef) -> FunctionInfo | None:
    if receiver.task is not None:
        return receiver.task
    return scope.index.imported_task(receiver.qualified) if receiver.qualified else None


def sent_arguments(call: ast.Call, method: str) -> list[ast.expr]:
    """The arguments a send passes to the task, as written (only those that are)."""
    if method not in PACKED:
        values = [a for a in call.args if not isinstance(a, ast.Starred)]
        return values + [k.value for k in call.keywords if k.arg is not None]
    args, kwargs = _packed(call)
    found: list[ast.expr] = []
    if isinstance(args, (ast.Tuple, ast.List)):
        found += [a for a in args.elts if not isinstance(a, ast.Starred)]
    if isinstance(kwargs, ast.Dict):
        found += [v for k, v in zip(kwargs.keys, kwargs.values, strict=True) if k is not None]
    return found


def _packed(call: ast.Call) -> tuple[ast.expr | None, ast.expr | None]:
    """``apply_async(args, kwargs)``'s two containers, as written."""
    args = call.args[0] if call.args else keyword_arg(call, "args")
    kwargs = call.args[1] if len(call.args) > 1 else keyword_arg(call, "kwargs")
    return args, kwargs


def _kept_packs(scope: Scope, call: ast.Call, method: str) -> Iterator[tuple[ast.expr, Found]]:
    """``apply_async(args=args, kwargs=options)`` with containers kept in names (or made
    by a call): each one's item the interpreter knows JSON refuses, and where it is."""
    if method not in PACKED:
        return
    for pack in _packed(call):
        if pack is None or isinstance(pack, (ast.Tuple, ast.List, ast.Dict)):
            continue  # written here: its items are the arguments
        found = refused(scope.value(pack), scope.index)
        if found is not None and found[2]:  # why: only an item, not the pack, is an argument
            yield pack, found


@dataclass
class _Kinds:
    """What JSON refuses in an argument, by the argument's source and its value."""

    scope: Scope
    #: the names the function walked binds (parameters, assignments, loops, imports...)
    bound: frozenset[str]

    def kind(self, node: ast.expr, depth: int = 0) -> Found | None:
        if depth > _DEPTH:
            return None
        value = self.scope.value(node)
        found = refused(value, self.scope.index)
        if found is not None:
            return found  # what the interpreter knows the value to be, wherever it came from
        if not isinstance(value, Instance) and self.unshadowed(node):
            # outside tasks the walk resolves no imported class: resolved here
            value = made_object(node, self.scope.imports, self.scope.index) or value
        model = (  # why not an unsure one: held on some paths only
            django_model(value, self.scope.index)
            if isinstance(value, Instance) and not value.unsure else None
        )
        if model is not None:
            return "model", model, ""
        if isinstance(node, (ast.Set, ast.SetComp)):
            return "set", "", ""
        if isinstance(node, ast.GeneratorExp):
            return "generator", "", ""
        if isinstance(node, ast.Lambda):
            return "function", "", ""
        if isinstance(node, (ast.List, ast.Tuple)):
            return self.first([(f"[{at}]", item) for at, item in enumerate(node.elts)], depth)
        if isinstance(node, ast.Dict):
            # why: a ``**more`` may replace what comes before it
            last = max((at for at, k in enumerate(node.keys) if k is None), default=-1)
            keys = [f"[{ast.unparse(k)}]" for k in node.keys[last + 1:] if k is not None]
            return self.first(list(zip(keys, node.values[last + 1:], strict=True)), depth)
        if isinstance(node, ast.Call):
            return self.made(node)
        if isinstance(node, ast.Attribute):
            return self.request_user(node)
        if isinstance(node, ast.Name):
            return self.name(node, depth)
        return None

    def unshadowed(self, node: ast.expr) -> bool:
        """A call (or its ``[0]``) whose callee and first argument do not start from a
        name the function binds (``Order = ...`` here is not the model class)."""
        if isinstance(node, ast.Subscript):
            node = node.value
        if not isinstance(node, ast.Call):
            return False
        klass = node.args[:1] if ast.unparse(node.func).endswith("get_object_or_404") else []
        roots = [node.func, *klass]
        while any(isinstance(r, (ast.Attribute, ast.Call)) for r in roots):
            roots = [r.value if isinstance(r, ast.Attribute) else r.func
                     if isinstance(r, ast.Call) else r for r in roots]
        return not any(isinstance(r, ast.Name) and r.id in self.bound for r in roots)

    def first(self, items: list[tuple[str, ast.expr]], depth: int) -> Found | None:
        """The first item of a display JSON refuses, and where it is (a ``*more`` or a
        ``**more`` before it: somewhere inside)."""
        known = True
        for where, item in items:
            if isinstance(item, ast.Starred) or not where:
                known = False
            elif found := self.kind(item, depth + 1):
                return found[0], found[1], (where if known else "[...]") + found[2]
        return None

    def made(self, node: ast.Call) -> Found | None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in BUILTIN_KINDS and self.free(func.id):
            return BUILTIN_KINDS[func.id], "", ""
        qualified = self.scope.imports.qualify(func)
        kind = LIBRARY_KINDS.get(qualified or "")
        return (kind, "", "") if kind is not None else None

    def free(self, name: str) -> bool:
        """``name`` is the builtin: nothing in this function or module binds it."""
        return (
            name not in self.bound
            and self.scope.imports.qualify(ast.Name(name)) is None
            and self.scope.index.resolve_local(self.scope.info, name) is None
            and name not in self.scope.index.classes
            and self.scope.value(ast.Name(name)) is None
            and not _module_assigns(self.scope, name)
        )

    def request_user(self, node: ast.Attribute) -> Found | None:
        """``request.user`` of a Django view: the signed-in ``User``, or ``AnonymousUser``
        (Django's ``AuthenticationMiddleware``); neither is JSON."""
        base = node.value
        if node.attr != "user" or not isinstance(base, ast.Name) or not _django(self.scope):
            return None
        held = self.scope.value(base)
        info = self.scope.info
        if not isinstance(held, Param) or held.name != "request" or info is None:
            return None
        if _assigns(info.node, "request"):
            return None  # why: no longer the request Django passed
        positional = [*info.node.args.posonlyargs, *info.node.args.args]
        first = 1 if info.class_name is not None else 0
        if len(positional) <= first or positional[first].arg != "request":
            return None  # why: only a view's request is Django's
        return "user", "", ""

    def name(self, node: ast.Name, depth: int) -> Found | None:
        """A name the function binds once, to something JSON refuses (``tags = {"a"}``,
        ``for order in Order.objects.all()``), a model signal receiver's ``instance``;
        the name of a function of the module (never rebound) is a function."""
        info = self.scope.info
        if info is None:
            return None
        if node.id in self.bound:
            how, bound = _binding(info.node, node.id)
            if how == "assign" and _display(bound):
                held = self.scope.value(node)
                if held.unsure if held is not None else _changes(info.node, node.id):
                    return None  # why: the container may have changed since (``d[k] = v``)
            if how == "assign" and bound is not None:
                return self.kind(bound, depth + 1)
            if how == "each" and bound is not None and self.unshadowed(bound):
                item = queryset_item(bound, self.scope.imports, self.scope.index)
                model = django_model(item, self.scope.index) if item is not None else None
                return ("model", model, "") if model is not None else None
            if how == "parameter" and node.id == "instance" and self.receives_instance(info):
                return "model", "the signal's instance", ""
            return None
        found = self.scope.index.resolve_local(info, node.id)
        if found is not None and found.task is None and self.free_def(node.id):
            return "function", "", ""
        return None

    def free_def(self, name: str) -> bool:
        """No import and no assignment anywhere in the module binds ``name`` (the
        ``def`` is what it means)."""
        return self.scope.imports.qualify(ast.Name(name)) is None and not _module_assigns(
            self.scope, name
        )

    def receives_instance(self, info: FunctionInfo) -> bool:
        """``info`` is connected by ``@receiver(post_save, ...)`` (a model signal: its
        ``instance`` keyword is a model object) and keeps its ``instance``."""
        if _assigns(info.node, "instance"):
            return False
        for decorator in info.node.decorator_list:
            if not isinstance(decorator, ast.Call) or not decorator.args:
                continue
            if self.scope.imports.qualify(decorator.func) not in RECEIVERS:
                continue
            signal = decorator.args[0]
            signals = signal.elts if isinstance(signal, (ast.List, ast.Tuple)) else [signal]
            if signals and all(self.scope.imports.qualify(s) in MODEL_SIGNALS for s in signals):
                return True
        return False


def _changes(function: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    """``name`` (a container) is used in ``function`` other than in ways that keep it as
    it is: read by a builtin (``len(d)``), a read-only method (``d.get(k)``), an item read
    (``d[k]``), or sent (``t.delay(d)``). Anything else (an item set, ``d.update()``, the
    container put in another or handed to a function) may change it: the interpreter's
    own reading (``FunctionFlow.changed``), for containers it does not track."""
    parents = {id(c): p for p in ast.walk(function) for c in ast.iter_child_nodes(p)}
    for node in ast.walk(function):
        if not (isinstance(node, ast.Name) and node.id == name):
            continue
        if not isinstance(node.ctx, ast.Load):
            continue  # the binding itself (once: ``_binding``)
        parent = parents.get(id(node))
        if isinstance(parent, ast.Subscript) and isinstance(parent.ctx, ast.Load):
            continue  # ``d[k]``: an item read
        if isinstance(parent, ast.Attribute) and parent.attr in READS_ONLY:
            continue  # ``d.get(k)``
        if isinstance(parent, ast.Call) and node is not parent.func:
            func = parent.func
            if isinstance(func, ast.Name) and func.id in BUILTIN_NAMES:
                continue  # ``len(d)``, ``print(d)``
        sent: ast.AST = node  # ``t.delay(d)``, ``t.s(data=d)``, ``t.apply_async((d,))``
        while isinstance(parent, (ast.keyword, ast.Tuple, ast.List, ast.Dict, ast.Starred)):
            sent, parent = parent, parents.get(id(parent))
        if isinstance(parent, ast.Call) and sent is not parent.func and isinstance(
            parent.func, ast.Attribute
        ) and parent.func.attr in CELERY_TAKES:
            continue
        return True
    return False


def _display(node: ast.expr | None) -> bool:
    """A list, tuple, dict or set written out, or ``dict(k=v)``."""
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id == "dict"
    return isinstance(node, CONTAINER_DISPLAYS)


def _module_assigns(scope: Scope, name: str) -> bool:
    """Something in the module assigns ``name`` (or its tree is not at hand)."""
    index = scope.index
    tree = index.tree or getattr(index.analysis, "tree", None)
    return tree is None or _assigns(tree, name)


def _django(scope: Scope) -> bool:
    names = scope.imports.names.values()
    return any(q.partition(".")[0] in ("django", "rest_framework") for q in names)


def _binding(
    function: ast.FunctionDef | ast.AsyncFunctionDef, name: str
) -> tuple[str, ast.expr | None]:
    """How ``function`` binds ``name``, when it does so once: ``("parameter", None)``,
    ``("assign", value)`` (``name = v``, ``name: T = v``, or ``v[0]`` for ``name, created
    = M.objects.get_or_create()``), ``("each", iterable)`` (``for name in iterable``);
    ``("", None)`` otherwise (twice, or any other way)."""
    if any(a.arg == name for a in ast.walk(function.args) if isinstance(a, ast.arg)):
        stored = any(
            isinstance(n, ast.Name) and n.id == name and not isinstance(n.ctx, ast.Load)
            for statement in function.body for n in ast.walk(statement)
        )
        return ("", None) if stored else ("parameter", None)
    stores = [
        n for statement in function.body for n in ast.walk(statement)
        if isinstance(n, ast.Name) and n.id == name and not isinstance(n.ctx, ast.Load)
    ]
    if len(stores) != 1:
        return "", None
    for statement in (n for s in function.body for n in ast.walk(s)):
        if isinstance(statement, ast.AnnAssign) and statement.target is stores[0]:
            return "assign", statement.value
        if isinstance(statement, (ast.For, ast.AsyncFor)) and statement.target is stores[0]:
            return "each", statement.iter
        if not isinstance(statement, ast.Assign) or len(statement.targets) != 1:
            continue
        target = statement.targets[0]
        if target is stores[0]:
            return "assign", statement.value
        if isinstance(target, ast.Tuple) and target.elts and target.elts[0] is stores[0]:
            first = ast.Subscript(value=statement.value, slice=ast.Constant(0), ctx=ast.Load())
            return "assign", first
    return "", None


def _assigns(function: ast.AST, name: str) -> bool:
    return any(
        isinstance(n, ast.Name) and n.id == name and not isinstance(n.ctx, ast.Load)
        for n in ast.walk(function)
    )


def _bound_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> frozenset[str]:
    """The names ``function`` binds: its parameters, and what its body assigns, loops
    over, imports or defines (not its own name: the module binds that)."""
    names = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)}
    for node in (n for statement in function.body for n in ast.walk(statement)):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).partition(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
    return frozenset(names)


EVENTS = Subscribers()


@EVENTS.on_call
def record_unencodable(scope: Scope, call: CallEvent) -> None:
    """A task sent here (``t.delay(...)``, ``t.apply_async(args, kwargs)``), or the
    signatures written inside a canvas sent here (``t.s(x).delay()``, ``chain(t.s(x),
    ...).apply_async()``). A signature made and kept is not read: it is data, whose
    arguments may be replaced before it is sent, or never sent at all."""
    if call.method not in SENDING:
        return
    if isinstance(call.receiver, TaskRef):
        _record(scope, call.node, call.receiver)
        return
    assert isinstance(call.node.func, ast.Attribute)
    kept = call.node.func.value
    if isinstance(call.receiver, Canvas) and isinstance(kept, ast.Name):
        _record_kept(scope, call.node, kept, call.receiver)
        return
    for node in _inline_signatures(call.node.func.value):
        held = scope.value(node.func.value) if isinstance(node.func, ast.Attribute) else None
        if isinstance(held, TaskRef):
            _record(scope, node, held)


def _record_kept(scope: Scope, call: ast.Call, kept: ast.Name, signature: Canvas) -> None:
    """``sig = t.s(order)``, then ``sig.delay()``: the signature's own arguments, as the
    interpreter kept them (forgotten once it may have changed: ``sig.args = ...``)."""
    found = refused(signature.arguments, scope.index)
    task = _task(scope, signature.task) if signature.task is not None else None
    if found is None or task is None or not _celerys_class(task):
        return
    assert isinstance(call.func, ast.Attribute)
    step = f"{ast.unparse(call.func)}()"
    scope.record("CSF207", Unencodable(kept, call, step, call.func.attr, *found))


def _inline_signatures(node: ast.expr) -> Iterator[ast.Call]:
    """The signature calls (``t.s(...)``) written in a canvas expression, not in a lambda."""
    pending: list[ast.AST] = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, ast.Lambda):
            continue
        if (
            isinstance(current, ast.Call)
            and isinstance(current.func, ast.Attribute)
            and current.func.attr in SIGNATURES
        ):
            yield current
        pending.extend(ast.iter_child_nodes(current))


def _record(scope: Scope, call: ast.Call, receiver: TaskRef) -> None:
    assert isinstance(call.func, ast.Attribute)
    task = _task(scope, receiver)
    if task is None or not _celerys_class(task):
        return  # why: only a task of the project is known to be Celery's, sent as Celery does
    arguments = sent_arguments(call, call.func.attr)
    if not arguments and call.func.attr not in PACKED:
        return
    info = scope.info
    kinds = _Kinds(scope, _bound_names(info.node) if info is not None else frozenset())
    step = f"{ast.unparse(call.func)}()"
    for argument in arguments:
        found = kinds.kind(argument)
        if found is not None:
            scope.record("CSF207", Unencodable(argument, call, step, call.func.attr, *found))
    for pack, found in _kept_packs(scope, call, call.func.attr):
        scope.record("CSF207", Unencodable(pack, call, step, call.func.attr, *found))


NO_FIX = "sending the primary key changes what the task receives: see the page's fix"
#: What a model instance's message advises.
MODEL_FIX = "send its primary key ({arg}.pk) and load the object inside the task"
OTHER_FIX = "send plain data (a list, a dict, ids) instead"
FIXES = {
    "model": MODEL_FIX,
    "user": MODEL_FIX,
    "queryset": "send a list (list({arg}.values_list('pk', flat=True)), or list() of a "
    "values() QuerySet) and load the objects inside the task",
}
#: An item of a list or dict written at the call (``[order]``): its expression is there.
ITEM_FIXES = {
    "model": "send its primary key and load the object inside the task",
    "user": "send its primary key and load the object inside the task",
    "queryset": "send a list of its primary keys and load the objects inside the task",
}
#: Where kombu raises (measured on a real worker).
SENT = "kombu raises EncodeError in the caller, here, and nothing is sent"


def _sending_facts(analysis: ModuleAnalysis) -> Iterator[FunctionFacts]:
    """The facts of the top level and of each function that sends something: only their
    own sends are recorded, and a module woken by ``.delay(`` alone is mostly functions
    that send nothing (walking all of them was most of what the rule cost ``check``)."""
    yield analysis.module
    for info in analysis.index.functions:
        if any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in SENDING
            for n in ast.walk(info.node)
        ):
            facts = analysis.summary(info, follow_imports=info.task is not None)
            if facts is not None:
                yield facts


@rule(
    "CSF207",
    invalid=INVALID,
    valid=VALID,
    without_tasks=(".delay(", ".apply_async(", ".s(", ".si(", ".signature(", ".subtask("),
    needs_tasks_elsewhere=True,
    events=EVENTS,
    no_fix=NO_FIX,
)
def unencodable_argument(report: Report) -> Iterator[Finding]:
    found = [
        fact
        for facts in _sending_facts(report.analysis)
        for fact in facts.found.get("CSF207", ())
        if isinstance(fact, Unencodable)
    ]
    if not found:
        return
    index = report.analysis.index
    sends_json = getattr(index.external, "sends_json", None)
    if sends_json is not None:
        json = sends_json()
    else:  # a module checked on its own (``check_source``): it is the whole project
        text = "\n".join(index.lines) if index.lines else ast.unparse(report.analysis.tree)
        json = json_only(text.encode("utf-8", "replace"))
    if not json:
        return  # why: the project's serializer is not known to be JSON
    for fact in found:
        text = ast.unparse(fact.node)
        described = JSON_REFUSES[fact.kind]
        if fact.what:
            described = f"{fact.what}, {described}"
        if fact.where:
            described = f"{described}, at {fact.where}"
        # the item's own expression is known only under a name (``payload['user']``)
        item = f"{text}{fact.where}" if isinstance(fact.node, ast.Name) else ""
        fix = FIXES.get(fact.kind, OTHER_FIX).format(arg=item or text)
        if fact.where and not item:
            fix = ITEM_FIXES.get(fact.kind, OTHER_FIX)
        yield report.finding(
            "CSF207",
            fact.node,
            step=fact.step,
            argument=text,
            type=described,
            serializer="json",
            reason=f"{SENT}; {fix}",
        )
