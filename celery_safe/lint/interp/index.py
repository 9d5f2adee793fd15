"""First, cheap pass: imports, Celery apps, functions, classes and which of them are tasks.

Walks statements only (no expressions beyond decorators and assignments), so deciding
that a module defines no task costs a fraction of parsing it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ...canvas.model import TaskSpec
from ...canvas.params import Params
from ...canvas.replaces import replaces_with_group
from ...canvas.types import MISSING
from .annotations import hint_of
from .backends import AppBackends
from .forwarding import MAX_HOPS, forwarded_arguments, returned_def, without_leading
from .imports import FOREIGN_ROOTS, ImportMap

__all__ = ["DecoratorLookup", "FunctionInfo", "ModuleIndex", "TaskOptions", "build_index"]

#: ``qualified name -> does it make Celery tasks as a decorator?``
DecoratorLookup = Callable[[str], bool]

TASK_DECORATORS = frozenset(
    {
        "celery.shared_task",
        "celery.app.shared_task",
        "celery.app.base.shared_task",
        "celery.task",
        "celery.decorators.task",
        "celery.task.task",
        "celery_safe.task",
        "celery_safe.tasks.task",
    }
)
SAFE_DECORATORS = frozenset({"celery_safe.task", "celery_safe.tasks.task"})
APP_FACTORIES = frozenset({"celery.Celery", "celery.app.Celery", "celery.app.base.Celery"})
CURRENT_APPS = frozenset(
    {"celery.current_app", "celery.app.current_app", "celery._state.current_app"}
)
#: Methods of a ``Task`` subclass that run inside the worker, as the task.
TASK_HOOKS = frozenset(
    {"run", "on_success", "on_failure", "after_return", "on_retry", "before_start"}
)

Function = ast.FunctionDef | ast.AsyncFunctionDef
#: How many base classes up a method is looked for (``class Run(BaseRun)``).
_BASE_HOPS = 3


@dataclass(frozen=True)
class TaskOptions:
    """How a function became a task, and the options that matter to the rules."""

    how: str  # "decorator", "call" or "class"
    bind: bool = False
    ignore_result: bool = False
    typing: bool = True
    #: parameters ``celery_safe.task(resources=...)`` fills in, hidden from callers;
    #: None when the resources are not a literal dict (the parameters are then unknown)
    hidden: frozenset[str] | None = frozenset()
    #: the name it is registered under when given (``name="shop.add"``); None: Celery's
    #: default, the module's import path and the function's name
    name: str | None = None


@dataclass(eq=False)
class FunctionInfo:
    """One ``def`` anywhere in the module."""

    node: Function
    qualname: str
    parent: FunctionInfo | None
    class_name: str | None
    task: TaskOptions | None = None
    local_defs: dict[str, FunctionInfo] = field(default_factory=dict)
    #: imports written inside this function's body (scoped to it, as Python scopes them)
    local_imports: ImportMap | None = None
    #: the names its ``global`` statements declare (it assigns the module's, not its own)
    declared_global: set[str] = field(default_factory=set)
    #: the module it is defined in (differs from the checked one for imported helpers)
    module: ModuleIndex | None = None
    #: the decorators between the task's decorator and the ``def`` (applied first)
    inner_decorators: tuple[ast.expr, ...] = ()
    _spec: TaskSpec | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def task_label(self) -> str:
        """How a canvas names the task: the function, or a task class's name."""
        made = self.task
        return self.class_name if made is not None and made.how == "class" and (
            self.class_name) else self.name

    @property
    def label(self) -> str:
        """How messages name it: ``add``, or ``Checkout.run`` for a method."""
        return f"{self.class_name}.{self.name}" if self.class_name else self.name

    def params(self) -> Params:
        """How callers call it: ``self`` dropped for methods and bound tasks, and a
        ``celery_safe.task``'s resources hidden."""
        drop = self.class_name is not None or bool(self.task and self.task.bind)
        hidden = self.task.hidden if self.task is not None else frozenset()
        return Params.from_ast(self.node.args, hidden or (), drop_first=drop)

    def accepted(self, hops: int = 0) -> tuple[ast.arguments, bool] | None:
        """The parameters a call of this task binds to, and whether the first is
        dropped (``self``): its own, or what its decorators' wrappers or its ``run``
        forward to (see :mod:`.forwarding`); None when that cannot be read."""
        drop = self.class_name is not None or bool(self.task and self.task.bind)
        args: ast.arguments | None = self.node.args
        for decorator in reversed(self.inner_decorators):  # the innermost wraps first
            wrapper, wrapped = self._wrapper(decorator)
            if wrapper is None or wrapped is None:
                return None  # why: a decorator we cannot read may change the parameters
            if not (wrapper.node.args.vararg or wrapper.node.args.kwarg):
                args, drop = wrapper.node.args, False  # its own signature is what binds
                continue
            forwarded = forwarded_arguments(wrapper, _calls_name(wrapped))
            if forwarded is None or args is None:
                return None
            count, keywords = forwarded
            args = without_leading(args, count, keywords, drop)
            drop = False
        if args is None:
            return None
        if self.task is not None and self.task.how == "class" and hops < MAX_HOPS:
            return self._run_forwarded(args, hops) or (args, drop)
        return args, drop

    def _run_forwarded(
        self, args: ast.arguments, hops: int
    ) -> tuple[ast.arguments, bool] | None:
        """``run(self, *args, **kwargs)`` calling ``self.other(x, *args, **kwargs)``:
        ``other``'s parameters (found on the task's own class) after ``x``."""
        module, cls = self.module, self.class_name
        if module is None or cls is None or args.vararg is None:
            return None
        me = (args.posonlyargs + args.args)[0].arg if args.posonlyargs + args.args else ""
        targets: set[str] = set()

        def is_method(func: ast.expr) -> bool:
            if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                    and func.value.id == me):
                targets.add(func.attr)
                return True
            return False

        forwarded = forwarded_arguments(self, is_method)
        if forwarded is None or len(targets) != 1:
            return None
        target = module.method(cls, targets.pop())
        if target is None:
            return None
        inner = replace_info(target, cls, module).accepted(hops + 1)
        if inner is None:
            return None
        rest = without_leading(inner[0], forwarded[0], forwarded[1], inner[1])
        return (rest, False) if rest is not None else None

    def _wrapper(self, decorator: ast.expr) -> tuple[FunctionInfo | None, str | None]:
        """The wrapper ``def`` a project decorator returns, and the name its decorator
        gives the wrapped function (``@deco`` or a factory's ``@deco(x)``)."""
        module = self.module
        if module is None:
            return None, None
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        found: FunctionInfo | None = None
        if isinstance(target, ast.Name):
            found = module.resolve_local(self.parent, target.id)
        if found is None and isinstance(target, (ast.Name, ast.Attribute)):
            qualified = module.imports_for(self.parent).qualify(target)
            found = module.imported(qualified) if qualified else None
        if found is not None and isinstance(decorator, ast.Call):
            found = returned_def(found)  # ``deco(x)`` made the decorator
        if found is None or found.task is not None:
            return None, None
        params = found.node.args.posonlyargs + found.node.args.args
        wrapper = returned_def(found)
        return (wrapper, params[0].arg) if params and wrapper is not None else (None, None)

    def spec(self) -> TaskSpec | None:
        """The task as the canvas model knows it (None for a plain function)."""
        options = self.task
        if options is None:
            return None
        if self._spec is None:
            module = self.module
            imports = module.imports_for(self.parent) if module is not None else None

            def hint(annotation: ast.expr) -> object:
                if module is None:
                    return MISSING
                return hint_of(annotation, module, imports)

            params = None
            accepted = self.accepted()
            if options.typing and options.hidden is not None and accepted is not None:
                params = Params.from_ast(accepted[0], options.hidden, accepted[1], hint)
            bound = options.bind or self.class_name is not None
            errback_style = (
                not bound and params is not None
                and (params.varargs or len(params.positional) > 1)
            )
            returns = hint(self.node.returns) if self.node.returns is not None else MISSING
            replaces = (
                bound and module is not None
                and replaces_with_group(self.node, module.imports_for(self).qualify)
            )
            self._spec = TaskSpec(
                self.task_label, params, options.ignore_result, errback_style, returns=returns,
                replaces_with_group=replaces,
            )
        return self._spec


