"""What a module's source says, literally, about how its Celery apps are configured.

Read for the deployment rules (CSF401-CSF404, ``celery_safe.deployment.static``): the
app's ``Celery(...)`` arguments, ``app.conf.update(...)``, ``app.conf.x = ...`` and
``app.conf["x"] = ...`` at the module's top level, a config module (or class) loaded by
name with ``config_from_object`` (``celeryconfig``-style, or Django's settings with
``namespace="CELERY"``), and the tasks of the app's module and of the modules it
``include``\\ s, with their decorator options. Only literals count (constants,
containers, arithmetic, module constants assigned once, ``kombu.Queue(...)``).

Unknown is never guessed: a configuration write this module cannot read (``**settings``,
``config_from_envvar``, a config module not found, ``app.conf`` used any other way)
leaves the app unjudged; a non-literal broker, task option or task name leaves only the
rules that read it silent (see ``StaticApp``).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ...celery_internals import namespace_reads_old_names
from ...deployment.model import ConfigStep, StaticApp, StaticPrioritySend, StaticSend, StaticTask
from .imports import ImportMap
from .index import APP_FACTORIES, TASK_DECORATORS, ModuleIndex

__all__ = ["AppSource", "BeatEntry", "ModuleSource", "beat_entries", "is_beat_key", "module_name",
           "read_apps"]

#: ``dotted module name -> its index`` (with its tree), seen from the checked module.
ModuleSource = Callable[[str], "ModuleIndex | None"]

#: ``Celery(...)`` keywords that are not settings.
_NOT_SETTINGS = frozenset({"main", "set_as_current", "autofinalize", "strict_typing",
                           "config_source_silent", "fixups", "log", "events", "amqp",
                           "control", "tasks"})
_CONSTRUCTOR_SETTINGS = {"broker": "broker_url", "backend": "result_backend"}
_BROKER_KEYS = frozenset({"broker_url", "broker_read_url"})
_TASK_MODULE_KEYS = frozenset({"include", "imports"})
#: their names before Celery 4, which Celery still reads without a namespace
_OLD_MODULE_KEYS = frozenset({"CELERY_IMPORTS", "CELERY_INCLUDE"})
#: ``task_`` settings no deployment rule reads (how a message is encoded, what is stored
#: of a result, eager runs in tests): unknown, they leave the rules' judgement as it is.
_NOT_READ = frozenset({"task_serializer", "task_compression", "task_track_started",
                       "task_ignore_result", "task_store_errors_even_if_ignored",
                       "task_send_sent_event", "task_always_eager",
                       "task_eager_propagates", "task_store_eager_result"})
#: Settings whose strings Celery imports (routers, annotation classes).
_NAMES_OBJECTS = frozenset({"task_routes", "task_annotations"})
#: Options whose literal is a tuple of exception classes: what matters is that it is set.
_EXCEPTIONS = frozenset({"autoretry_for", "dont_autoretry_for", "throws"})
_QUEUES = frozenset({"kombu.Queue", "kombu.entity.Queue"})
_EXCHANGES = frozenset({"kombu.Exchange", "kombu.entity.Exchange"})
_DJANGO_SETTINGS = "django.conf:settings"
_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow,
    ast.Mod: operator.mod,
}
#: Powers evaluated: small ones only (configuration writes ``2 ** 10``, not more).
_MAX_EXPONENT = 64
_MAX_BASE = 2 ** 32
_APP_USES = frozenset({"conf", "config_from_object", "config_from_envvar",
                       "config_from_cmdline", "add_defaults", "autodiscover_tasks",
                       "add_periodic_task"})


class _Unknown:
    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN: Any = _Unknown()


def definite(value: Any) -> bool:
    """No unknown anywhere inside ``value``."""
    if value is UNKNOWN:
        return False
    if isinstance(value, dict):
        return all(definite(k) and definite(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(definite(item) for item in value)
    return True


class Literals:
    """Evaluates literal expressions; anything else is :data:`UNKNOWN` (inside containers
    too, so a beat entry with a ``crontab(...)`` schedule keeps its literal options)."""

    def __init__(self, imports: ImportMap, constants: dict[str, Any] | None = None) -> None:
        self.imports = imports
        self.constants = constants if constants is not None else {}

    def __call__(self, node: ast.expr | None) -> Any:
        if node is None:
            return UNKNOWN
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                return UNKNOWN
            items = [self(e) for e in node.elts]
            if isinstance(node, ast.Set):
                return set(items) if definite(items) else UNKNOWN
            return tuple(items) if isinstance(node, ast.Tuple) else items
        if isinstance(node, ast.Dict):
            if any(key is None for key in node.keys):
                return UNKNOWN  # ``{**other}``
            keys = [self(k) for k in node.keys]
            if not all(definite(k) and _hashable(k) for k in keys):
                return UNKNOWN
            return {k: self(v) for k, v in zip(keys, node.values, strict=True)}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = self(node.operand)
            if _number(value):
                return -value if isinstance(node.op, ast.USub) else value
            return UNKNOWN
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left, right = self(node.left), self(node.right)
            numbers = _number(left) and _number(right)
            if numbers and isinstance(node.op, ast.Pow) and not (
                abs(right) <= _MAX_EXPONENT and abs(left) <= _MAX_BASE
            ):
                return UNKNOWN  # why: ``10 ** 10 ** 9`` would hang the linter
            joined = any(isinstance(left, kind) and isinstance(right, kind)
                         for kind in (str, list, tuple))
            if numbers or (joined and isinstance(node.op, ast.Add)):
                try:
                    return _OPS[type(node.op)](left, right)
                except (ArithmeticError, ValueError):
                    return UNKNOWN
            return UNKNOWN
        if isinstance(node, ast.Name):
            return self.constants.get(node.id, UNKNOWN)
        if isinstance(node, ast.Call):
            return self.call(node)
        return UNKNOWN

    def call(self, node: ast.Call) -> Any:
        """``dict(a=1)``, ``kombu.Queue("q", ...)``, ``kombu.Exchange(...)``."""
        qualified = self.imports.qualify(node.func)
        if isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
            qualified = "builtins.dict"
        if qualified not in _QUEUES | _EXCHANGES | {"builtins.dict"}:
            return UNKNOWN
        if any(k.arg is None for k in node.keywords):
            return UNKNOWN
        args = [self(a) for a in node.args]
        kwargs = {k.arg: self(k.value) for k in node.keywords if k.arg is not None}
        if not definite(args) or not definite(kwargs):
            return UNKNOWN
        if qualified == "builtins.dict":
            return kwargs
        from kombu.entity import Exchange, Queue  # a runtime dependency of Celery

        try:
            return (Queue if qualified in _QUEUES else Exchange)(*args, **kwargs)
        except (TypeError, ValueError):
            return UNKNOWN


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def module_constants(body: list[ast.stmt], literals: Literals) -> dict[str, Any]:
    """Top-level names assigned once, to a literal (``VISIBILITY = 2 * 3600``)."""
    counts: dict[str, int] = {}
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                counts[node.id] = counts.get(node.id, 0) + 1
            elif isinstance(node, ast.alias):
                bound = node.asname or node.name.partition(".")[0]
                counts[bound] = counts.get(bound, 0) + 1
    constants: dict[str, Any] = {}
    literals.constants = constants
    for statement in body:
        if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and counts.get(statement.targets[0].id) == 1):
            value = literals(statement.value)
            if definite(value):
                constants[statement.targets[0].id] = value
    return constants


def module_name(path: str) -> str | None:
    """``shop.tasks`` of ``.../shop/tasks.py`` (the folders with ``__init__.py`` above it)."""
    if not path.endswith(".py"):
        return None
    file = Path(path).resolve()
    if not file.is_file():  # source given without its file: a top-level module
        return file.stem if file.stem.isidentifier() else None
    parts = [] if file.name == "__init__.py" else [file.stem]
    folder = file.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts) or None


@dataclass
class AppSource:
    """One app made in the checked module: the model the rules judge, and where each of
    its parts is written (``("tasks", name)`` -> the node to report at)."""

    var: str
    made: ast.Call
    model: StaticApp
    where: dict[tuple[str, str], ast.AST] = field(default_factory=dict)
    #: every configuration write was read (else nothing is judged)
    complete: bool = True
    #: settings a rule may read whose value is not literal (only the rules that do not
    #: read them judge: ``deployment.static.judged_despite``)
    unknown_settings: set[str] = field(default_factory=set)
    #: the modules the worker imports for it (``include``, ``imports``; literal ones), the
    #: config modules it loads by name, and the Django settings module it names;
    #: ``modules_known``: every configuration source was read, and they are all literal
    #: (a non-literal setting the worker's imports do not depend on leaves it known)
    task_modules: list[str] = field(default_factory=list)
    modules_known: bool = True
    config_modules: list[str] = field(default_factory=list)
    django_settings: str | None = None
    _broker_writes: list[bool] = field(default_factory=list)

    def bare_route_keys(self) -> bool:
        """Some ``task_routes`` key is written without a dot (``"send_email"``)."""
        return any(kind == "task_routes" and "." not in key for kind, key in self.where)

    def node_for(self, path: tuple[str | int, ...]) -> ast.AST:
        """Where to report a problem at ``path`` (``("tasks", name)``...)."""
        key = (str(path[0]), str(path[1])) if len(path) > 1 else None
        return self.where.get(key, self.made) if key is not None else self.made


def read_apps(
    tree: ast.Module, index: ModuleIndex, path: str, modules: ModuleSource | None
) -> list[AppSource]:
    """The apps made at the top level of ``tree``, each with what its source says."""
    literals = Literals(index.imports)
    module_constants(tree.body, literals)
    made: dict[str, list[ast.Call]] = {}
    for statement in tree.body:
        if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)
                and isinstance(statement.value, ast.Call)
                and index.imports.qualify(statement.value.func) in APP_FACTORIES):
            made.setdefault(statement.targets[0].id, []).append(statement.value)
    found = []
    for var, calls in made.items():
        if len(calls) != 1:
            continue  # why: made twice, which one configures the worker is not known here
        reader = _AppReader(var, calls[0], tree, index, path, modules, literals)
        found.append(reader.read())
    return found


class _AppReader:
    def __init__(self, var: str, call: ast.Call, tree: ast.Module, index: ModuleIndex,
                 path: str, modules: ModuleSource | None, literals: Literals) -> None:
        self.var, self.call, self.tree, self.index = var, call, tree, index
        self.modules, self.literals = modules, literals
        self.module = module_name(path)
        main = literals(call.args[0]) if call.args else None
        self.app = AppSource(var, call, StaticApp(main if isinstance(main, str) else None))
        #: the top-level statements read as configuration (other uses of the app's
        #: ``conf`` or ``config_from_*`` may configure it)
        self.recognised: set[int] = set()
        self.task_modules: list[tuple[str, ast.AST]] = []
        self.namespace: str | None = None
        #: Django's ``INSTALLED_APPS`` when the app reads Django's settings (literal)
        self.installed_apps: list[str] | tuple[str, ...] | None = None
        #: ``app.autodiscover_tasks(...)`` calls: (their packages or None, related name)
        self.discovered: list[tuple[ast.Call, Any, Any]] = []

    def read(self) -> AppSource:
        self.constructor()
        for statement in self.tree.body:
            made_here = isinstance(statement, ast.Assign) and statement.value is self.call
            if made_here or self.statement(statement):
                self.recognised.add(id(statement))
        self.unrecognised_uses()
        self.app.task_modules = [name for name, _ in self.task_modules]
        self.app.django_settings = self.django_settings()
        self.tasks()
        model = self.app.model
        model.broker_known = bool(self.app._broker_writes) and all(self.app._broker_writes)
        return self.app

    # -- configuration ---------------------------------------------------------------
    def constructor(self) -> None:
        call, settings = self.call, {}
        if len(call.args) > 1:
            # positional loader/backend...: not read
            self.app.complete = self.app.modules_known = False
        for keyword in call.keywords:  # first: it applies to config_source too
            if keyword.arg == "namespace":
                value = self.literals(keyword.value)
                self.namespace = value if isinstance(value, str) else None
                if not isinstance(value, str) and value is not None:
                    self.app.complete = self.app.modules_known = False
        for keyword in call.keywords:
            name = keyword.arg
            if name == "task_cls" and isinstance(self.literals(keyword.value), str):
                self.app.complete = False  # a class by name: imported with the app
                self.app.config_modules.append(
                    self.literals(keyword.value).partition(":")[0])
            elif name is None or name in ("loader", "task_cls", "changes"):
                self.app.complete = self.app.modules_known = False
            elif name == "namespace":
                continue
            elif name == "config_source":
                self.config_from_object(keyword.value, None, call)
            elif name not in _NOT_SETTINGS:
                settings[_CONSTRUCTOR_SETTINGS.get(name, name)] = keyword.value
        self.update(settings)

    def statement(self, statement: ast.stmt) -> bool:
        """Read one top-level statement configuring the app (False: not one)."""
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
            call = statement.value
            target = self.app_attribute(call.func)
            if target == "conf.update":
                self.conf_update(call)
                return True
            if target == "config_from_object":
                namespace = next((k.value for k in call.keywords if k.arg == "namespace"), None)
                self.config_from_object(call.args[0] if call.args else None, namespace, call)
                return True
            if target == "autodiscover_tasks":
                self.autodiscover(call)
                return True
        elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            key = self.conf_key(statement.targets[0])
            if key is not None:
                self.update({key: statement.value})
                return True
        return False

    def conf_update(self, call: ast.Call) -> None:
        """``app.conf.update({...}, key=value)``."""
        if any(k.arg is None for k in call.keywords) or len(call.args) > 1:
            self.app.complete = self.app.modules_known = False
            return
        settings: dict[str, ast.expr] = {}
        if call.args:
            if not isinstance(call.args[0], ast.Dict) or None in call.args[0].keys:
                self.app.complete = self.app.modules_known = False
                return
            for key, value in zip(call.args[0].keys, call.args[0].values, strict=True):
                literal = self.literals(key)
                if not isinstance(literal, str):
                    self.app.complete = self.app.modules_known = False
                    return
                settings[literal] = value
        settings.update({k.arg: k.value for k in call.keywords if k.arg is not None})
        self.update(settings)

    def app_attribute(self, node: ast.expr) -> str | None:
        """``conf.update`` of ``app.conf.update``; None when not about this app."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.insert(0, node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id == self.var and parts:
            return ".".join(parts)
        return None

    def conf_key(self, target: ast.expr) -> str | None:
        """``x`` of ``app.conf.x`` or ``app.conf["x"]``."""
        if isinstance(target, ast.Attribute) and self.app_attribute(target.value) == "conf":
            return target.attr
        if isinstance(target, ast.Subscript) and self.app_attribute(target.value) == "conf":
            key = self.literals(target.slice)
            return key if isinstance(key, str) else None
        return None

    def update(self, settings: dict[str, ast.expr]) -> None:
        """Add one ``conf.update`` step from the source's expressions."""
        values: dict[str, Any] = {}
        for key, node in settings.items():
            value = self.literals(node)
            self.note_places(_normalised(key, None) or "", node, None)
            kept = self.setting(key, value, node)
            if kept is not UNKNOWN:
                values[key] = kept
        if values:
            self.app.model.steps.append(ConfigStep(values))

    def setting(self, key: str, value: Any, origin: ast.AST, namespace: str | None = None) -> Any:
        """The value to replay for ``key`` (UNKNOWN: leave it out), noting what is unknown."""
        name = _normalised(key, namespace)
        if name is None:
            return UNKNOWN  # not a setting under this namespace
        if name in _BROKER_KEYS:
            self.app._broker_writes.append(isinstance(value, str))
        if name in _TASK_MODULE_KEYS or (namespace is None and name in _OLD_MODULE_KEYS):
            if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                elements: list[ast.AST] = list(getattr(origin, "elts", None) or ())
                same = len(elements) == len(value)
                places = elements if same else [origin] * len(value)
                self.task_modules += list(zip(value, places, strict=True))
            elif isinstance(value, str):
                self.task_modules.append((value, origin))
            else:
                self.app.model.names_known = self.app.modules_known = False
            return UNKNOWN  # read by the linter, never imported
        if name == "beat_schedule":
            return _beat_entries(value)
        if name in _NAMES_OBJECTS and _names_an_object(value):
            # why: Celery would import it (a router or annotation class by name), and the
            # linter never runs the checked project's code; what it does is unknown
            self.app.complete = False
            return UNKNOWN
        if definite(value):
            return value
        if name.startswith(("task_", "broker_")) and name not in _BROKER_KEYS | _NOT_READ:
            self.app.unknown_settings.add(name)  # why: a setting the rules may read
        return UNKNOWN

    def note_places(self, key: str, node: ast.expr | None, origin: ast.AST | None,
                    literals: Literals | None = None) -> None:
        """Where the beat entries, route keys and routed queues are written (``literals``:
        of the module writing them)."""
        where, read = self.app.where, literals or self.literals
        if key == "task_queues" and isinstance(node, (ast.List, ast.Tuple)):
            for element in node.elts:  # where a queue is declared: its arguments
                queue = read(element)
                if hasattr(queue, "name"):
                    where[("queues", queue.name)] = origin or element
        if not isinstance(node, ast.Dict):
            return
        for item, value in zip(node.keys, node.values, strict=True):
            literal = read(item) if item is not None else UNKNOWN
            if not isinstance(literal, str):
                continue
            if key == "beat_schedule":
                where.setdefault(("beat_schedule", literal), origin or item or node)
            elif key == "task_annotations":  # options given there: the task's cause
                where.setdefault(("tasks", literal), origin or item or node)
            elif key == "task_routes":
                where.setdefault(("task_routes", literal), origin or item or node)
                route = read(value)
                queue = route.get("queue") if isinstance(route, dict) else route
                if isinstance(queue, str):
                    where.setdefault(("queues", queue), origin or value)

    def config_from_object(self, arg: ast.expr | None, namespace_node: ast.expr | None,
                           call: ast.AST) -> None:
        name = self.literals(arg)
        namespace = (self.literals(namespace_node) if namespace_node is not None
                     else self.namespace)
        if not isinstance(name, str) or (namespace is not None and not isinstance(namespace, str)):
            self.app.complete = self.app.modules_known = False
            return
        django = name == _DJANGO_SETTINGS
        if django:
            name = self.django_settings() or ""
        module, _, attribute = name.partition(":")
        self.app.config_modules.append(module)
        found = self.modules(module) if self.modules is not None and module else None
        written = self.settings_of(found, attribute, set()) if found is not None else None
        if written is None:
            # why: the settings live where we cannot read
            self.app.complete = self.app.modules_known = False
            return
        values: dict[str, Any] = {}
        for key, node, literals in written:
            value = literals(node)
            self.note_places(_normalised(key, namespace) or "", node, call, literals)
            kept = self.setting(key, value, call, namespace)
            values.pop(key, None)  # a later assignment wins, even one we cannot read
            if kept is not UNKNOWN:
                values[key] = kept
            if django and key == "INSTALLED_APPS":
                self.installed_apps = value if _strings(value) else None
        self.app.model.steps.append(ConfigStep(values, from_object=True, namespace=namespace))

    def settings_of(self, found: ModuleIndex, attribute: str, seen: set[str]
                    ) -> list[tuple[str, ast.expr | None, Literals]] | None:
        """Every ``NAME = value`` a settings module (or its class ``attribute``) makes, in
        the order Python runs them, through its ``from .base import *`` chain; None when
        some of it cannot be read (a star import not found, or conditional, ``__all__``,
        names set through ``globals()``, django-split-settings...)."""
        body = _body_of(found.tree, attribute) if found.tree is not None else None
        if body is None or found.path in seen or len(seen) >= _MAX_STAR_DEPTH:
            return None
        if _sets_names_indirectly(body, found.imports):
            return None
        literals = Literals(found.imports)
        module_constants(body, literals)
        written: list[tuple[str, ast.expr | None, Literals]] = []
        for statement in body:
            star = _star_import(statement)
            if star is not None:
                lookup = getattr(found.external, "module_index", None)
                base = lookup(star) if lookup is not None and not attribute else None
                inner = (self.settings_of(base, "", seen | {found.path})
                         if base is not None else None)
                if inner is None or base is None or _names_all(base):
                    return None
                written += [item for item in inner if not item[0].startswith("_")]
                continue
            if any(_star_import(node) is not None for node in ast.walk(statement)):
                return None  # why: ``try: from .local import *``: may or may not be run
            written += [(key, node, literals) for key, node in _assignments(statement)]
        return written

    def django_settings(self) -> str | None:
        """The settings module the worker's Django loads: the one the app's module sets
        with ``os.environ.setdefault("DJANGO_SETTINGS_MODULE", "...")``, else the one
        ``manage.py``, ``wsgi.py`` and ``asgi.py`` beside it agree on (None: unknown)."""
        named = _settings_default(self.tree, self.index.imports)
        if named is not UNKNOWN or self.modules is None:
            return named if isinstance(named, str) else None
        package = (self.module or "").rpartition(".")[0]
        found = {
            _settings_default(index.tree, index.imports)
            for where in ("manage", *(f"{package}.{m}" for m in ("wsgi", "asgi") if package))
            if (index := self.modules(where)) is not None and index.tree is not None
        } - {UNKNOWN}
        if len(found) == 1:
            only = found.pop()
            return only if isinstance(only, str) else None
        return None

    def autodiscover(self, call: ast.Call) -> None:
        """``app.autodiscover_tasks()``: Celery imports ``<package>.tasks`` of each
        package given, or (with Django) of each installed app. Their tasks are read; the
        names stay unknown (Django imports every app's models, which may make tasks)."""
        self.app.model.names_known = False
        packages: Any = None  # Django's installed apps
        given = call.args[0] if call.args else next(
            (k.value for k in call.keywords if k.arg == "packages"), None)
        if given is not None and not (isinstance(given, ast.Lambda)
                                      and _installed_apps(given.body)):
            packages = self.literals(given)
            if not _strings(packages):
                return
        related = next((k.value for k in call.keywords if k.arg == "related_name"), None)
        name = self.literals(related) if related is not None else "tasks"
        if isinstance(name, str):
            self.discovered.append((call, packages, name))

    def discovered_modules(self) -> Iterator[tuple[str, ast.AST]]:
        """The task modules ``autodiscover_tasks`` imports that the reader knows."""
        for call, given, related in self.discovered:
            packages = self.installed_apps if given is None else given
            for entry in packages or ():
                package = self.app_package(entry)
                if package is not None:
                    yield f"{package}.{related}", call

    def app_package(self, entry: str) -> str | None:
        """The package of an ``INSTALLED_APPS`` entry: itself, or an ``AppConfig``'s
        literal ``name`` (``shop.apps.ShopConfig``)."""
        module, _, last = entry.rpartition(".")
        if not last[:1].isupper():
            return entry
        found = self.modules(module) if self.modules is not None and module else None
        if found is None or found.tree is None:
            return None
        body = _body_of(found.tree, last) or [
            s for c in found.tree.body if isinstance(c, ast.ClassDef) and c.name == last
            for s in c.body]
        literals = Literals(found.imports)
        named = [literals(node) for s in body for key, node in _assignments(s) if key == "name"]
        return named[-1] if len(named) == 1 and isinstance(named[-1], str) else None

    def unrecognised_uses(self) -> None:
        """Any other use of ``app.conf`` or ``app.config_from_*`` may configure it."""
        for statement in self.tree.body:
            if id(statement) in self.recognised:
                continue
            for node in ast.walk(statement):
                if (isinstance(node, ast.Attribute) and node.attr in _APP_USES
                        and isinstance(node.value, ast.Name) and node.value.id == self.var):
                    if node.attr == "autodiscover_tasks":
                        self.app.model.names_known = False
                    elif node.attr != "add_periodic_task":  # adds entries: only silences
                        self.app.complete = self.app.modules_known = False

    # -- tasks -----------------------------------------------------------------------
    def tasks(self) -> None:
        model = self.app.model
        if self.index.task_classes:
            model.names_known = False
        named: dict[str, str] = {}
        for task, node in self.module_tasks(self.index, self.module, self.literals, named):
            model.tasks.append(task)
            self.app.where.setdefault(("tasks", task.name), node)
        self.sends(self.tree, named, self.literals, None)
        discovered = list(self.discovered_modules())
        for name, origin in self.task_modules + discovered:
            found = self.modules(name) if self.modules is not None else None
            if found is None:
                model.names_known = False  # an autodiscovered app may have no such module
                continue
            if found.task_classes:
                model.names_known = False
            literals = Literals(found.imports)
            module_constants(found.tree.body if found.tree is not None else [], literals)
            named = {}
            for task, _node in self.module_tasks(found, name, literals, named):
                model.tasks.append(task)
                self.app.where.setdefault(("tasks", task.name), origin)
            if found.tree is not None:
                self.sends(found.tree, named, literals, origin)

    def sends(self, tree: ast.Module, named: dict[str, str], literals: Literals,
              origin: ast.AST | None) -> None:
        """``task.apply_async(countdown=N)`` (or on ``task.s(...)``) with a literal N, for
        the module's own tasks (``named``: function -> task name); reported at the call,
        or at ``origin`` (the module's ``include`` entry) when it is in another module."""
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "apply_async"):
                continue
            target = node.func.value
            if (isinstance(target, ast.Call) and isinstance(target.func, ast.Attribute)
                    and target.func.attr in ("s", "si", "signature")):
                target = target.func.value
            if not isinstance(target, ast.Name) or target.id not in named:
                continue
            countdown = next((literals(k.value) for k in node.keywords
                              if k.arg == "countdown"), None)
            if isinstance(countdown, (int, float)) and not isinstance(countdown, bool):
                sends = self.app.model.sends
                self.app.where[("sends", str(len(sends)))] = origin or node
                sends.append(StaticSend(named[target.id], float(countdown)))
            self.priority_send(node, named[target.id], literals, origin)

    def priority_send(self, node: ast.Call, task: str, literals: Literals,
                      origin: ast.AST | None) -> None:
        """``apply_async(priority=9)`` (and ``queue="q"``), both literal; an exchange, a
        routing key or ``**options`` leave the destination unknown (not recorded)."""
        given = {k.arg: literals(k.value) for k in node.keywords}
        priority, queue = given.get("priority"), given.get("queue")
        if not isinstance(priority, (int, str, float)) or isinstance(priority, bool):
            return
        if None in given or "exchange" in given or "routing_key" in given or not (
            queue is None or isinstance(queue, str)
        ):
            return
        sends = self.app.model.priority_sends
        self.app.where[("priority_sends", str(len(sends)))] = origin or node
        sends.append(StaticPrioritySend(task, priority, queue))

    def module_tasks(self, index: ModuleIndex, module: str | None, literals: Literals,
                     named: dict[str, str]) -> Iterator[tuple[StaticTask, ast.AST]]:
        here = index is self.index
        app_name = f"{self.module}.{self.var}" if self.module else None
        for info in index.functions:
            if info.task is None or info.parent is not None or info.class_name is not None:
                continue
            if info.task.how != "decorator":
                self.app.model.names_known = False
                continue
            decorator = next((d for d in info.node.decorator_list
                              if _decorator_app(d, index.imports, self.var if here else None,
                                                app_name)), None)
            if decorator is None:
                # a project's own decorator, or an app we cannot tell is this one
                self.app.model.names_known = False
                continue
            task = _task(decorator, info.name, module, literals)
            if task is None:
                self.app.model.names_known = False
                continue
            named[info.name] = task.name
            yield task, decorator


