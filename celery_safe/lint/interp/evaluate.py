"""What an expression evaluates to, as far as Celery results, canvases and tasks go.

``Evaluator.value(node)`` is pure: it reads the environment the walk of the function
(:class:`~.flow.FunctionFlow`) keeps and never records anything, so it may be asked
twice about the same node. Canvas expressions come back with their shape
(:mod:`~.canvas`) so the canvas rules can count what each link receives.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from ...canvas import Chord, Group, Mapped, Node, Step
from ...canvas.compose import chord_header, fold_chain, group_of, pipe
from ...canvas.model import Unregistered
from ...canvas.text import SourceText
from .appconfig import BeatEntry
from .canvas import make_step, source_args
from .facts import FunctionFacts
from .held import displayed, keywords_held, queryset_of, signature_held
from .imports import FOREIGN_ROOTS, dotted
from .index import CURRENT_APPS, FunctionInfo, ModuleIndex
from .objects import (
    DJANGO_MODELS,
    GET_OR_404,
    MANAGER_GETTERS,
    USER_MODEL,
    USER_MODEL_FACTORY,
    class_named,
    manager_model,
    rehomed,
    returned_by_annotation,
    tuple_value,
)
from .registration import reexported_as, unregistered_name
from .values import (
    HELD,
    JOINS,
    Canvas,
    Eager,
    Foreign,
    Instance,
    JoinMethod,
    Param,
    QuerySet,
    Refused,
    Result,
    ResultClass,
    Results,
    TaskRef,
    TupleOf,
    Value,
    Zipped,
    collection,
    element,
    holds_results,
)

__all__ = [
    "RESULT_CLASSES",
    "Env",
    "Evaluator",
    "bound_self",
    "concatenated",
    "is_true",
    "keyword_arg",
    "keyword_names",
    "listed_items",
    "sent_arguments",
    "signatures",
]

#: The app's own signals: Celery sends each with ``sender=`` the app
#: (``on_configure``, ``on_after_configure``, ``on_after_finalize``, ``on_after_fork``).
APP_SIGNALS = frozenset(
    {"on_configure", "on_after_configure", "on_after_finalize", "on_after_fork"}
)

Env = dict[str, Value]

RESULT_FACTORIES = frozenset(
    {
        "celery.result.AsyncResult",
        "celery.result.GroupResult",
        "celery.result.ResultSet",
        "celery.result.EagerResult",
        "celery.result.result_from_tuple",
        "celery.AsyncResult",
        "celery.GroupResult",
        "celery.ResultSet",
    }
)
RESULT_CLASSES = frozenset({"AsyncResult", "GroupResult", "ResultSet"})
#: Builtins a process pool is commonly handed (``pool.apply_async(sum, ...)``).
BUILTIN_FUNCTIONS = frozenset(
    name for name in dir(builtins) if callable(getattr(builtins, name)) and name.islower()
)
CANVAS_FACTORIES = {
    f"{module}.{name}": name
    for module in ("celery", "celery.canvas")
    for name in ("chain", "group", "chord", "signature", "subtask", "chunks", "xmap", "xstarmap")
}
SIGNATURE_METHODS = frozenset({"s", "si", "signature", "subtask"})
#: ``task.map(it)``, ``task.starmap(it)``, ``task.chunks(it, n)`` and the factories.
MAP_METHODS = frozenset({"map", "starmap", "chunks"})
MAP_FACTORIES = {"xmap": "map", "xstarmap": "starmap", "chunks": "chunks"}
#: Celery's ways to make a signature from a task name, a task or a dict
#: (``Signature("shop.add", (1,))``, ``signature(add)``, ``Signature.from_dict(d)``)
SIGNATURE_FACTORIES = frozenset(
    f"{module}.{name}"
    for module in ("celery", "celery.canvas")
    for name in ("signature", "subtask", "Signature", "Signature.from_dict", "maybe_signature")
)
CANVAS_METHODS = frozenset({"set", "clone", "on_error", "link", "link_error", "set_immutable"})
CONTAINER_ELEMENT = frozenset({"get", "pop", "setdefault", "popitem"})
CONTAINER_SAME = frozenset({"values", "items", "copy"})
CONTAINERS = frozenset(
    {"list", "tuple", "set", "sorted", "reversed", "enumerate", "zip", "iter", "frozenset"}
)


def bound_self(info: FunctionInfo | None) -> str | None:
    """The name a bound task's function gives the task itself (``self``), if it is one."""
    if info is None or info.task is None or not info.task.bind or info.class_name:
        return None
    positional = [*info.node.args.posonlyargs, *info.node.args.args]
    return positional[0].arg if positional else None


#: methods that put items in a container (``self.pending.append(r)``)
_FILLS = frozenset({"append", "add", "insert", "extend", "update", "appendleft", "setdefault"})


def _stores_by_attribute(methods: Mapping[str, FunctionInfo]) -> dict[str, list[FunctionInfo]]:
    """The methods of a class that assign or fill each ``self.X``, by ``X``."""
    stores: dict[str, list[FunctionInfo]] = {}
    for method in methods.values():
        for attr in _stored_attributes(method.node):
            stores.setdefault(attr, []).append(method)
    return stores


#: Nodes that hold no assignment and no call (nor do their children): never walked into.
_NO_STORES = (
    ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop, ast.Name, ast.Constant,
)
_ASSIGNS = (ast.Assign, ast.AugAssign, ast.AnnAssign)
_STORING = (*_ASSIGNS, ast.Call)


def stored_by(node: ast.AST, me: str) -> Iterator[str]:
    """The ``X`` one node stores as ``me.X``: ``me.X = ...``, ``me.X[k] = ...``,
    ``me.X += ...``, ``me.X: T = ...``, ``me.X.append(...)`` (and the other fills)."""
    if isinstance(node, _ASSIGNS):
        for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
            if isinstance(target, ast.Subscript):
                target = target.value
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == me
            ):
                yield target.attr
    elif isinstance(node, ast.Call):
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in _FILLS
            and isinstance(func.value, ast.Attribute)
            and isinstance(func.value.value, ast.Name)
            and func.value.value.id == me
        ):
            yield func.value.attr  # ``self.pending.append(...)``