@dataclass(eq=False)
class ModuleIndex:
    """Everything the first pass learnt about a module."""

    imports: ImportMap = field(default_factory=ImportMap)
    apps: set[str] = field(default_factory=set)
    #: the literal backend each app was made with, and which apps are configured later
    backends: AppBackends = field(default_factory=AppBackends)
    foreign: set[str] = field(default_factory=set)
    functions: list[FunctionInfo] = field(default_factory=list)
    top_level: dict[str, FunctionInfo] = field(default_factory=dict)
    methods: dict[str, dict[str, FunctionInfo]] = field(default_factory=dict)
    task_classes: set[str] = field(default_factory=set)
    #: module-level names bound to tasks: ``@app.task def add`` or ``add = app.task(f)``
    task_names: dict[str, FunctionInfo] = field(default_factory=dict)
    #: tasks registered under an explicit name (``@app.task(name="shop.add")``)
    registered: dict[str, FunctionInfo] = field(default_factory=dict)
    #: module-level names that make tasks when used as decorators: an alias
    #: (``proj_task = shared_task``, ``partial(app.task, queue="q")``) or a factory
    #: (``def proj_task(*a, **kw): return shared_task(*a, **kw)``)
    task_decorators: set[str] = field(default_factory=set)
    #: ``[bound =] app.register_task(Cls())``: (class name, the name bound to)
    class_registrations: list[tuple[str, str | None]] = field(default_factory=list)
    #: module-level classes (for ``Poller().wait(r)``, and annotations)
    classes: set[str] = field(default_factory=set)
    class_defs: dict[str, ast.ClassDef] = field(default_factory=dict)
    #: a stand-in class per project class named in an annotation (``lint.annotations``)
    stand_ins: dict[str, Any] = field(default_factory=dict)
    #: what the enclosing function's names hold where a nested ``def`` is made (by the
    #: nested def node's ``id``): a closure reads them (set by the walk)
    closures: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: finds the ``def`` (task or function) a qualified name imported from another
    #: module refers to (``celery-safe check`` only; see ``resolve.ModuleResolver``)
    external: Callable[[str], FunctionInfo | None] | None = None
    #: where it was read from, and its analysis once one runs (set by those who know)
    path: str = ""
    tree: ast.Module | None = None
    analysis: object | None = None
    #: its physical lines, when the engine has them (else read from ``path`` on demand)
    lines: Sequence[str] | None = None
    #: by class, by attribute ``X``: the methods that assign or fill ``self.X`` (made on
    #: first use by ``Evaluator.stored_results``)
    attribute_stores: dict[str, dict[str, list[FunctionInfo]]] | None = None
    #: the Celery version whose behaviour canvases are composed and checked by (the
    #: config's ``celery``; None: the installed one, see ``celery_internals``)
    celery: tuple[int, int, int] | None = None

    def line(self, number: int) -> str:
        """One physical line of the module ('' when it cannot be read)."""
        if self.lines is None:
            try:
                text = Path(self.path).read_bytes().decode("utf-8", "replace") if self.path else ""
            except OSError:
                text = ""
            self.lines = text.splitlines()
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    def method(self, cls: str, name: str, hops: int = 0) -> FunctionInfo | None:
        """``cls.name``: defined on this module's class ``cls`` or on a project base."""
        found = self.methods.get(cls, {}).get(name) or self.attribute_callable(cls, name)
        node = self.class_defs.get(cls)
        if found is not None or node is None or hops >= _BASE_HOPS:
            return found
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in self.classes and base.id != cls:
                found = self.method(base.id, name, hops + 1)
            else:
                qualified = self.imports.qualify(base)
                home = getattr(self.external, "class_home", None)
                if qualified is None or home is None:
                    continue
                where = home(qualified)
                found = where[0].method(where[1], name, hops + 1) if where else None
            if found is not None:
                return found
        return None

    def attribute_callable(self, cls: str, name: str) -> FunctionInfo | None:
        """The function ``cls.__init__`` keeps in ``self.name``: a bound method
        (``self.send = self._send``), or a function it defines or names."""
        found = self.init_assignment(cls, name)
        if found is None:
            return None
        init, me, value = found
        return self._callable(cls, init, me, value)

    def init_assignment(
        self, cls: str, name: str
    ) -> tuple[FunctionInfo, str, ast.expr] | None:
        """What ``cls.__init__`` assigns to ``self.name`` (its ``__init__``, the name it
        calls ``self``, the expression), if it does, at its top level."""
        init = self.methods.get(cls, {}).get("__init__")
        if init is None or name == "__init__":
            return None
        args = init.node.args.posonlyargs + init.node.args.args
        me = args[0].arg if args else "self"
        for stmt in init.node.body:
            if not isinstance(stmt, ast.Assign):
                continue
            for target in stmt.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == name
                    and isinstance(target.value, ast.Name)
                    and target.value.id == me
                ):
                    return init, me, stmt.value
        return None

    def _callable(
        self, cls: str, init: FunctionInfo, me: str, value: ast.expr
    ) -> FunctionInfo | None:
        if isinstance(value, ast.Name):
            return self.resolve_local(init, value.id)
        if (
            isinstance(value, ast.Attribute)
            and isinstance(value.value, ast.Name)
            and value.value.id == me
            and value.attr in self.methods.get(cls, {})
        ):
            return self.methods[cls][value.attr]
        return None

    def imported(self, qualified: str) -> FunctionInfo | None:
        return self.external(qualified) if self.external is not None else None

    def class_tasks(self, classes: Iterable[str] | None = None) -> None:
        """Each module-level ``Task`` subclass with a ``run`` (its own or a base's) is
        the task ``Cls()`` makes: named by its ``name`` attribute, else Celery's default
        ``module.Cls`` once registered (``app.register_task``)."""
        for cls in sorted(self.task_classes & self.classes if classes is None else classes):
            run = self.method(cls, "run")
            if run is None or (run.task is None and run.module is self):
                continue
            name = _class_name_attribute(self.class_defs[cls])
            info = replace_info(run, cls, self)
            if info is run and name is None:
                info.task = run.task
            else:
                info = FunctionInfo(run.node, f"{cls}.run", None, cls,
                                    TaskOptions("class", bind=True, name=name), module=self)
                if run.module is self and run.class_name != cls:
                    # an inherited run runs as this class's task: its ``self.x()`` are
                    # this class's (analysed as a task of its own, for the join rules)
                    self.functions.append(info)
            self.task_names.setdefault(cls, info)
            if name is not None:
                self.registered.setdefault(name, info)
        for cls, bound in self.class_registrations:
            if bound is not None and cls in self.task_names:
                self.task_names[bound] = self.task_names[cls]

    def link_task_classes(self) -> None:
        """Once other modules can be seen (``external``): classes deriving from another
        module's ``Task`` subclass are task classes too (their hooks run as the task),
        and their tasks are made. Only classes that look like tasks are looked into (a
        hook, a ``name``, registered; a base whose name says ``Task``): reading a base's
        module costs."""
        home = getattr(self.external, "class_home", None)
        if home is None:
            return
        registered = {cls for cls, _ in self.class_registrations}
        found: list[str] = []
        for cls, node in self.class_defs.items():
            if cls in self.task_classes or not (
                cls in registered or _class_name_attribute(node) is not None
                or any(name in TASK_HOOKS for name in self.methods.get(cls, {}))
            ):
                continue
            for base in node.bases:
                qualified = self.imports.qualify(base)
                if qualified is None or qualified.partition(".")[0] in FOREIGN_ROOTS:
                    continue
                if "task" not in qualified.rpartition(".")[2].lower():
                    continue  # why: only a base whose name says task is looked up (cost),
                    # as for decorators (``_may_name_a_task_maker``)
                where = home(qualified)
                if where is not None and where[1] in where[0].task_classes:
                    found.append(cls)
                    break
        for cls in found:
            self.task_classes.add(cls)
            for name, info in self.methods.get(cls, {}).items():
                if name in TASK_HOOKS and info.task is None:
                    info.task = TaskOptions("class", bind=True)
        if found:
            self.class_tasks(found)

    def task_registered_as(self, name: str, module: str | None) -> FunctionInfo | None:
        """The task of this module Celery registers as ``name``: an explicit ``name=``,
        or (``module`` being this module's import path) the default ``module.function``,
        or ``main.function`` (Celery's ``gen_task_name`` for a module run as
        ``__main__``, ``main`` being the name its app was made with)."""
        found = self.registered.get(name)
        prefix, _, function = name.rpartition(".")
        # ``Celery("shop")`` in a module run as ``__main__`` names its tasks ``shop.add``
        main = prefix in self.backends.mains.values()
        if found is not None or (module is None and not main):
            return found
        task = self.task_names.get(function) if prefix == module or main else None
        if task is None or task.task is None or task.task.name is not None:
            return None
        return task

    def imported_task(self, qualified: str) -> FunctionInfo | None:
        found = self.imported(qualified)
        return found if found is not None and found.task is not None else None

    @property
    def tasks(self) -> Iterator[FunctionInfo]:
        return (f for f in self.functions if f.task is not None)

    def imports_for(self, scope: FunctionInfo | None) -> ImportMap:
        """The imports visible inside ``scope``: the module's, then each enclosing def's."""
        chain: list[ImportMap] = []
        while scope is not None:
            if scope.local_imports is not None:
                chain.append(scope.local_imports)
            scope = scope.parent
        merged = self.imports
        for inner in reversed(chain):
            merged = merged.overlaid(inner)
        return merged

    def resolve_local(self, scope: FunctionInfo | None, name: str) -> FunctionInfo | None:
        """The ``def`` a bare name refers to from inside ``scope`` (innermost first)."""
        while scope is not None:
            if name in scope.local_defs:
                return scope.local_defs[name]
            scope = scope.parent
        return self.top_level.get(name)