def _decorator_app(decorator: ast.expr, imports: ImportMap, var: str | None,
                   app_name: str | None) -> bool | None:
    """True: a task of this app (``@app.task``, ``@shared_task``); None: not known to be."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    qualified = imports.qualify(target)
    if qualified in TASK_DECORATORS:
        if qualified.startswith("celery_safe") and isinstance(decorator, ast.Call):
            first = decorator.args[0] if decorator.args else next(
                (k.value for k in decorator.keywords if k.arg == "app"), None)
            if first is not None:
                return _decorator_app(ast.Attribute(first, "task"), imports, var, app_name)
        return True
    if isinstance(target, ast.Attribute) and target.attr == "task":
        base = target.value
        if var is not None and isinstance(base, ast.Name) and base.id == var:
            return True
        owner = imports.qualify(base)
        return True if owner is not None and owner == app_name else None
    return None


def _task(decorator: ast.expr, function: str, module: str | None,
          literals: Literals) -> StaticTask | None:
    """The task a decorator registers (None: its name is not known)."""
    options: dict[str, Any] = {}
    known = True
    if isinstance(decorator, ast.Call):
        safe = (literals.imports.qualify(decorator.func) or "").startswith("celery_safe")
        if decorator.args and not safe:
            known = False
        for keyword in decorator.keywords:
            if keyword.arg is None:
                known = False
                continue
            if (safe and keyword.arg in ("app", "resources")) or keyword.arg == "shared":
                continue  # not task options (the replayed app never shares its tasks)
            if keyword.arg in _EXCEPTIONS:
                if keyword.arg == "autoretry_for":
                    chosen = isinstance(keyword.value, (ast.Tuple, ast.List)) and bool(
                        keyword.value.elts)
                    options[keyword.arg] = (Exception,) if chosen else ()
                continue
            value = literals(keyword.value)
            if keyword.arg == "name":
                if not isinstance(value, str):
                    return None
            elif keyword.arg == "base" or not definite(value):
                known = False
                continue
            options[keyword.arg] = value
    name = options.pop("name", None)
    if name is None:
        if module is None:
            return None
        name = f"{module}.{function}"
    return StaticTask(name, options, known)


@cache
def _celery_settings() -> tuple[frozenset[str], dict[str, str]]:
    """Celery's setting names and its old names' new ones (``CELERY_ROUTES`` ->
    ``task_routes``): loaded when a configuration is read, never for other modules."""
    from celery.app.defaults import _TO_NEW_KEY, SETTING_KEYS

    return frozenset(SETTING_KEYS), dict(_TO_NEW_KEY)


def _normalised(key: str, namespace: str | None) -> str | None:
    """The setting Celery reads ``key`` as (None: none), as its ``Settings`` looks one up:
    under a namespace, ``CELERY_TASK_ACKS_LATE`` -> ``task_acks_late``; with or without
    one, the setting's own name and its old one (``CELERY_ROUTES``, ``BROKER_URL``), the
    old one under a namespace only on the Celery that reads it there (5.7 on)."""
    if key.islower() and not namespace:
        return key  # why: Celery's names are read as written (and its tables not loaded)
    settings, old = _celery_settings()
    if namespace:
        prefix = namespace.rstrip("_") + "_"
        if key.startswith(prefix):
            name = key[len(prefix):].lower()
            if name in settings and key == _match_case(prefix + name, prefix):
                return name
    if key in settings:
        return key
    if namespace and not namespace_reads_old_names():
        return None  # why: Celery before 5.7 reads no old name under a namespace (measured)
    return old.get(key)


def _match_case(value: str, like: str) -> str:
    """Celery's ``match_case``: ``value`` upper-cased when ``like`` is."""
    return value.upper() if like.isupper() else value.lower() if like.islower() else value


