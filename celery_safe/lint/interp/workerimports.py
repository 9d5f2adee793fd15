"""The modules of a project that its worker imports, and so the tasks it registers.

A worker registers a task when the module defining it is imported in the worker
process; a task whose module only the sender imports is dropped by the worker
("Received unregistered task"). Measured on a prefork worker
(``tests/lint/test_worker_imports_celery.py``), the worker imports:

* the ``-A`` module and its packages, and what they import;
* the app's ``include`` and ``imports`` (``Celery(include=...)``, ``app.conf``, a config
  module, Django's ``CELERY_IMPORTS`` under ``namespace="CELERY"``);
* for each package ``autodiscover_tasks`` is given, the package and
  ``<package>.<related_name>`` (``tasks`` by default) — nothing else of the package;
* with Django (``autodiscover_tasks()`` over ``INSTALLED_APPS``), what ``django.setup()``
  and the system checks import: each app's package, ``apps.py`` (and what ``ready()``
  imports), ``models``, ``admin`` (the admin app's autodiscovery), the URLconf.

The model over-approximates what is imported (every ``import`` anywhere in a module,
inside functions too: a task or signal handler may import at run time; every project
module a Django setting names; all ``templatetags``), so "not imported" is said only
when it is certain. It is unknown (``None``) when anything is not literal or not found:
no app or more than one ``Celery(...)``, a configuration write it cannot read, a
non-literal ``autodiscover_tasks`` list or ``import_module`` name, a star import of a
project module it cannot find, Django settings split over modules, an installed app it
does not know (it may autodiscover modules of its own), a ``celery worker --include``
in a deployment file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .appconfig import Literals, module_constants, read_apps
from .index import ModuleIndex

__all__ = ["ProjectSource", "WorkerImports", "worker_imports"]


class ProjectSource:
    """What the model reads of the project (``resolve.ModuleResolver`` provides it)."""

    def index(self, module: str) -> ModuleIndex | None:  # pragma: no cover - interface
        """The index (with its tree) of the project module ``module`` (absolute)."""
        raise NotImplementedError

    def is_package(self, module: str) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def modules(self) -> list[str]:  # pragma: no cover - interface
        """Every module of the project (tests left out: no worker runs them)."""
        raise NotImplementedError

    def mentions(self, module: str, words: set[str]) -> bool:  # pragma: no cover
        """Whether the module's text may contain one of ``words`` (True when unread)."""
        raise NotImplementedError

    def submodules(self, package: str) -> list[str]:  # pragma: no cover - interface
        """Every module under the package (at any depth)."""
        raise NotImplementedError

    def owns(self, module: str) -> bool:  # pragma: no cover - interface
        """Whether ``module``'s top-level package is the project's."""
        raise NotImplementedError


@dataclass(frozen=True)
class WorkerImports:
    """The project modules the worker imports, and how it decides what it imports."""

    app: str
    modules: frozenset[str]
    #: the packages ``autodiscover_tasks`` looks into, with the module name it imports
    #: of each (None: the package only)
    discovered: tuple[tuple[str, str | None], ...] = ()

    def why_not(self, module: str) -> str:
        """Why ``module`` is never imported, for the message."""
        related = sorted({f"{package}.{name}" for package, name in self.discovered
                          if name and module.startswith(package + ".")})
        if related:
            return (f"autodiscovery imports {' and '.join(related)} of its package, and "
                    "nothing the worker imports imports it")
        return ("not in the app's include or imports, not found by autodiscovery, and "
                "nothing the worker imports imports it")


#: calls that import a module named by their argument
_IMPORTERS = frozenset({"import_module", "__import__", "import_string", "symbol_by_name",
                        "autodiscover_modules", "load_module", "run_module", "run_path",
                        "spec_from_file_location", "module_from_spec", "walk_packages",
                        "iter_modules", "exec", "execfile", "reload", "instantiate"})