def _keyword_flag(call: ast.Call, name: str, default: bool) -> bool:
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant):
            return bool(keyword.value.value)
    return default


def _keyword_text(call: ast.Call, name: str) -> str | None:
    for keyword in call.keywords:
        if keyword.arg == name and isinstance(keyword.value, ast.Constant):
            value = keyword.value.value
            return value if isinstance(value, str) else None
    return None


def _resource_names(call: ast.Call) -> frozenset[str] | None:
    """The keys of ``resources={"db": Session}`` (None when they cannot be read)."""
    for keyword in call.keywords:
        if keyword.arg == "resources":
            value = keyword.value
            if isinstance(value, ast.Dict) and all(
                isinstance(k, ast.Constant) and isinstance(k.value, str) for k in value.keys
            ):
                return frozenset(
                    str(k.value) for k in value.keys if isinstance(k, ast.Constant)
                )
            if isinstance(value, ast.Constant) and value.value is None:
                return frozenset()
            return None
        if keyword.arg is None:
            return None  # ``**options`` may hold resources
    return frozenset()


#: Statements holding no statements (most of a module): the walk does not look inside.
_NO_BODY = frozenset({
    ast.Return, ast.Delete, ast.AugAssign, ast.AnnAssign, ast.Raise, ast.Assert, ast.Expr,
    ast.Pass, ast.Break, ast.Continue, ast.Nonlocal, ast.Assign, ast.Global,
})  # fmt: skip