def _names_an_object(value: Any) -> bool:
    """``"proj.routers.route"`` or ``["proj.routers.route", {...}]``: named, not written."""
    if isinstance(value, str):
        return True
    return isinstance(value, (list, tuple)) and any(isinstance(item, str) for item in value)


def _beat_entries(value: Any) -> Any:
    """The beat entries whose task and options are literal (their schedules need not be:
    the rules read neither); the others are left out, which can only silence a rule."""
    if not isinstance(value, dict):
        return {}
    kept = {}
    for name, entry in value.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("task"), str):
            continue
        if not definite(entry.get("options", {})):
            continue
        kept[name] = {key: (item if definite(item) else None) for key, item in entry.items()}
    return kept


def _assignments(statement: ast.stmt) -> Iterator[tuple[str, ast.expr | None]]:
    """``NAME = value`` at a config module's top level (None: written another way)."""
    if isinstance(statement, ast.Assign):
        for target in statement.targets:
            if isinstance(target, ast.Name):
                yield target.id, statement.value
            else:
                for node in ast.walk(target):
                    if isinstance(node, ast.Name):
                        yield node.id, None
    elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        yield statement.target.id, statement.value
    elif isinstance(statement, (ast.AugAssign, ast.If, ast.Try, ast.For, ast.With)):
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                yield node.id, None
    if isinstance(statement, (ast.Expr, ast.If, ast.Try, ast.For, ast.With)):
        for node in ast.walk(statement):  # ``CELERY_TASK_ROUTES.update({...})``
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                root = node.func.value
                while isinstance(root, (ast.Attribute, ast.Subscript)):
                    root = root.value
                if isinstance(root, ast.Name):
                    yield root.id, None