def _stored_attributes(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The ``X`` a method assigns or fills as ``self.X`` (its first parameter's). Only
    these methods are asked what ``self.X`` holds: asking one that merely reads it could
    walk it while the asker's own walk is unfinished (its summary would miss joins).

    Every node of the method is looked at, nested defs too, as ``ast.walk`` would, but
    from a list, without stepping into names, constants and operators (what cost most:
    every method of a class asked about is walked; 2x faster than ``ast.walk``).
    """
    args = [*node.args.posonlyargs, *node.args.args]
    me = args[0].arg if args else None
    stored: set[str] = set()
    if me is None:
        return stored  # no ``self``: nothing it names
    todo: list[ast.AST] = [node]
    pop, push = todo.pop, todo.append
    while todo:
        sub = pop()
        if isinstance(sub, _STORING):
            stored.update(stored_by(sub, me))
        for name in sub._fields:
            value = getattr(sub, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST) and not isinstance(item, _NO_STORES):
                        push(item)
            elif isinstance(value, ast.AST) and not isinstance(value, _NO_STORES):
                push(value)
    return stored


def keyword_names(
    keywords: Sequence[ast.keyword], skip: Iterable[str] = ()
) -> frozenset[str] | None:
    if any(k.arg is None for k in keywords):
        return None
    return frozenset(k.arg for k in keywords if k.arg is not None and k.arg not in skip)


def keyword_arg(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


class Evaluator:
    """Expression values for one function; :class:`~.flow.FunctionFlow` walks and records."""

    def __init__(
        self,
        index: ModuleIndex,
        info: FunctionInfo | None,
        global_env: Env,
        summary: Callable[[FunctionInfo], FunctionFacts | None],
        follow_imports: bool = False,
    ) -> None:
        self.index = index
        self.imports = index.imports_for(info)
        self.info = info
        self.globals = global_env
        self.summary = summary
        #: may calls resolve to functions of other modules (``celery-safe check``)?
        self.follow_imports = follow_imports and index.external is not None
        self.env: Env = {}
        self.comprehension_values: dict[int, Value | None] = {}

    # -- name binding -------------------------------------------------------------
    def lookup(self, name: str) -> Value | None:
        value = self.env.get(name)
        if value is not None or name in self.env:
            return value
        if name in self.index.task_names:
            return TaskRef(callee=name, task=self.index.task_names[name])
        if self.info is not None and self.info.parent is not None:
            enclosing = self.index.closures.get(id(self.info.node), {})
            if name in enclosing:
                found: Value = enclosing[name]
                return found  # a name of the enclosing function, read by a closure
        value = self.globals.get(name)
        if value is not None:
            return value
        qualified = self.imports.names.get(name)
        if qualified is not None and name not in self.imports.modules:
            if self.imports.is_foreign(ast.Name(name)):
                return Foreign()
            return TaskRef(callee=name, qualified=qualified)  # resolved when needed
        return None

    def resolve_helper(self, func: ast.expr) -> FunctionInfo | None:
        """The ``def`` a call goes to: local, enclosing, module-level, a method via
        ``self``, or (``celery-safe check`` only) a function of another module."""
        if isinstance(func, ast.Name) and func.id in self.env:
            return None
        if isinstance(func, ast.Name):
            local = self.index.resolve_local(self.info, func.id)
            if local is not None:
                return local
        if self.follow_imports and isinstance(func, (ast.Name, ast.Attribute)):
            qualified = self.imports.qualify(func)
            if qualified is not None and qualified.partition(".")[0] not in FOREIGN_ROOTS:
                found = self.index.imported(qualified)
                if found is not None and found.task is None:
                    return found
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in ("self", "cls")
            and self.info is not None
            and self.info.class_name is not None
        ):
            cls = self.info.class_name
            found = self.index.methods.get(cls, {}).get(func.attr)
            return found or self.index.attribute_callable(cls, func.attr)
        if isinstance(func, ast.Attribute):
            return self.method_of(func)
        return None

    def method_of(self, func: ast.Attribute) -> FunctionInfo | None:
        """``Poller().wait`` / ``poller.wait``: a method of a project class's object."""
        base = self.value(func.value)
        return self.method_named(base, func.attr) if isinstance(base, Instance) else None

    def method_named(self, base: Instance, name: str) -> FunctionInfo | None:
        """The method ``name`` of the project object ``base``, if its class has one."""
        home = base.home or self.index
        if not base.qualified:
            return home.method(base.callee, name)
        lookup = getattr(home.external, "class_home", None)
        where = lookup(base.qualified) if lookup is not None else None
        return where[0].method(where[1], name) if where is not None else None

    def class_value(self, node: ast.expr) -> Value | None:
        """An object of the class ``node`` names (``Poller``, ``models.Run``), if it is
        a project class: defined in this module, or imported (resolved when needed); the
        user model that ``get_user_model()`` returns (called here, or kept in a name)."""
        if self.user_model(node):
            name = node.id if isinstance(node, ast.Name) else "User"
            return Instance(callee=name, qualified=USER_MODEL)
        if (
            isinstance(node, ast.Name)
            and node.id in self.index.classes
            and node.id not in self.env
            and self.index.resolve_local(self.info, node.id) is None
        ):
            return Instance(callee=node.id)
        qualified = self.imports.qualify(node)
        if qualified in DJANGO_MODELS and isinstance(node, ast.Name):
            return Instance(callee=node.id, qualified=qualified)  # Django's own: known
        if qualified is None or not self.follow_imports or not isinstance(node, ast.Name):
            return None
        if qualified.partition(".")[0] in FOREIGN_ROOTS or self.imports.is_foreign(node):
            return None
        return Instance(callee=node.id, qualified=qualified)

    def user_model(self, node: ast.expr) -> bool:
        """``get_user_model()``, or a name holding what it returned (``User = ...``)."""
        if isinstance(node, ast.Call):
            return not node.args and self.imports.qualify(node.func) == USER_MODEL_FACTORY
        if isinstance(node, ast.Name):
            held = self.lookup(node.id)
            return isinstance(held, Instance) and held.qualified == USER_MODEL_FACTORY
        return False

    def got_or_404(self, node: ast.Call) -> Value | None:
        """``get_object_or_404(Model, ...)`` (or of a queryset): one object of the model."""
        klass = node.args[0] if node.args else keyword_arg(node, "klass")
        if klass is None:
            return None
        return self.model_class(manager_model(klass) or klass)

    def model_class(self, node: ast.expr) -> Instance | None:
        """An object of the class ``node`` names, where Django's API says it is a model
        (``node.objects``, ``get_object_or_404(node)``): :meth:`class_value`, else (a
        walk that follows no import) the class resolved through the imports alone,
        whether it is a model decided when asked (``objects.django_model``)."""
        made = self.class_value(node)
        if made is not None or self.follow_imports:
            return made if isinstance(made, Instance) else None
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and (
            root.id in self.env or root.id in self.globals
            or self.index.resolve_local(self.info, root.id) is not None
        ):
            return None  # why: a name bound here is not the class it may have been
        return class_named(node, self.imports, self.index)

    # -- values -----------------------------------------------------------------------
    def value(self, node: ast.expr | None) -> Value | None:
        """What ``node`` evaluates to, as far as Celery results are concerned."""
        if isinstance(node, ast.Name):
            found = self.lookup(node.id)
            if (
                isinstance(found, Canvas)
                and isinstance(found.canvas, Step)
                and not found.canvas.immutable
            ):
                # report a signature where it is used, not where it was built (an
                # immutable one's problems are its own arguments: reported where written)
                return replace(found, canvas=replace(found.canvas, origin=node))
            return found
        if isinstance(node, ast.Call):
            return self.call_value(node)
        if isinstance(node, ast.Attribute):
            name = dotted(node)
            if name is not None and name in self.env:
                return self.env[name]
            return self.attribute_value(node)
        if isinstance(node, ast.Subscript):
            registry = self.registry_lookup(node)
            if registry is not None:
                return registry
            base = self.value(node.value)
            at = node.slice
            held_items = base.items if isinstance(base, (Results, TupleOf)) else ()
            if (
                held_items and isinstance(at, ast.Constant)
                and type(at.value) is int and -len(held_items) <= at.value < len(held_items)
            ):
                return held_items[at.value]  # ``pair[1]`` of ``(result, run)``
            return element(base) if base is not None else None
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = [self.value(e) for e in node.elts]
            if not isinstance(node, ast.Set) and (listed := listed_of(node.elts, items)):
                return listed  # ``[a.s(), *more]``: a list of signatures, in order
            held = self.container(items)
            if isinstance(node, ast.Tuple) and not any(
                isinstance(e, ast.Starred) for e in node.elts
            ):
                held = tuple_value(items, held)
            if held is not None:
                return held
            if isinstance(node, ast.Set):
                return Refused(kind="set")  # a set, whatever it holds: JSON has none
            return displayed(node, self.value)  # ``[order]``: a list holding an object
        if isinstance(node, ast.Dict):
            return self.container([self.value(v) for v in node.values]) or displayed(
                node, self.value
            )
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            return self.comprehension_values.get(id(node))
        if isinstance(node, ast.IfExp):
            return _either([self.value(node.body), self.value(node.orelse)])
        if isinstance(node, ast.BoolOp):
            return _either([self.value(operand) for operand in node.values])
        if isinstance(node, ast.NamedExpr):
            return self.value(node.value)
        if isinstance(node, ast.Starred):
            return self.value(node.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self.pipe(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return concatenated(self.value(node.left), self.value(node.right))
        if isinstance(node, ast.Await):
            return None
        return None

    def container(self, items: list[Value | None]) -> Value | None:
        for item in items:
            if holds_results(item):
                assert item is not None
                return collection(item)
        canvases = [item.canvas for item in items if isinstance(item, Canvas)]
        if items and len(canvases) == len(items):
            # a list of signatures: what a group or a chord header is made of
            return signatures(canvases, exact=True)
        return None

    def builtin(self, name: str) -> bool:
        """``name`` is Python's builtin here: nothing of the function or module binds it."""
        return (
            name not in self.env
            and self.imports.qualify(ast.Name(name)) is None
            and self.index.resolve_local(self.info, name) is None
            and name not in self.index.classes
            and self.globals.get(name) is None
        )

    def passes_function(self, node: ast.Call) -> bool:
        """Is the first argument a function? Celery's ``apply_async`` takes args there."""
        if not node.args:
            return False
        first = node.args[0]
        if isinstance(first, ast.Lambda):
            return True
        if isinstance(first, ast.Name) and first.id not in self.env:
            return first.id in BUILTIN_FUNCTIONS or self.resolve_helper(first) is not None
        if isinstance(first, ast.Attribute) and self.resolve_helper(first) is not None:
            return True  # ``pool.apply_async(self.compute, (record,))``: a method
        # Celery's second positional argument is the kwargs dict, never a tuple
        return len(node.args) > 1 and isinstance(node.args[1], (ast.Tuple, ast.List))

    def attribute_value(self, node: ast.Attribute) -> Value | None:
        qualified = self.imports.qualify(node)
        on_module = self.imports.is_module(node.value) or (
            isinstance(node.value, ast.Attribute) and self.imports.qualify(node.value) is not None
        )
        if qualified is not None and (on_module or isinstance(node.value, ast.Name)):
            # ``tasks.add`` where ``tasks`` is a module (``import``, or ``from . import``)
            if qualified.partition(".")[0] in ("celery", "kombu"):
                return None
            if self.imports.is_foreign(node):
                return Foreign()
            task = self.index.imported_task(qualified)
            if on_module or task is not None:
                return TaskRef(callee=ast.unparse(node), task=task)
        base = self.value(node.value)
        attr = node.attr
        match base:
            case Result() if attr == "parent":
                return base
            case Result() if attr in ("children", "results"):
                return collection(base)
            case Result() if attr in JOINS:
                return JoinMethod(join=attr, base=base)
            case Param() if attr in ("parent", "children", "results"):
                return base
            case Instance():
                return self.instance_attribute(base, attr)
        return None

    def instance_attribute(self, base: Instance, attr: str) -> Value | None:
        """``self.runner`` where the class's ``__init__`` does ``self.runner = Runner()``:
        an object of that project class too (its methods are followed)."""
        home = base.home or self.index
        if base.qualified:
            lookup = getattr(home.external, "class_home", None)
            where = lookup(base.qualified) if lookup is not None else None
            if where is None:
                return None
            home, cls = where
        else:
            cls = base.callee
        found = home.init_assignment(cls, attr)
        made = found[2] if found is not None else None
        if not isinstance(made, ast.Call) or not isinstance(made.func, ast.Name):
            return self.stored_results(home, cls, attr)
        if made.func.id in home.classes:
            return Instance(callee=made.func.id, home=home)
        qualified = home.imports_for(found[0] if found else None).qualify(made.func)
        if qualified is None:
            return self.stored_results(home, cls, attr)  # ``self.pending = set()``
        if not self.follow_imports or home.external is None:
            return None
        if qualified.partition(".")[0] in FOREIGN_ROOTS:
            return None
        return Instance(callee=made.func.id, qualified=qualified, home=home)

    def stored_results(self, home: ModuleIndex, cls: str, attr: str) -> Value | None:
        """``self.pending`` that another method of this module's class ``cls`` fills with
        Celery results (``self.pending.append(t.delay(x))``, ``self.pending = ...``)."""
        if home is not self.index:
            return None
        if home.attribute_stores is None:
            home.attribute_stores = {}
        stores = home.attribute_stores.get(cls)
        if stores is None:  # why: per class asked, not every class of the module at once
            stores = home.attribute_stores[cls] = _stores_by_attribute(home.methods.get(cls, {}))
        for method in stores.get(attr, ()):
            if method is self.info:
                continue
            summary = self.summary(method)  # None while it is being walked (recursion)
            held = summary.stores.get(attr) if summary is not None else None
            if held is not None:
                return held
        return None

    def call_value(self, node: ast.Call) -> Value | None:
        func = node.func
        if isinstance(func, ast.Attribute):
            return self.method_value(node, func)
        if isinstance(func, ast.Name) and func.id in self.index.task_names:
            made_task = self.class_task(node)  # a class task of this module
            if made_task is not None:
                return made_task
        if isinstance(func, ast.Name) and func.id in self.index.classes:
            made = self.class_value(func)
            if made is not None:
                return made
        qualified = self.imports.qualify(func)
        if qualified == GET_OR_404:
            return self.got_or_404(node)
        if qualified == USER_MODEL_FACTORY and not node.args:
            # the user model class (a known function of Django's: nothing to resolve)
            return Instance(callee=ast.unparse(func), qualified=USER_MODEL_FACTORY)
        if qualified is not None:
            return (
                self.factory_value(node, qualified)
                or self.helper_returns(func)
                or self.class_value(func)
            )
        if isinstance(func, ast.Name):
            if func.id == "dict" and self.builtin(func.id):
                return keywords_held(node, self.value)  # ``dict(order=order)``
            if func.id == "zip" and func.id not in self.env:
                return self.zipped(node)
            if func.id in CONTAINERS and node.args and func.id not in self.env:
                inner = self.value(node.args[0])
                if isinstance(inner, Zipped):
                    return inner  # ``list(zip(xs, results))``
                return collection(inner) if inner is not None and holds_results(inner) else None
            if func.id == "next" and node.args:
                inner = self.value(node.args[0])
                return element(inner) if inner is not None else None
        called = self.value(func)
        if called is not None:
            return self.apply_value(node, called)
        return self.helper_returns(func)

    def zipped(self, node: ast.Call) -> Value | None:
        """``zip(xs, results)``: tuples whose positions are known (``Zipped``), when one
        of the iterables holds results or is a parameter (a helper's: its callers')."""
        if node.keywords and any(k.arg != "strict" for k in node.keywords):
            return None
        if any(isinstance(a, ast.Starred) for a in node.args):
            return None  # ``zip(*rows)``: the positions are not known
        values = [self.value(a) for a in node.args]
        items = tuple(element(v) if v is not None else None for v in values)
        if not any(isinstance(item, (Result, Param)) for item in items):
            return None
        return Zipped(items=items)

    def class_task(self, node: ast.Call) -> TaskRef | None:
        """``Cls()`` of a ``Task`` subclass: the task object (``Cls().delay(...)``)."""
        func = node.func
        if not isinstance(func, ast.Name) or node.args or node.keywords:
            return None
        ref = self.lookup(func.id)
        if not isinstance(ref, TaskRef):
            return None
        task = self.task_of(ref)
        made = task.task if task is not None else None
        if task is None or made is None or made.how != "class" or task.class_name != func.id:
            return None
        return replace(ref, task=task)

    def helper_returns(self, func: ast.expr) -> Value | None:
        """What a call to a helper returns: a Celery result, or a canvas built in this
        module (its steps are reported where they are written, so only here)."""
        callee = self.resolve_helper(func)
        if callee is None or callee.task is not None:
            return None
        summary = self.summary(callee)
        returned = summary.returns if summary is not None else None
        owner = callee.module
        if returned is None and summary is not None and owner is self.index:
            returned = summary.returns_canvas
        if returned is None and summary is not None:
            # an object (``return Run(...)``, ``return self``), a container or QuerySet
            # every return agrees on, else what the annotation says (``-> tuple[
            # AsyncResult, Run]``); only returns that agree are sure (``-> X | None``)
            returned = summary.returns_object or summary.returns_held
            if returned is not None and replace(returned, via=()) != summary.returns_held:
                returned = replace(returned, unsure=True)
            returned = returned or _unsure(returned_by_annotation(callee))
        if returned is not None and owner is not None and owner is not self.index:
            if isinstance(returned, (Result, Results, Eager)):
                returned = replace(returned, origin_path=returned.origin_path or owner.path)
            returned = rehomed(returned, owner)
        return returned

    def apply_value(self, node: ast.Call, called: Value) -> Value | None:
        match called:
            case ResultClass():
                return Result(origin=node, method=called.callee, callee=called.callee)
            case Canvas(canvas=canvas):
                # ``chord(h)(body)`` runs the whole chord, checked at ``node`` itself
                origin = canvas.origin if canvas is not None else None
                runs = (origin, node) if isinstance(origin, ast.AST) else (node,)
                callee = ast.unparse(node.func)
                return Result(origin=node, method="__call__", callee=callee, runs=runs)
            case Instance(qualified=qualified) if qualified == USER_MODEL_FACTORY:
                return Instance(callee=ast.unparse(node.func), qualified=USER_MODEL)
            case TaskRef():
                task = called.task
                if task is None and called.qualified and self.follow_imports:
                    task = self.index.imported_task(called.qualified)
                return self.dispatched(node, task) if task is not None else None
        return None

    def dispatched(self, node: ast.Call, info: FunctionInfo) -> Value | None:
        """Calling ``info`` through a project decorator whose wrapper sends it
        (``return func.apply_async(args, kwargs)``): the call gives a Celery result."""
        owner = info.module or self.index
        for decorator in info.node.decorator_list:
            if not isinstance(decorator, (ast.Name, ast.Attribute)):
                continue
            factory = None
            if isinstance(decorator, ast.Name):
                factory = owner.resolve_local(info.parent, decorator.id)
            if factory is None:
                qualified = owner.imports_for(info.parent).qualify(decorator)
                factory = owner.imported(qualified) if qualified else None
            if factory is None or factory.task is not None:
                continue
            wrapper = _returned_def(factory)
            summary = self.summary(wrapper) if wrapper is not None else None
            if summary is not None and summary.returns is not None:
                method = getattr(summary.returns, "method", "")
                return Result(origin=node, method=method, callee=ast.unparse(node.func))
        return None

    def factory_value(self, node: ast.Call, qualified: str) -> Value | None:
        if qualified in RESULT_FACTORIES:
            method = qualified.rpartition(".")[2]
            return Result(origin=node, method=method, callee=ast.unparse(node.func))
        if qualified in SIGNATURE_FACTORIES:
            return self.made_signature(node)
        kind = CANVAS_FACTORIES.get(qualified)
        if kind is not None:
            return Canvas(canvas=self.build_canvas(kind, node))
        if qualified.partition(".")[0] in FOREIGN_ROOTS:
            return Foreign()
        return None

    def method_value(self, node: ast.Call, func: ast.Attribute) -> Value | None:
        attr = func.attr
        receiver = func.value
        qualified = self.imports.qualify(func)
        if qualified is not None and (self.imports.is_module(receiver) or "." in qualified):
            found = self.factory_value(node, qualified)
            if found is not None or self.imports.is_module(receiver):
                return found or self.helper_returns(func)
        if attr == "get" and (registered := self.registry_lookup(node)) is not None:
            return registered
        if attr in MANAGER_GETTERS:
            model = manager_model(receiver)
            made = self.model_class(model) if model is not None else None
            if made is not None:  # ``Run.objects.get(pk=pk)``: one Run
                return tuple_value([made, None], None) if attr.endswith("_or_create") else made
        if isinstance(receiver, ast.Attribute) and receiver.attr == "objects":
            found = queryset_of(func, None, self.model_class(receiver.value))
            if found is not None:
                return found  # ``Order.objects.filter(...)``
        base = self.value(receiver)
        if isinstance(base, QuerySet):
            if attr in MANAGER_GETTERS and base.rows == "objects":
                # ``qs.get(pk=pk)`` of a QuerySet kept in a name: one of its objects
                made = replace(base.model, unsure=base.unsure)
                return tuple_value([made, None], None) if attr.endswith("_or_create") else made
            return queryset_of(func, base, None)  # ``qs.values("pk")``, else unknown
        if (
            (base is None or isinstance(base, Instance)) and isinstance(receiver, ast.Call)
            and attr in TASK_OBJECT_METHODS
        ):
            # ``Cls().s(...)``, ``Cls().delay(...)`` of another module's class task
            # (looked up only here, where it is used as a task: reading a module costs)
            base = self.class_task(receiver) or base
        if isinstance(base, Foreign):
            return None
        if isinstance(base, Instance):
            # a project object: its own methods are followed; anything else about it
            # is as unknown as any other object's (unless its class does not define
            # it: ``delay`` of a project Task subclass is Celery's)
            if self.method_of(func) is not None or attr not in ("delay", "apply_async", "apply"):
                return self.helper_returns(func)
            base = None
        # what the receiver may be: unknown (``None``), a task, a canvas, a parameter...
        unknown = base is None
        task_or_unknown = unknown or isinstance(base, TaskRef)
        # (the receiver's text is written out only for a result made here: unparse costs)
        if attr in ("delay", "apply_async"):
            pool_like = (unknown or isinstance(base, Param)) and attr == "apply_async"
            if pool_like and self.passes_function(node):
                return None  # pool.apply_async(func, args): a process pool, not Celery
            if task_or_unknown or isinstance(base, (Canvas, Param)):
                runs = _runs(base)
                ignored = self.sent_ignored(node, attr, base)
                return Result(origin=node, method=attr, callee=ast.unparse(receiver),
                              runs=runs, ignored=ignored)
            return None
        if attr == "apply":
            if isinstance(base, (TaskRef, Canvas)):
                return Result(origin=node, method=attr, callee=ast.unparse(receiver))
            if isinstance(base, Param) and base.name == bound_self(self.info):
                # ``self.apply()`` in a bound task: Celery's EagerResult, whose ``get``
                # raises in a worker (``assert_will_not_block``) like any join
                return Result(origin=node, method=attr, callee=ast.unparse(receiver))
            if unknown or isinstance(base, Param):
                # an EagerResult (or not Celery at all): joining it waits for no worker
                return Eager(origin=node, method=attr, callee=ast.unparse(receiver))
            return None
        if attr == "send_task" and task_or_unknown:
            label = node.args[0] if node.args else None
            callee = repr(label.value) if isinstance(label, ast.Constant) else "send_task"
            return Result(origin=node, method=attr, callee=callee)
        if attr in RESULT_CLASSES and (task_or_unknown or isinstance(base, Param)):
            # ``self.AsyncResult(task_id)`` of a bound task (or a task it is given)
            return Result(origin=node, method=attr, callee=ast.unparse(func))
        if attr == "restore" and (
            isinstance(base, ResultClass)
            or (
                isinstance(receiver, (ast.Name, ast.Attribute))
                and ast.unparse(receiver).endswith("GroupResult")
            )
        ):
            return Result(origin=node, method="restore", callee=ast.unparse(func))
        if attr in ("signature", "subtask") and _names_task(node) and (
            base is None or isinstance(base, TaskRef)
        ):
            return self.made_signature(node)  # ``app.signature("shop.add", (1,))``
        if attr in SIGNATURE_METHODS and (base is None or isinstance(base, TaskRef)):
            signed = Canvas(canvas=self.signature(node, func, base))
            if isinstance(base, TaskRef) and attr in ("s", "si"):
                # what it is sent with later (``sig.delay()``): its own arguments
                held = signature_held(node, self.value)
                signed = replace(signed, task=base, arguments=held)
            return signed
        if attr in MAP_METHODS and isinstance(base, TaskRef):
            task = make_step(func.value, ast.unparse(func.value).rpartition(".")[2],
                             self.task_of(base), (), {})
            items = node.args[0] if node.args else keyword_arg(node, "it")
            return Canvas(canvas=mapped_step(node, task, attr, items))
        if isinstance(base, Canvas):
            return self.canvas_method(node, attr, base)
        if isinstance(base, Results):
            if attr in CONTAINER_ELEMENT:
                return element(base)
            if attr in CONTAINER_SAME:
                return base
        return self.helper_returns(func)  # self.method(...), utils.helper(...)

    # -- canvas shapes ------------------------------------------------------------
    def signature(self, node: ast.Call, func: ast.Attribute, base: TaskRef | None) -> Step:
        task = self.task_of(base) if base is not None else None
        name = ast.unparse(func.value).rpartition(".")[2]
        if func.attr in ("signature", "subtask"):
            # ``add.signature(args, kwargs, options, ..., immutable=)``
            parts = _arguments(node, ("args", "kwargs", "options"))
            step = _step_of(node, name, task, parts, keyword_arg(node, "immutable"))
        else:
            args, kwargs = source_args(node.args, node.keywords)
            step = make_step(node, name, task, args, kwargs, immutable=func.attr == "si")
        return self.if_never_imported(step, task)

    def sent_step(self, node: ast.Call, func: ast.Attribute) -> tuple[Step, ast.AST] | None:
        """The call a worker makes of a task or lone signature sent here with arguments
        counted here (``t.delay(1)``, ``t.apply_async((1,), {})``, ``t.s(1).delay(2)``),
        and where that task or signature is written. A task's ``apply_async(link=,
        link_error=)`` callbacks are checked as part of its message (what it returns is
        what they get); a signature's are canvases of their own.

        A signature's own arguments come after those it is sent with (Celery's
        ``Signature._merge``); an immutable one ignores them. None: not countable.
        """
        base = self.value(func.value)
        if not isinstance(base, (TaskRef, Canvas)):
            return None  # before the arguments are written out: most sends are not ours
        args, kwargs = sent_arguments(node, func.attr)
        if args is None or kwargs is None:
            return None
        match base:
            case TaskRef():
                task = self.task_of(base)
                if task is None:
                    return None
                step = self.if_never_imported(make_step(node, base.callee, task, args, kwargs),
                                              task)
                if func.attr == "apply_async":  # ``delay(link=...)`` is the task's keyword
                    step = replace(
                        step, links=self.callbacks(keyword_arg(node, "link")),
                        errbacks=self.callbacks(keyword_arg(node, "link_error")),
                    )
                return step, func.value
            case Canvas(canvas=Step() as step, listed=False) if step.spec is not None:
                if step.immutable or step.args is None or step.kwargs is None:
                    return None  # checked where it was made, or not countable
                merged = {**step.kwargs, **kwargs}
                made = step.origin if isinstance(step.origin, ast.AST) else func.value
                return replace(step, origin=node, args=(*args, *step.args), kwargs=merged), made
        return None

    def sent_ignored(self, node: ast.Call, how: str, base: Value | None) -> bool:
        """Whether ``task.delay(...)``/``task.apply_async(...)`` is sent with its result
        ignored: ``apply_async(ignore_result=True)``, else the task's own option
        (``delay``'s keywords are the task's arguments, never options)."""
        given = keyword_arg(node, "ignore_result") if how == "apply_async" else None
        if given is not None:
            return isinstance(given, ast.Constant) and given.value is True
        if how == "apply_async" and any(k.arg is None for k in node.keywords):
            return False  # ``**options`` may say otherwise
        task = self.task_of(base) if isinstance(base, TaskRef) else None
        return task is not None and task.task is not None and task.task.ignore_result

    def task_of(self, ref: TaskRef) -> FunctionInfo | None:
        """The ``def`` of a task value, another module's included (``check`` only)."""
        if ref.task is None and ref.qualified:
            return self.index.imported_task(ref.qualified)
        return ref.task

    def task_named(self, name: str) -> FunctionInfo | None:
        """The project task Celery registers as ``name``: an explicit ``name=``, or the
        default ``module.function`` of this module or (``check``) the module it names."""
        lookup = self.index.external
        try:
            module = getattr(lookup, "module_name", None)
        except ValueError:  # a path outside any package root: no import path
            module = None
        found = self.index.task_registered_as(name, module)
        finder = getattr(lookup, "task_named", None)
        if found is None and finder is not None:
            # the module the name's path names, else those this module imports from
            found = finder(name, _imported_modules(self.imports.names.values()))
        return found if isinstance(found, FunctionInfo) else None

    def made_signature(self, node: ast.Call) -> Value | None:
        """``Signature(task, args, kwargs, options, ...)``, ``signature(varies, ...)``,
        ``app.signature(...)``, ``Signature.from_dict(d)``: a task named by a string, a
        task object, a signature (cloned) or a dict with Celery's keys."""
        first = node.args[0] if node.args else (
            keyword_arg(node, "task") or keyword_arg(node, "varies") or keyword_arg(node, "d")
        )
        parts: dict[str, ast.expr | None]
        if isinstance(first, ast.Dict):
            fields = _dict_fields(first)
            if fields is None or not _is_none(fields.get("subtask_type")):
                return Canvas()  # a chain/group/chord as a dict: its shape is not read
            parts = {k: fields.get(k) for k in ("task", "args", "kwargs", "options")}
            immutable = fields.get("immutable")
        else:
            parts = {"task": first, **_arguments(node, ("args", "kwargs", "options"), skip=1)}
            immutable = keyword_arg(node, "immutable")
        named = parts.get("task")
        if isinstance(named, ast.Constant) and isinstance(named.value, str):
            task, name = self.task_named(named.value), named.value
        else:
            held = self.value(named)
            if isinstance(held, Canvas):
                return held  # ``signature(sig)``: a clone of it
            if not isinstance(held, TaskRef):
                return Canvas()
            task, name = self.task_of(held), held.callee
        step = _step_of(node, name, task, parts, immutable)
        options = parts.get("options")
        if isinstance(options, ast.Dict):
            step = self.with_callbacks(step, _dict_fields(options) or {})
        return Canvas(canvas=step)

    def with_callbacks(self, step: Step, options: Mapping[str, ast.expr | None]) -> Step:
        """``options={"link": cb, "link_error": eb}``, ``.set(link_error=eb)``: the
        callbacks the step is sent with (they replace any linked before)."""
        if "link" in options:
            step = replace(step, links=self.callbacks(options["link"]))
        if "link_error" in options:
            step = replace(step, errbacks=self.callbacks(options["link_error"]))
        return step

    def registry_lookup(self, node: ast.Subscript | ast.Call) -> Value | None:
        """``app.tasks["shop.add"]``, ``app.tasks.get("shop.add")``: the task registered
        under that name."""
        if isinstance(node, ast.Subscript):
            registry, at = node.value, node.slice
        elif isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
            registry, at = node.func.value, node.args[0]
        else:
            return None
        if not (isinstance(registry, ast.Attribute) and registry.attr == "tasks"):
            return None
        if isinstance(at, ast.Attribute) and at.attr == "name":
            # ``app.tasks[Cls.name]``: the task of a task class (or a task object)
            held = self.value(at.value)
            task = self.task_of(held) if isinstance(held, TaskRef) else None
            return TaskRef(callee=ast.unparse(at.value), task=task) if task else None
        if not (isinstance(at, ast.Constant) and isinstance(at.value, str)):
            return None
        task = self.task_named(at.value)
        return TaskRef(callee=at.value, task=task) if task is not None else None

    def sent_task(self, node: ast.Call) -> Step | None:
        """``app.send_task("shop.add", args, kwargs)``: the message names a task by its
        registered name, and Celery checks nothing before the worker calls it."""
        first = node.args[0] if node.args else keyword_arg(node, "name")
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            return None
        task = self.task_named(first.value)
        if task is None:
            return None
        parts = _arguments(node, ("args", "kwargs"), skip=1)
        step = self.if_never_imported(_step_of(node, first.value, task, parts, None), task)
        # its callbacks are checked as part of it (the send is the canvas reported)
        return replace(
            step, links=self.callbacks(keyword_arg(node, "link")),
            errbacks=self.callbacks(keyword_arg(node, "link_error")),
        )

    def scheduled(self, entry: BeatEntry) -> Step | None:
        """The message a beat entry sends: its task (by registered name) called with the
        entry's ``args`` and ``kwargs`` as written (None: the task is not the project's)."""
        task = self.task_named(entry.task)
        anywhere = getattr(self.index.external, "task_named_in_project", None)
        if task is None and anywhere is not None:
            found = anywhere(entry.task)  # an explicit name in a module it does not import
            task = found if isinstance(found, FunctionInfo) else None
        if task is None:
            return None
        parts = {key: entry.fields.get(key) for key in ("args", "kwargs")}
        step = self.if_never_imported(_step_of(entry.key, entry.task, task, parts, None), task)
        if step.unregistered is not None:  # reported at the task's name
            step = replace(step, origin=entry.fields.get("task") or entry.key)
        return step

    def unregistered_entry(self, entry: BeatEntry) -> Step | None:
        """A beat entry whose task is the project's and registered by nothing
        (:mod:`.registration`): the step beat sends, known to be unregistered (CSF206)."""
        missing = self.unregistered(entry.task)
        if missing is None:
            return None
        return Step(origin=entry.fields.get("task") or entry.key, name=entry.task, args=None,
                    kwargs=None, unregistered=missing)

    def if_never_imported(self, step: Step, task: FunctionInfo | None) -> Step:
        """``step``, known unregistered (CSF206) when its task is defined in a module of
        the project that the worker never imports (``check``'s project model:
        :mod:`.workerimports`); else unchanged."""
        made = task.task if task is not None else None
        if (task is None or made is None or made.how == "class" or task.parent is not None
                or task.class_name is not None or step.unregistered is not None):
            return step
        asker = getattr(self.index.external, "never_imported", None)
        module = task.module
        if asker is None or module is None:
            return step
        if module is not self.index and not module.path:
            return step  # why: where it is defined is not known
        found = asker(Path(module.path) if module is not self.index else None)
        if found is None:
            return step
        worker, name, why = found
        registered = made.name or f"{name}.{task.name}"
        reason = (f"its module {name} is never imported by the worker ({why}); add "
                  f"{name!r} to the app's include, or import it from a module the worker "
                  "imports (such as its package's tasks module)")
        return replace(step, name=registered,
                       unregistered=Unregistered(app=worker.app, known=(), reason=reason))

    def unregistered(self, name: str) -> Unregistered | None:
        """``name`` is the project's and nothing registers it (:mod:`.registration`)."""
        known = unregistered_name(name, self.index)
        reason = ""
        if known is None:
            moved = reexported_as(name, self.index)
            if moved is None:
                return None
            module = name.rpartition(".")[0]
            reason = (f"{module} only imports it, and Celery names a task after the module "
                      f"that defines it: did you mean {moved!r}?")
            known = (moved,)
        mains = list(self.index.backends.mains.values())
        app = mains[0] if len(mains) == 1 else name.partition(".")[0]
        return Unregistered(app=app, known=known, reason=reason)

    def periodic(self, node: ast.Call) -> Step | None:
        """``sender.add_periodic_task(schedule, sig, args=(), kwargs=(), ...)``: Celery
        sends ``sig.clone(args, kwargs)`` (or the task's signature with them) when due.
        Only a Celery app has that method: another object's (a Pyramid ``Configurator``
        directive of the same name) takes what its own code says."""
        if not isinstance(node.func, ast.Attribute) or not self.celery_app(node.func.value):
            return None  # why we bail: not known to be Celery's method
        sig = node.args[1] if len(node.args) > 1 else keyword_arg(node, "sig")
        made = self.value(sig) if sig is not None else None
        parts = _arguments(node, ("args", "kwargs"), skip=2)
        if isinstance(made, TaskRef):
            task = self.task_of(made)
            return _step_of(node, made.callee, task, parts, None) if task is not None else None
        if not isinstance(made, Canvas) or not isinstance(made.canvas, Step):
            return None
        step = made.canvas
        if step.spec is None and _named_by_string(sig):
            # ``signature("shop.tasks.gone")``: a name of the project nothing registers?
            missing = self.unregistered(step.name)
            if missing is not None:
                step = replace(step, unregistered=missing)
        if _is_none(parts["args"]) and _is_none(parts["kwargs"]):
            return step
        return _changed(step, parts, merge=True)

    def celery_app(self, node: ast.expr) -> bool:
        """Is ``node`` a Celery app for certain: one the module makes, ``current_app``,
        one imported from the project, or the ``sender`` Celery gives the handlers of
        its app signals (``@app.on_after_finalize.connect``: ``sender`` is the app)?"""
        return self._known_app(node) or (
            isinstance(node, ast.Name) and self._app_signal_sender(node.id)
        )

    def _known_app(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name) and (node.id in self.env or self._own_parameter(node.id)):
            return False  # a local or parameter of the function: whatever it was given
        qualified = self.imports.qualify(node)
        if qualified is not None:
            if qualified in CURRENT_APPS:
                return True
            return not self.imports.is_foreign(node) and not self.imports.is_module(node)
        return isinstance(node, ast.Name) and node.id in self.index.apps

    def _own_parameter(self, name: str) -> bool:
        info = self.info
        if info is None:
            return False
        args = info.node.args
        return name in {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}

    def _app_signal_sender(self, name: str) -> bool:
        """``name`` is the ``sender`` parameter of a handler of an app signal
        (Celery sends them with ``sender=self``, the app: ``celery/app/base.py``)."""
        info = self.info
        if info is None:
            return False
        args = info.node.args
        first = [a.arg for a in (*args.posonlyargs, *args.args)][:1]
        if name not in ("sender", *first) or not self._own_parameter(name):
            return False
        for decorator in info.node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if (
                isinstance(target, ast.Attribute)
                and target.attr == "connect"
                and isinstance(target.value, ast.Attribute)
                and target.value.attr in APP_SIGNALS
                and self._known_app(target.value.value)
            ):
                return True
        return False

    def callbacks(self, node: ast.expr | None) -> tuple[Node, ...]:
        """The signatures ``link=``/``link_error=`` is given (one, or a list of them)."""
        items = node.elts if isinstance(node, (ast.List, ast.Tuple)) else [node]
        shapes = [_shape(self.value(item)) for item in items if item is not None]
        return tuple(shape for shape in shapes if shape is not None)

    def canvas_method(self, node: ast.Call, attr: str, base: Canvas) -> Value | None:
        """What Celery's ``Signature`` methods return (``celery/canvas.py``)."""
        step = base.canvas if isinstance(base.canvas, Step) else None
        if attr in ("link", "link_error"):
            # they return the callback, not the signature they are added to
            linked = self.value(node.args[0]) if node.args else None
            return linked if isinstance(linked, Canvas) else None
        if attr == "set_immutable":
            return None  # it returns None
        if step is not None and attr == "set":
            options = {k.arg: k.value for k in node.keywords if k.arg is not None}
            return replace(base, canvas=self.with_callbacks(_set_options(step, node), options))
        if step is not None and attr in ("clone", "replace"):
            parts = _arguments(node, ("args", "kwargs", "options"))
            return replace(base, canvas=_changed(step, parts, merge=attr == "clone"))
        if attr in CANVAS_METHODS or attr in ("clone", "replace"):
            return base
        return None

    def members(self, args: Sequence[ast.expr]) -> tuple[tuple[Node | None, ...], bool]:
        """The canvases of a group's or chord's members, and whether their count is exact
        (a comprehension repeats one member an unknown number of times)."""
        if len(args) == 1 and isinstance(args[0], (ast.List, ast.Tuple)):
            return tuple(_shape(self.value(e)) for e in args[0].elts), True
        if len(args) == 1 and isinstance(args[0], (ast.ListComp, ast.GeneratorExp)):
            made = _shape(self.value(args[0]))
            if isinstance(made, Group):
                return tuple(made.members), False
            return (made,), False
        return tuple(_shape(self.value(a)) for a in args), True

    def chain_items(self, args: Sequence[ast.expr]) -> tuple[list[Node | None], bool, bool] | None:
        """What ``chain(...)`` folds: a list's items (``chain(steps)``) or its arguments
        with starred lists spliced in (``chain(a.s(), *more)``); whether they are known
        in order, and whether Celery is given one list. None: not one of those."""
        if len(args) == 1 and not isinstance(args[0], ast.Starred):
            items = listed_items(self.value(args[0]))
            if items is not None:
                return list(items[0]), items[1], True
        if not any(isinstance(a, ast.Starred) for a in args):
            return None
        items = listed_items(listed_of(args, [self.value(a) for a in args]))
        if items is None:
            return None
        return list(items[0]), items[1], False

    def build_canvas(self, kind: str, node: ast.Call) -> Node | None:
        if kind in MAP_FACTORIES:
            # ``xmap(add.s(), items)``, ``chunks(add.s(), items, 10)``
            first = node.args[0] if node.args else keyword_arg(node, "task")
            items = node.args[1] if len(node.args) > 1 else keyword_arg(node, "it")
            task = _shape(self.value(first))
            if not isinstance(task, Step):
                return None
            return mapped_step(node, task, MAP_FACTORIES[kind], items)
        if kind == "chain" and (spliced := self.chain_items(node.args)) is not None:
            steps, exact, listed = spliced
            if exact:
                return fold_chain(steps, node, listed=listed, celery=self.index.celery)
            return repeated_chain(steps, node, self.index.celery)
        if kind in ("chain", "group"):
            args = node.args
            if len(args) == 1 and isinstance(args[0], ast.Starred):
                args = [args[0].value]  # ``chain(*[g for ...])``: the items are the steps
            if any(isinstance(a, ast.Starred) for a in args):
                return None
            members, exact = self.members(args)
            if kind == "group":
                return group_of(members, node, exact=exact)
            listed = len(args) == 1 and isinstance(args[0], (ast.List, ast.Tuple))
            if exact:
                return fold_chain(members, node, listed=listed, celery=self.index.celery)
            return repeated_chain(members, node, self.index.celery)
        if kind == "chord":
            header_node = node.args[0] if node.args else keyword_arg(node, "header")
            body_node = node.args[1] if len(node.args) > 1 else keyword_arg(node, "body")
            if header_node is None or isinstance(header_node, ast.Starred):
                return None
            if isinstance(header_node, (ast.List, ast.Tuple, ast.ListComp, ast.GeneratorExp)):
                members, exact = self.members([header_node])
                header: Group | None = Group(origin=header_node, members=members, exact=exact)
            else:
                header = chord_header(_shape(self.value(header_node)), header_node)
            if header is None:
                return None
            body = _shape(self.value(body_node)) if body_node is not None else None
            return Chord(origin=node, header=header, body=body)
        return None

    def pipe(self, node: ast.BinOp) -> Value | None:
        left, right = self.value(node.left), self.value(node.right)
        if not isinstance(left, Canvas) or not isinstance(right, Canvas):
            return None
        if left.listed or right.listed:
            return None  # ``[a.s()] | b.s()``: a list is no signature (a TypeError)
        return Canvas(canvas=pipe(left.canvas, right.canvas, node, celery=self.index.celery))


def _either(values: Sequence[Value | None]) -> Value | None:
    """What ``a if c else b`` or ``a or b`` may be: the first value of those the join
    rules follow, else one a serializer decides about (``HELD``), sure only when every
    operand is it."""
    held: Value | None = None
    for value in values:
        if isinstance(value, HELD):
            held = held or value
        elif value is not None:
            return value
    if held is None or all(v == held for v in values):
        return held
    return _unsure(held)


def _unsure(value: Value | None) -> Value | None:
    return replace(value, unsure=True) if value is not None else None


def _runs(value: Value | None) -> tuple[ast.AST, ...]:
    """The source node of the canvas ``value`` is, for the result of running it."""
    if isinstance(value, Canvas) and value.canvas is not None:
        origin = value.canvas.origin
        return (origin,) if isinstance(origin, ast.AST) else ()
    return ()


def repeated_chain(
    members: Sequence[Node | None], origin: ast.Call, celery: tuple[int, int, int] | None = None
) -> Node | None:
    """``chain(g for s in sets)``: Celery folds whatever the iterable yields with ``|``.

    How many items it yields is unknown, so only what holds for any number of them
    from three on is modelled: a run of groups (``group | group`` makes a chord whose
    body is the second group, and Celery links the third to each member of that body,
    whatever the members). Anything else stays unknown.
    """
    if len(members) == 1 and isinstance(members[0], Group):
        return fold_chain([members[0]] * 3, origin, listed=True, celery=celery)
    return None


def mapped_step(node: ast.Call, task: Step, kind: str, items: ast.expr | None) -> Step:
    """``task.map(items)`` and its kin, with each literal item's arguments."""
    return Mapped(task, kind, _map_items(items, splat=kind != "map")).step(node)


def _map_items(
    node: ast.expr | None, *, splat: bool
) -> tuple[tuple[SourceText, ...] | None, ...] | None:
    """The arguments each item of a literal list or tuple gives the mapped task (None
    for one that cannot be counted); None when the items are not written out."""
    if not isinstance(node, (ast.List, ast.Tuple)):
        return None
    if any(isinstance(item, ast.Starred) for item in node.elts):
        return None
    items: list[tuple[SourceText, ...] | None] = []
    for item in node.elts:
        if not splat:
            items.append((SourceText(ast.unparse(item)),))
        elif isinstance(item, (ast.List, ast.Tuple)):
            items.append(source_args(item.elts)[0])
        else:
            items.append(None)
    return tuple(items)


#: What a task object is used for (``Cls().s(...)``): a class's task, not its instance.
TASK_OBJECT_METHODS = frozenset({"s", "si", "signature", "subtask", "delay", "apply_async"})


def _returned_def(factory: FunctionInfo) -> FunctionInfo | None:
    """The nested ``def`` a decorator returns (``return wrapper``), if any."""
    for stmt in factory.node.body:
        if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Name):
            return factory.local_defs.get(stmt.value.id)
    return None


#: a list of signatures keeps this many items at most (longer: its order is not kept)
LISTED_MAX = 32


def signatures(members: Sequence[Node | None], *, exact: bool) -> Canvas:
    """A list of signatures (``[t.s(1), t.s(2)]``, a list built by ``.append``)."""
    kept = tuple(members)
    if len(kept) > LISTED_MAX:
        kept, exact = kept[:LISTED_MAX], False
    return Canvas(canvas=Group(members=kept, exact=exact), listed=True)


def listed_of(elts: Sequence[ast.expr], values: Sequence[Value | None]) -> Canvas | None:
    """The list of signatures a list display makes (starred lists spliced in), if every
    item is a signature or a starred list of them; ``values``: what each item holds."""
    members: list[Node | None] = []
    exact = True
    for elt, held in zip(elts, values, strict=True):
        if not isinstance(held, Canvas):
            return None
        if isinstance(elt, ast.Starred):
            items = listed_items(held)
            if items is None:
                return None
            members += items[0]
            exact = exact and items[1]
        elif held.listed:
            return None  # a list in a list: not what Celery's constructors take
        else:
            members.append(held.canvas)
    return signatures(members, exact=exact)


def listed_items(value: Value | None) -> tuple[tuple[Node | None, ...], bool] | None:
    """The items of a list of signatures and whether they are known in order (None:
    ``value`` is not a list of signatures)."""
    if isinstance(value, Canvas) and value.listed and isinstance(value.canvas, Group):
        return tuple(value.canvas.members), value.canvas.exact
    return None


def concatenated(left: Value | None, right: Value | None) -> Canvas | None:
    """``first + rest`` of two lists of signatures: the items of both, in order."""
    a, b = listed_items(left), listed_items(right)
    if a is None or b is None:
        return None
    return signatures([*a[0], *b[0]], exact=a[1] and b[1])


def sent_arguments(
    node: ast.Call, how: str
) -> tuple[tuple[SourceText, ...] | None, dict[str, SourceText] | None]:
    """What ``x.delay(...)`` / ``x(...)`` (``how``: ``delay`` or ``call``) or
    ``x.apply_async(args, kwargs, ...)`` sends, as written (None where not countable)."""
    if how in ("delay", "call"):
        return source_args(node.args, node.keywords)
    if len(node.args) > 2 or any(
        k.arg is None for k in node.keywords
    ) or any(isinstance(a, ast.Starred) for a in node.args):
        return None, None  # ``apply_async(*a, **options)``: what is sent is not known
    parts = _arguments(node, ("args", "kwargs"))
    return _args_of(parts["args"]), _kwargs_of(parts["kwargs"])


def _imported_modules(qualified: Iterable[str]) -> tuple[str, ...]:
    """The modules a module's imports may come from (``shop.tasks`` and ``shop`` for
    ``from shop.tasks import add``; ``from shop import tasks`` names a module itself)."""
    modules: dict[str, None] = {}
    for name in qualified:
        if name.partition(".")[0] in FOREIGN_ROOTS or name.startswith(("celery", "kombu")):
            continue
        modules[name] = None
        modules[name.rpartition(".")[0]] = None
    modules.pop("", None)
    return tuple(modules)


def _names_task(node: ast.Call) -> bool:
    """``x.signature("shop.add", ...)``: a task named by a string (``app.signature``)."""
    first = node.args[0] if node.args else None
    return isinstance(first, ast.Constant) and isinstance(first.value, str)


def _is_none(node: ast.expr | None) -> bool:
    return node is None or (isinstance(node, ast.Constant) and node.value is None)


def _dict_fields(node: ast.Dict) -> dict[str, ast.expr] | None:
    """A dict literal's string keys and values (None when a key is not a string)."""
    fields: dict[str, ast.expr] = {}
    for key, value in zip(node.keys, node.values, strict=True):
        if not isinstance(key, ast.Constant) or not isinstance(key.value, str):
            return None
        fields[key.value] = value
    return fields


def _arguments(
    node: ast.Call, names: Sequence[str], skip: int = 0
) -> dict[str, ast.expr | None]:
    """Celery's ``(args, kwargs, options)`` parameters as passed, by position or name."""
    positional = node.args[skip:]
    return {
        name: positional[i] if i < len(positional) else keyword_arg(node, name)
        for i, name in enumerate(names)
    }


def _args_of(node: ast.expr | None) -> tuple[SourceText, ...] | None:
    """A signature's positional arguments as written (None: not countable)."""
    if _is_none(node):
        return ()
    if isinstance(node, (ast.Tuple, ast.List)):
        return source_args(node.elts)[0]
    return None


def _kwargs_of(node: ast.expr | None) -> dict[str, SourceText] | None:
    if _is_none(node):
        return {}
    fields = _dict_fields(node) if isinstance(node, ast.Dict) else None
    if fields is None:  # not a literal, or ``{**more}``
        return None
    return {k: SourceText(ast.unparse(v)) for k, v in fields.items()}


def _named_by_string(sig: ast.expr | None) -> bool:
    """``signature("shop.tasks.add", ...)``, ``app.signature("...")``: a task by its name."""
    if not isinstance(sig, ast.Call):
        return False
    first = sig.args[0] if sig.args else keyword_arg(sig, "task") or keyword_arg(sig, "varies")
    return isinstance(first, ast.Constant) and isinstance(first.value, str)


def _step_of(
    node: ast.AST,
    name: str,
    task: FunctionInfo | None,
    parts: dict[str, ast.expr | None],
    immutable: ast.expr | None,
) -> Step:
    step = make_step(
        node, name, task, _args_of(parts.get("args")), _kwargs_of(parts.get("kwargs")),
        immutable=is_true(immutable),
    )
    options = parts.get("options")
    return _set_options(step, options) if isinstance(options, ast.Dict) else step


def _changed(step: Step, parts: dict[str, ast.expr | None], *, merge: bool) -> Step:
    """``sig.clone(args, kwargs)`` (partial arguments first, kwargs merged; an immutable
    signature keeps its own) or ``sig.replace(args, kwargs)`` (replaced outright)."""
    args_node, kwargs_node = parts.get("args"), parts.get("kwargs")
    if merge and step.immutable:
        return step
    args, kwargs = step.args, step.kwargs
    more, extra = _args_of(args_node), _kwargs_of(kwargs_node)
    if not merge:
        args = args if _is_none(args_node) else more
        kwargs = kwargs if _is_none(kwargs_node) else extra
    else:
        args = None if more is None or args is None else (*more, *args)
        kwargs = None if extra is None or kwargs is None else {**kwargs, **extra}
    return replace(step, args=args, kwargs=kwargs)


def _shape(value: Value | None) -> Node | None:
    return value.canvas if isinstance(value, Canvas) else None


def _set_options(step: Step, options: ast.Call | ast.Dict) -> Step:
    """``.set(immutable=True, ignore_result=True)`` or ``options={...}`` on a signature."""
    if isinstance(options, ast.Dict):
        pairs = [
            (k.value, v) for k, v in zip(options.keys, options.values, strict=True)
            if isinstance(k, ast.Constant) and isinstance(k.value, str)
        ]
    else:
        pairs = [(k.arg, k.value) for k in options.keywords if k.arg is not None]
    for key, value in pairs:
        if not isinstance(value, ast.Constant):
            continue
        if key == "immutable":
            step = replace(step, immutable=bool(value.value))
        elif key == "ignore_result":
            step = replace(step, ignore_result=bool(value.value))
    return step