class _Indexer:
    def __init__(
        self, extra_decorators: Sequence[str], elsewhere: DecoratorLookup | None = None
    ) -> None:
        self.index = ModuleIndex()
        self.extra = frozenset(extra_decorators)
        self.elsewhere = elsewhere
        #: (scope, function name, the registering call, the name it is bound to)
        self.registrations: list[tuple[FunctionInfo | None, str, ast.Call, str | None]] = []
        self.pending: list[tuple[FunctionInfo, str | None]] = []
        #: module-level ``name = <expr>``: decorator aliases, found once the module is known
        self.aliases: list[tuple[list[str], ast.expr]] = []

    # -- the walk -------------------------------------------------------------
    def walk(
        self, body: Sequence[ast.stmt], scope: FunctionInfo | None, cls: str | None, prefix: str
    ) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.define(stmt, scope, cls, prefix)
            elif isinstance(stmt, ast.ClassDef):
                self.define_class(stmt, scope, prefix)
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                if scope is None:
                    self.index.imports.add(stmt)
                else:
                    scope.local_imports = scope.local_imports or ImportMap()
                    scope.local_imports.add(stmt)
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    self.index.backends.used(target)
                self.assignment(stmt.targets, stmt.value, scope)
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                self.assignment([stmt.target], stmt.value, scope)
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                self.index.backends.used(stmt.value.func)
                self.registration(stmt.value, scope, None)
            elif isinstance(stmt, ast.Global):
                if scope is not None:
                    scope.declared_global.update(stmt.names)
            elif stmt.__class__ not in _NO_BODY:
                for name in ("body", "orelse", "finalbody"):
                    inner = getattr(stmt, name, None)
                    if inner:
                        self.walk(inner, scope, cls, prefix)
                for handler in getattr(stmt, "handlers", ()):
                    self.walk(handler.body, scope, cls, prefix)
                for case in getattr(stmt, "cases", ()):
                    self.walk(case.body, scope, cls, prefix)

    def define(
        self, node: Function, scope: FunctionInfo | None, cls: str | None, prefix: str
    ) -> None:
        info = FunctionInfo(node, prefix + node.name, scope, cls, module=self.index)
        self.index.functions.append(info)
        if cls is not None:
            self.index.methods.setdefault(cls, {})[node.name] = info
        elif scope is not None:
            scope.local_defs[node.name] = info
        else:
            self.index.top_level[node.name] = info
        self.pending.append((info, cls))
        self.walk(node.body, info, None, f"{info.qualname}.<locals>.")

    def define_class(self, node: ast.ClassDef, scope: FunctionInfo | None, prefix: str) -> None:
        if scope is None and not prefix:
            self.index.classes.add(node.name)
            self.index.class_defs[node.name] = node
        imports = self.index.imports_for(scope)
        if any(self.is_task_base(base, imports) for base in node.bases):
            self.index.task_classes.add(node.name)
        self.walk(node.body, scope, node.name, f"{prefix}{node.name}.")

    def assignment(
        self, targets: Sequence[ast.expr], value: ast.expr, scope: FunctionInfo | None
    ) -> None:
        names = [t.id for t in targets if isinstance(t, ast.Name)]
        if scope is None and names:
            self.aliases.append((names, value))
        if not isinstance(value, ast.Call):
            return
        imports = self.index.imports_for(scope)
        if imports.qualify(value.func) in APP_FACTORIES:
            self.index.apps.update(names)
            for name in names:
                if scope is None:
                    self.index.backends.app_made(name, value)
        elif imports.is_foreign(value.func):
            self.index.foreign.update(names)
        else:
            for name in names:
                self.registration(value, scope, name)

    def registration(self, call: ast.Call, scope: FunctionInfo | None, bound: str | None) -> None:
        """``app.task(fn)``, ``shared_task(fn)``, ``app.task(bind=True)(fn)``;
        ``app.register_task(Cls())``, ``app.tasks.register(Cls)`` (a class's task)."""
        func = call.func
        if (scope is None and isinstance(func, ast.Attribute) and len(call.args) == 1
                and func.attr in ("register_task", "register")):
            made = call.args[0]
            if isinstance(made, ast.Call) and not made.args and not made.keywords:
                made = made.func
            if isinstance(made, ast.Name):
                self.index.class_registrations.append((made.id, bound))
            return
        if len(call.args) == 1 and isinstance(call.args[0], ast.Name):
            self.registrations.append((scope, call.args[0].id, call, bound))

    # -- classification, once the whole module is known ---------------------
    def is_task_base(self, base: ast.expr, imports: ImportMap) -> bool:
        if isinstance(base, ast.Name) and base.id in self.index.task_classes:
            return True
        qualified = imports.qualify(base)
        if qualified is not None:
            return qualified.startswith("celery.") and qualified.endswith("Task")
        if isinstance(base, ast.Attribute) and base.attr == "Task":
            return self.is_app(base.value, imports)  # app.Task
        return False

    def is_app(self, node: ast.expr, imports: ImportMap) -> bool:
        """Could ``node`` be a Celery app? Yes unless it provably is something else."""
        if isinstance(node, ast.Name):
            if node.id in self.index.apps:
                return True
            if node.id in self.index.foreign or imports.is_module(node):
                return False
        qualified = imports.qualify(node)
        if qualified in CURRENT_APPS:
            return True
        return not imports.is_foreign(node)

    def decorator_options(self, decorator: ast.expr, imports: ImportMap) -> TaskOptions | None:
        call = decorator if isinstance(decorator, ast.Call) else None
        target = call.func if call is not None else decorator
        is_task = self.makes_tasks(target, imports)
        qualified = imports.qualify(target)
        if not is_task:
            return None
        if call is None:
            return TaskOptions("decorator")
        return TaskOptions(
            "decorator",
            bind=_keyword_flag(call, "bind", False),
            ignore_result=_keyword_flag(call, "ignore_result", False),
            typing=_keyword_flag(call, "typing", True),
            hidden=_resource_names(call) if qualified in SAFE_DECORATORS else frozenset(),
            name=_keyword_text(call, "name"),
        )

    def makes_tasks(self, target: ast.expr, imports: ImportMap, *, here: bool = False) -> bool:
        """Is ``target`` (a decorator, or what a decorator calls) Celery's task maker?
        ``here``: without asking other modules (the cheap test for factories)."""
        if isinstance(target, ast.Name) and target.id in self.index.task_decorators:
            return True
        qualified = imports.qualify(target)
        if qualified in TASK_DECORATORS or qualified in self.extra:
            return True
        if isinstance(target, ast.Attribute) and target.attr == "task":
            return self.is_app(target.value, imports)
        if (
            not here
            and qualified is not None
            and self.elsewhere is not None
            and qualified.partition(".")[0] not in FOREIGN_ROOTS
            and _may_name_a_task_maker(qualified)
        ):
            return self.elsewhere(qualified)
        return False

    def find_decorators(self) -> None:
        """Module-level aliases and factories of Celery's task decorators."""
        index, imports = self.index, self.index.imports
        changed = True
        while changed:  # an alias of an alias: until nothing new
            changed = False
            for names, value in self.aliases:
                if set(names) <= index.task_decorators:
                    continue
                # ``x = shared_task``, ``x = app.task``, ``x = partial(shared_task, ...)``;
                # any other value is not looked into (nor its module read)
                maker = _alias_of(value, imports)
                if maker is not None and self.makes_tasks(maker, imports, here=True):
                    index.task_decorators.update(names)
                    changed = True
            for name, info in index.top_level.items():
                if name not in index.task_decorators and self.is_factory(info, imports):
                    index.task_decorators.add(name)
                    changed = True

    def is_factory(self, info: FunctionInfo, imports: ImportMap) -> bool:
        """``def proj_task(*a, **kw): return shared_task(*a, **kw)`` (or a partial of it).

        A factory passes its caller's options on, so it takes ``*args`` or ``**kwargs``;
        only such functions are read through.
        """
        args = info.node.args
        if args.vararg is None and args.kwarg is None:
            return False
        for node in ast.walk(info.node):
            if (
                isinstance(node, ast.Return)
                and isinstance(node.value, ast.Call)
                and self.makes_tasks(_decorator_of(node.value, imports), imports, here=True)
            ):
                return True
        return False

    def inner_decorators(self, info: FunctionInfo) -> tuple[ast.expr, ...]:
        """The decorators below the first one that makes ``info`` a task."""
        imports = self.index.imports_for(info.parent)
        decorators = info.node.decorator_list
        for position, decorator in enumerate(decorators):
            if self.decorator_options(decorator, imports) is not None:
                return tuple(decorators[position + 1:])
        return ()

    def decorated_options(self, info: FunctionInfo) -> TaskOptions | None:
        """The options of the first decorator of ``info`` that makes it a task."""
        imports = self.index.imports_for(info.parent)
        for decorator in info.node.decorator_list:
            options = self.decorator_options(decorator, imports)
            if options is not None:
                return options
        return None

    def classify(self) -> ModuleIndex:
        index = self.index
        self.find_decorators()
        for info, cls in self.pending:
            if cls is not None and cls in index.task_classes and info.name in TASK_HOOKS:
                info.task = TaskOptions("class", bind=True)
                continue
            # ``@app.task`` / ``@shared_task`` on a function, or on a method in a class body
            options = self.decorated_options(info)
            if options is None:
                continue
            info.task = options
            info.inner_decorators = self.inner_decorators(info)
            if options.name is not None:
                index.registered[options.name] = info
            if cls is None and info.parent is None:
                index.task_names[info.name] = info
        for scope, name, call, bound in self.registrations:
            options = self.decorator_options(call.func, index.imports_for(scope))
            target = index.resolve_local(scope, name) if options is not None else None
            if options is None or target is None:
                continue
            if target.task is None:
                target.task = replace(options, how="call")
                if options.name is not None:
                    index.registered[options.name] = target
            if bound is not None and scope is None:
                index.task_names[bound] = target
        index.class_tasks()
        return index