def _body_of(tree: ast.Module, attribute: str) -> list[ast.stmt] | None:
    """The statements defining the settings: the module's, or its class ``attribute``'s."""
    if not attribute:
        return tree.body
    for statement in tree.body:
        if isinstance(statement, ast.ClassDef) and statement.name == attribute:
            return None if statement.bases else statement.body
    return None



#: How many ``from .base import *`` a settings module may chain (a cycle is not read).
_MAX_STAR_DEPTH = 8
#: Calls that set a module's names without an assignment the reader sees.
_INDIRECT = frozenset({"globals", "locals", "vars", "setattr", "exec"})


def _star_import(node: ast.AST) -> str | None:
    """``.base`` of ``from .base import *`` (None: not a star import)."""
    if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
        return "." * node.level + (node.module or "")
    return None


def _names_all(index: ModuleIndex) -> bool:
    """The module says which names ``import *`` takes (``__all__``)."""
    tree = index.tree
    return tree is not None and any(name == "__all__" for s in tree.body
                                    for name, _ in _assignments(s))


def _sets_names_indirectly(body: list[ast.stmt], imports: ImportMap) -> bool:
    """``globals().update(...)``, ``setattr(module, ...)``, ``django_heroku.settings(
    locals())``, django-split-settings' ``include(...)``: names no assignment shows."""
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and node.id in _INDIRECT:
                return True
            if isinstance(node, ast.Call):
                qualified = imports.qualify(node.func) or ""
                if qualified.startswith("split_settings"):
                    return True
    return False