#: Django apps known to import no module of the project on their own (apps whose
#: ``ready()`` autodiscovers modules of every app, as the admin does, are modelled or
#: make the answer unknown)
_QUIET_APPS = frozenset({
    "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "django.contrib.staticfiles", "django.contrib.sites",
    "django.contrib.humanize", "django.contrib.postgres", "django.contrib.sitemaps",
    "django.contrib.gis", "django.contrib.flatpages", "django.contrib.redirects",
    "rest_framework", "rest_framework.authtoken", "corsheaders", "django_filters",
    "django_celery_beat", "django_celery_results", "django_extensions", "storages",
    "debug_toolbar", "crispy_forms", "widget_tweaks", "drf_yasg", "drf_spectacular",
    "whitenoise.runserver_nostatic", "django_redis",
})
_ADMIN_APPS = frozenset({"django.contrib.admin", "django.contrib.admin.apps.AdminConfig"})


#: ``app.conf.X`` outside the app's module that may change what the worker imports
_CONF_WRITES = frozenset({"include", "imports", "update", "setdefault", "CELERY_IMPORTS",
                          "CELERY_INCLUDE", "add_defaults"})

_CONFIGURES = frozenset({"config_from_object", "config_from_envvar", "config_from_cmdline"})


class _Unknown(Exception):
    """Something the worker imports cannot be told."""


def worker_imports(
    app_modules: list[str], source: ProjectSource, settings_modules: list[str]
) -> WorkerImports | None:
    """What the worker of the project's one app imports; None when not known.

    ``app_modules``: the modules that make a ``Celery(...)`` app (one is required);
    ``settings_modules``: the modules that assign ``INSTALLED_APPS`` (Django settings: the
    app must name the one there is, or there must be none — an environment may name it).
    """
    if len(app_modules) != 1:
        return None
    try:
        return _Model(app_modules[0], source, settings_modules).run()
    except _Unknown:
        return None