def _calls_name(name: str) -> Callable[[ast.expr], bool]:
    def called(func: ast.expr) -> bool:
        return isinstance(func, ast.Name) and func.id == name

    return called


def _class_name_attribute(node: ast.ClassDef) -> str | None:
    """``name = "shop.add"`` in a task class's body (or ``class T(Base, name=...)``,
    which a base's ``__init_subclass__`` may take)."""
    for keyword in node.keywords:
        if (keyword.arg == "name" and isinstance(keyword.value, ast.Constant)
                and isinstance(keyword.value.value, str)):
            return keyword.value.value
    for stmt in node.body:
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id == "name"
                and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)):
            return stmt.value.value
    return None


def replace_info(info: FunctionInfo, cls: str, module: ModuleIndex) -> FunctionInfo:
    """``info`` (a method) as seen on the class ``cls`` of ``module``, which inherits it:
    ``self.x`` in it is looked up on ``cls``."""
    if info.class_name == cls and info.module is module:
        return info
    return FunctionInfo(info.node, f"{cls}.{info.name}", None, cls, info.task, module=module)


def _may_name_a_task_maker(qualified: str) -> bool:
    """Only a decorator whose name says task or job is looked up in another module (the
    engine wakes on those words too); others are named with ``--task-decorator``."""
    name = qualified.rpartition(".")[2].lower()
    return "task" in name or "job" in name