def _settings_default(tree: ast.Module, imports: ImportMap) -> Any:
    """The module ``os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...)`` names in
    ``tree`` (UNKNOWN: no such call; None: a value that is not literal, or two)."""
    literals = Literals(imports)
    named: set[Any] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and len(node.args) == 2
                and imports.qualify(node.func) == "os.environ.setdefault"
                and literals(node.args[0]) == "DJANGO_SETTINGS_MODULE"):
            value = literals(node.args[1])
            named.add(value if isinstance(value, str) else None)
    if not named:
        return UNKNOWN
    return named.pop() if len(named) == 1 else None


def _strings(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)


def _installed_apps(node: ast.expr) -> bool:
    """``settings.INSTALLED_APPS`` (``lambda: settings.INSTALLED_APPS``)."""
    return isinstance(node, ast.Attribute) and node.attr == "INSTALLED_APPS"




# -- beat's schedule, for the canvas rules -------------------------------------------
#: Beat's schedule under Celery's names: the setting, its old name, the conf attribute.
_BEAT_KEYS = frozenset({"beat_schedule", "CELERYBEAT_SCHEDULE"})


def is_beat_key(name: str) -> bool:
    """``beat_schedule``, ``CELERYBEAT_SCHEDULE``, or under an upper-case namespace
    (Django's ``CELERY_BEAT_SCHEDULE`` with ``namespace="CELERY"``)."""
    return name in _BEAT_KEYS or (name.endswith("_BEAT_SCHEDULE") and name.isupper())