@dataclass
class _Model:
    app_module: str
    source: ProjectSource
    settings_modules: list[str]
    seen: set[str] = field(default_factory=set)
    queue: list[str] = field(default_factory=list)
    #: ``autodiscover_tasks`` calls: (packages or None for Django's apps, related name)
    discoveries: list[tuple[list[str] | None, str | None]] = field(default_factory=list)
    #: ``autodiscover_modules("x")`` names (Django: ``<app>.x`` of every app)
    app_modules_named: set[str] = field(default_factory=set)

    def run(self) -> WorkerImports:
        index = self._index(self.app_module)
        if index is None or index.tree is None:
            raise _Unknown
        apps = read_apps(index.tree, index, index.path, self.source.index)
        if len(apps) != 1 or len(index.apps) != 1 or not apps[0].modules_known:
            raise _Unknown  # why: which app the worker runs, or how it is configured
        app = apps[0]
        settings = app.django_settings
        if not app.modules_known or sorted(self.settings_modules) != (
                [settings] if settings is not None else []):
            raise _Unknown  # why: the settings (and so the apps) a worker runs with
        self.add(self.app_module)
        for module in [*app.task_modules, *app.config_modules, *self.binding(app.var)]:
            self.add(module)
        self.close()
        apps_packages: list[str] | None = None
        if settings is not None:
            apps_packages = self.django(settings)
        discovered: list[tuple[str, str | None]] = []
        while self.discoveries:
            packages, name = self.discoveries.pop()
            if packages is None:
                if apps_packages is None:
                    raise _Unknown  # why: the Django settings a worker runs with are not known
                packages = apps_packages
            for package in packages:
                owned = self.package_of(package)
                if owned is None:
                    continue
                discovered.append((owned, name))
                self.add(owned)
                if name:
                    self.add(f"{owned}.{name}")
            self.close()
        return WorkerImports(app.model.main or self.app_module, frozenset(self.seen),
                             tuple(discovered))

    def binding(self, var: str) -> list[str]:
        """The modules that may be the worker's ``-A`` target besides the app's own: any
        module binding the app at its top level (``from proj.celery import app``), as
        Celery finds an app among a module's attributes."""
        names = {f"{self.app_module}.{var}"}
        package = self.app_module.rpartition(".")[0]
        while package:  # ``from .celery import app as celery_app`` in a package
            index = self._index(package)
            if index is not None:
                names |= {f"{package}.{local}" for local, target in index.imports.names.items()
                          if self.absolute(target, package, True) in names}
            package = package.rpartition(".")[0]
        found = []
        words = {name.rpartition(".")[2] for name in names}
        for module in self.source.modules():
            if not self.source.mentions(module, words):
                continue  # why: cheap; parsing every module of a large project is not
            index = self._index(module)
            if index is None:
                continue
            is_package = self.source.is_package(module)
            if any(self.absolute(t, module, is_package) in names
                   for t in index.imports.names.values()):
                found.append(module)
        return found

    def absolute(self, target: str, module: str, is_package: bool) -> str | None:
        """An import map's target (``.celery.app``) as an absolute name, seen from
        ``module``."""
        level = len(target) - len(target.lstrip("."))
        package = module if is_package else module.rpartition(".")[0]
        return _absolute(target[level:], level, package)

    # -- the closure -----------------------------------------------------------------
    def _index(self, module: str) -> ModuleIndex | None:
        return self.source.index(module)

    def add(self, module: str) -> None:
        """``module`` is imported (with its packages), if it is the project's."""
        parts = module.split(".")
        for end in range(1, len(parts) + 1):
            name = ".".join(parts[:end])
            if name not in self.seen and self.source.owns(name):
                self.seen.add(name)
                self.queue.append(name)

    def close(self) -> None:
        while self.queue:
            module = self.queue.pop()
            index = self._index(module)
            if index is None or index.tree is None:
                continue  # a module that does not exist is not imported (a missing tasks)
            for imported in self.imports(index.tree, module):
                self.add(imported)

    def imports(self, tree: ast.Module, module: str) -> Iterator[str]:
        """Every module ``tree`` may import, anywhere in it (raises when not known)."""
        package = module if self.source.is_package(module) else module.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node.module or "", node.level, package)
                if base is None:
                    continue
                yield base
                for alias in node.names:
                    if alias.name == "*":
                        if self.source.owns(base) and self._index(base) is None:
                            raise _Unknown  # why: what a star import brings is unknown
                        if self.source.is_package(base):
                            yield from self.source.submodules(base)
                    else:
                        yield f"{base}.{alias.name}"  # a submodule, when there is one
            elif isinstance(node, ast.Call):
                yield from self.call(node)
            elif module != self.app_module and isinstance(node, ast.Attribute) and (
                    node.attr in _CONFIGURES or (
                        node.attr in _CONF_WRITES and isinstance(node.value, ast.Attribute)
                        and node.value.attr == "conf")):
                raise _Unknown  # why: the app's modules configured outside its module

    def call(self, node: ast.Call) -> Iterator[str]:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name == "autodiscover_tasks":
            self.discovery(node)
        elif name in _IMPORTERS:
            given: list[ast.expr | None] = [*node.args, *(k.value for k in node.keywords)]
            if name != "autodiscover_modules":
                given = given[:1]
            for argument in given or [None]:
                text = argument.value if isinstance(argument, ast.Constant) else None
                if not isinstance(text, str):
                    raise _Unknown  # why: a module imported by a name not written here
                if name == "autodiscover_modules":
                    self.app_modules_named.add(text)
                    continue
                module = text.replace(":", ".")
                yield module
                yield module.rpartition(".")[0]

    def discovery(self, node: ast.Call) -> None:
        """``app.autodiscover_tasks(packages, related_name="tasks", force=False)``."""
        packages = node.args[0] if node.args else _keyword(node, "packages")
        related = node.args[1] if len(node.args) > 1 else _keyword(node, "related_name")
        name: str | None = "tasks"
        if related is not None:
            value = related.value if isinstance(related, ast.Constant) else ...
            if value is not None and not isinstance(value, str):
                raise _Unknown
            name = value or None
        if isinstance(packages, ast.Lambda) and not packages.args.args:
            packages = packages.body
        if packages is None or (isinstance(packages, ast.Constant) and packages.value is None):
            self.discoveries.append((None, name))
            return
        if _dotted(packages).endswith("INSTALLED_APPS"):
            self.discoveries.append((None, name))  # ``lambda: settings.INSTALLED_APPS``
            return
        if not isinstance(packages, (ast.List, ast.Tuple)):
            raise _Unknown
        listed = [e.value for e in packages.elts
                  if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        if len(listed) != len(packages.elts):
            raise _Unknown
        self.discoveries.append((listed, name))

    def package_of(self, package: str) -> str | None:
        """The project package ``autodiscover_tasks`` imports for an entry (Celery walks
        an entry that is no module up one level: ``shop.apps.ShopConfig``)."""
        if not self.source.owns(package):
            return None
        if self._index(package) is not None:
            return package
        parent = package.rpartition(".")[0]
        if parent and self._index(parent) is not None:
            return parent
        return None  # why: Celery fails to start on it; nothing to model

    # -- Django ----------------------------------------------------------------------
    def django(self, settings: str) -> list[str]:
        """The project packages of ``INSTALLED_APPS``, with what ``django.setup()`` and
        the system checks import of them added (raises when not known)."""
        index = self._index(settings)
        if index is None or index.tree is None:
            raise _Unknown
        body = index.tree.body
        if any(isinstance(s, ast.ImportFrom) and any(a.name == "*" for a in s.names)
               for s in ast.walk(index.tree)):
            raise _Unknown  # why: settings split over modules
        literals = Literals(index.imports)
        constants = module_constants(body, literals)
        installed = constants.get("INSTALLED_APPS")
        if not isinstance(installed, (list, tuple)) or not all(
                isinstance(a, str) for a in installed):
            raise _Unknown
        if _assigned_twice(body, "INSTALLED_APPS"):
            raise _Unknown
        self.add(settings)
        for text in _strings(index.tree):  # ROOT_URLCONF, middleware, backends...
            for module in (text, text.rpartition(".")[0], text.partition(":")[0]):
                if module and all(p.isidentifier() for p in module.split(".")):
                    self.add(module)
        packages: list[str] = []
        admin = False
        for entry in installed:
            admin = admin or entry in _ADMIN_APPS
            package = self.app_package(entry)
            if package is None:
                if not _quiet(entry):
                    raise _Unknown  # why: its ready() may import modules of every app
                continue
            packages.append(package)
        self.close()
        named = {"apps", "models", "admin" if admin else "", *self.app_modules_named}
        for package in packages:
            self.add(package)
            for name in sorted(n for n in named if n):
                self.add(f"{package}.{name}")
            templatetags = f"{package}.templatetags"
            if self.source.is_package(templatetags):
                for module in self.source.submodules(templatetags):
                    self.add(module)
        self.close()
        return packages

    def app_package(self, entry: str) -> str | None:
        """The project package an ``INSTALLED_APPS`` entry installs (a package, or an
        ``AppConfig`` class whose ``name`` is a literal); None: not the project's."""
        if not self.source.owns(entry):
            return None
        if self._index(entry) is not None:
            return entry
        module, _, cls = entry.rpartition(".")
        index = self._index(module) if module else None
        if index is None or index.tree is None:
            raise _Unknown
        self.add(module)
        for statement in index.tree.body:
            if isinstance(statement, ast.ClassDef) and statement.name == cls:
                for item in statement.body:
                    if (isinstance(item, ast.Assign) and len(item.targets) == 1
                            and isinstance(item.targets[0], ast.Name)
                            and item.targets[0].id == "name"
                            and isinstance(item.value, ast.Constant)
                            and isinstance(item.value.value, str)):
                        return item.value.value if self.source.owns(item.value.value) else None
        raise _Unknown


def _quiet(entry: str) -> bool:
    """An installed app that imports nothing of the project by itself (or the admin)."""
    return entry in _QUIET_APPS or entry in _ADMIN_APPS or any(
        entry.startswith(f"{app}.apps.") for app in _QUIET_APPS)


def _keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def _dotted(node: ast.expr) -> str:
    return ast.unparse(node) if isinstance(node, (ast.Name, ast.Attribute)) else ""


def _absolute(module: str, level: int, package: str) -> str | None:
    """The absolute name of ``from <level dots><module> import ...`` in ``package``."""
    if not level:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts) or (level - 1 == len(parts) and not module):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base) or None


def _assigned_twice(body: list[ast.stmt], name: str) -> bool:
    """``name`` written more than once, or other than by a plain assignment."""
    writes = 0
    for statement in body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and node.id == name and isinstance(
                    node.ctx, ast.Store):
                writes += 1
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id == name):
                return True  # ``INSTALLED_APPS.append(...)``
    return writes != 1


def _strings(tree: ast.Module) -> Iterable[str]:
    """The strings of a settings module, but for its beat schedule's (task names that
    beat sends by name: nobody imports them)."""
    for statement in tree.body:
        targets = statement.targets if isinstance(statement, ast.Assign) else [
            getattr(statement, "target", None)]
        if any(isinstance(t, ast.Name) and "BEAT_SCHEDULE" in t.id.upper() for t in targets):
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield node.value