def _alias_of(value: ast.expr, imports: ImportMap) -> ast.expr | None:
    """What ``name = value`` makes ``name`` an alias of: a name, or a partial's function."""
    if isinstance(value, (ast.Name, ast.Attribute)):
        return value
    if (
        isinstance(value, ast.Call)
        and value.args
        and imports.qualify(value.func) == "functools.partial"
    ):
        return value.args[0]
    return None


def _decorator_of(value: ast.expr, imports: ImportMap) -> ast.expr:
    """What a decorator expression calls: ``partial(shared_task, ...)`` -> ``shared_task``,
    ``shared_task(*a, **kw)`` -> ``shared_task``, a name -> itself."""
    if isinstance(value, ast.Call):
        if imports.qualify(value.func) == "functools.partial" and value.args:
            return value.args[0]
        return value.func
    return value


def build_index(
    tree: ast.Module,
    extra_decorators: Sequence[str] = (),
    decorators_elsewhere: DecoratorLookup | None = None,
) -> ModuleIndex:
    """Index ``tree``: imports, apps, every ``def`` and which are task bodies.

    ``decorators_elsewhere`` tells whether a decorator imported from another project
    module makes Celery tasks (``celery-safe check``'s resolver; flake8 has none).
    """
    indexer = _Indexer(extra_decorators, decorators_elsewhere)
    indexer.walk(tree.body, None, None, "")
    return indexer.classify()