@dataclass(frozen=True)
class BeatEntry:
    """One entry of beat's schedule as written: the message beat sends every time it
    is due, ``task`` by its registered name with ``args``/``kwargs`` exactly as given
    (beat prepends nothing). ``fields`` are the entry's expressions by key."""

    name: str
    key: ast.expr
    task: str
    fields: dict[str, ast.expr]


def beat_entries(body: list[ast.stmt], imports: ImportMap) -> Iterator[BeatEntry]:
    """The entries of every beat schedule a module's top level (or a config class in
    it) writes with a literal task name: ``CELERY_BEAT_SCHEDULE = {...}`` (a settings or
    config module), ``app.conf.beat_schedule = {...}``, ``app.conf.update(beat_schedule=
    {...})``, ``SCHEDULE["name"] = {...}``, ``SCHEDULE.update({...})``. Entries whose
    task name is not a literal are left out (a rule reading them stays silent)."""
    statements = [s for s in _config_statements(body) if _may_write_schedule(s)]
    if not statements:
        return  # why: the module's constants are read only when a schedule is written
    literals = Literals(imports)
    module_constants(body, literals)
    for statement in statements:
        for name_node, entry in _schedule_writes(statement, literals):
            name = literals(name_node)
            fields = _call_or_dict_fields(entry, literals)
            task = literals(fields.get("task")) if fields is not None else None
            if isinstance(name, str) and fields is not None and isinstance(task, str):
                yield BeatEntry(name, name_node, task, fields)


def _may_write_schedule(statement: ast.stmt) -> bool:
    """A cheap look: could this statement write a schedule (``_schedule_writes``)?"""
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, ast.AnnAssign):
        targets = [statement.target]
    elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        func = statement.value.func
        return isinstance(func, ast.Attribute) and func.attr == "update"
    else:
        return False
    for target in targets:
        inner = target.value if isinstance(target, ast.Subscript) else target
        if isinstance(inner, ast.Subscript) or (
            isinstance(inner, ast.Attribute) and _is_conf(inner.value)
        ):
            return True
        if isinstance(inner, ast.Name) and is_beat_key(inner.id):
            return True
    return False


def _config_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for statement in body:
        if isinstance(statement, ast.ClassDef):  # ``config_from_object("mod:Config")``
            yield from statement.body
        else:
            yield statement


def _is_schedule(node: ast.expr, literals: Literals) -> bool:
    """``CELERY_BEAT_SCHEDULE``, ``x.conf.beat_schedule``, ``x.conf["beat_schedule"]``."""
    if isinstance(node, ast.Name):
        return is_beat_key(node.id)
    if isinstance(node, ast.Attribute) and _is_conf(node.value):
        return is_beat_key(node.attr)
    if isinstance(node, ast.Subscript) and _is_conf(node.value):
        key = literals(node.slice)
        return isinstance(key, str) and is_beat_key(key)
    return False


def _is_conf(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "conf"


def _schedule_writes(
    statement: ast.stmt, literals: Literals
) -> Iterator[tuple[ast.expr, ast.expr]]:
    """(entry name, entry) written by one statement."""
    if isinstance(statement, (ast.Assign, ast.AnnAssign)) and statement.value is not None:
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        for target in targets:
            if _is_schedule(target, literals):
                yield from _schedule_items(statement.value, literals)
            elif isinstance(target, ast.Subscript) and _is_schedule(target.value, literals):
                yield target.slice, statement.value
    elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        call = statement.value
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr != "update":
            return
        if _is_conf(func.value):  # ``app.conf.update(beat_schedule=..., ...)``
            for keyword in call.keywords:
                if keyword.arg is not None and is_beat_key(keyword.arg):
                    yield from _schedule_items(keyword.value, literals)
            settings = _call_or_dict_fields(call.args[0], literals) if call.args else None
            for key, value in (settings or {}).items():
                if is_beat_key(key):
                    yield from _schedule_items(value, literals)
        elif _is_schedule(func.value, literals):  # ``SCHEDULE.update({...})``
            for arg in call.args[:1]:
                yield from _schedule_items(arg, literals)
            for keyword in call.keywords:
                if keyword.arg is not None:
                    yield ast.Constant(keyword.arg, lineno=keyword.lineno,
                                       col_offset=keyword.col_offset), keyword.value


def _schedule_items(node: ast.expr, literals: Literals) -> Iterator[tuple[ast.expr, ast.expr]]:
    """The (name, entry) pairs of a schedule written as ``{...}`` or ``dict(...)``."""
    if isinstance(node, ast.Dict):
        for key, value in zip(node.keys, node.values, strict=True):
            if key is not None:
                yield key, value
    elif _is_dict_call(node, literals):
        assert isinstance(node, ast.Call)
        for keyword in node.keywords:
            if keyword.arg is not None:
                yield ast.Constant(keyword.arg, lineno=keyword.lineno,
                                   col_offset=keyword.col_offset), keyword.value


def _is_dict_call(node: ast.expr, literals: Literals) -> bool:
    return (isinstance(node, ast.Call) and not node.args
            and (literals.imports.qualify(node.func) == "builtins.dict"
                 or (isinstance(node.func, ast.Name) and node.func.id == "dict")))


def _call_or_dict_fields(node: ast.expr, literals: Literals) -> dict[str, ast.expr] | None:
    """A ``{...}`` or ``dict(...)`` literal's string keys and values (None: not one, or a
    key is unknown: ``{**base}``)."""
    if isinstance(node, ast.Dict):
        fields: dict[str, ast.expr] = {}
        for key, value in zip(node.keys, node.values, strict=True):
            name = literals(key) if key is not None else None
            if not isinstance(name, str):
                return None
            fields[name] = value
        return fields
    if _is_dict_call(node, literals):
        assert isinstance(node, ast.Call)
        if any(k.arg is None for k in node.keywords):
            return None
        return {k.arg: k.value for k in node.keywords if k.arg is not None}
    return None
