"""Whether anything in a project's text could protect a task from a lost worker, for
static CSF402 where the app's configuration is not all literal.

A task that acknowledges late is protected only by ``reject_on_worker_lost`` (a task
option, a ``Task`` class attribute, the ``task_reject_on_worker_lost`` setting under any
of its spellings) or, on Celery 5.7, ``retry_on_worker_lost``. Celery reads neither from
the environment by itself (measured on 5.3-5.7: ``CELERY_TASK_REJECT_ON_WORKER_LOST=1``
leaves it None). So it takes effect only if some text the app loads names it, or if data
from outside the project's text reaches the configuration under keys no text names: a
generic mapping. :class:`WorkerLostScan` reads every file of the project once (the
``.py`` files, and the configuration and deployment files a setting may be read from)
and says whether either may be the case; see :meth:`WorkerLostScan.why_unknown`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["WorkerLostScan"]

#: Text naming the protection or something that may give it: the options and settings
#: (``reject_on_worker_lost``, ``retry_on_worker_lost``, any case and prefix), a
#: ``WorkerLostError`` handled by hand, task annotations (options given by task name or
#: class), the module Celery's loader reads from the environment (``CELERY_CONFIG_MODULE``,
#: ``celery --config``: measured, any app reads it), and a pool other than prefork, whose
#: worker dies whole (nothing is acknowledged then) or is not known.
_MAY_PROTECT = re.compile(
    rb"worker_?lost|task_annotations|celery_annotations|celery_config_module"
    rb"|celery\b[^\n]*--config\b|worker_pool|celeryd_pool|\bpool_cls\b",
    re.I,
)
#: the pool on a worker's command line (``-P gevent``, ``--pool=solo``)
_POOL = re.compile(rb"celery\b[^\n]*\s-P[ \t]*['\"]?(?!prefork)[a-z]|--pool\b")
#: Python that may put keys no text names into a configuration: the environment or a
#: file read whole, names set without an assignment, a Celery configuration call whose
#: keys are not written (``conf.update(settings)``, ``config_from_object(obj)``...).
_GENERIC = re.compile(
    rb"\bconfig_from_envvar\b|\bconfig_from_cmdline\b|\badd_defaults\s*\("
    rb"|\*\*\s*(?:os\s*\.\s*)?environ\b|\benviron\s*\.\s*(?:items|keys|values|copy)\s*\("
    rb"|\bfor\b[^\n:]*\bin\s+(?:os\s*\.\s*)?environ\b"
    rb"|\b(?:dict|update|from_mapping)\s*\(\s*(?:os\s*\.\s*)?environ\b"
    rb"|=[ \t]*(?:os\s*\.\s*)?environ[ \t]*(?:#[^\n]*)?$"
    rb"|\bfrom_prefixed_env\b|\bfrom_envvar\b|\bfrom_pyfile\b|\bfrom_file\b|\bfrom_json\b"
    rb"|dynaconf|\benv\s*\.\s*(?:dict|json)\s*\("
    rb"|\b(?:globals|locals)\s*\(\s*\)|\bvars\s*\([^)\n]*\)\s*\.\s*update\b"
    rb"|\bexec\s*\(|\b__import__\s*\(|\bimport_module\s*\(\s*(?=\S)(?!['\"])"
    rb"|\bsetattr\s*\(\s*[\w.]*\b(?:conf|settings|config)\b"
    rb"|\bconf\s*\.\s*update\s*\(\s*(?=\S)(?!\)|\{(?!\s*\*\*)|[A-Za-z_]\w*\s*=(?!=))"
    rb"|\bconf\s*\.\s*update\s*\([^()]*\*\*|\bCelery\s*\([^()]*\*\*"
    rb"|\bconf\s*\.\s*setdefault\s*\(\s*(?=\S)(?!['\"])|\bconf\s*\[\s*(?=\S)(?!['\"])|\.conf\s*=(?!=)"
    rb"|\bconfig_from_object\s*\(\s*(?=\S)(?!['\"])|\bconfig_source\s*=\s*(?=\S)(?!['\"])"
    rb"|\btask_cls\s*=\s*['\"]|\bconfigure\s*\(\s*\*\*",
    re.M,
)
#: ``from x import *``, a config module or Django settings named by a literal: each must
#: be a module of the project (else it may set anything)
_STAR = re.compile(rb"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+\*", re.M)
_NAMED_MODULE = re.compile(
    rb"""(?:\bconfig_from_object\s*\(\s*|\bconfig_source\s*=\s*"""
    rb"""|['"]DJANGO_SETTINGS_MODULE['"]\s*,\s*)['"]([\w.]+)(?::\w+)?['"]"""
)
#: ``from x import Celery`` / ``from x import (..., Task)`` and ``x.Celery(``: where
#: the app's class and the tasks' base class come from
_IMPORTS = re.compile(rb"^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.M)
_DOTTED_APP = re.compile(rb"(?<![\w.])([A-Za-z_][\w.]*)\.Celery\s*\(")
_MAKES_APP = re.compile(rb"\bCelery\s*\(")
#: the app's task class: ``app.Task = X``, ``task_cls=X``
_APP_TASK = re.compile(
    rb"\.Task[ \t]*=(?!=)[ \t]*([A-Za-z_][\w.]*)|\btask_cls\s*=\s*([A-Za-z_][\w.]*)"
)
_CLASS = re.compile(rb"^[ \t]*class[ \t]+(\w+)[ \t]*(?:\(([^)]*)\))?[ \t]*:", re.M)
#: bases that give a task no option
_NEUTRAL = frozenset({"object", "ABC", "abc.ABC", "Generic", "typing.Generic", "Protocol"})
#: modules whose names may be star-imported (they set no Celery setting)
_HARMLESS = ("celery", "kombu")
_MAX_CLASS_DEPTH = 8


def _external(module: str) -> bool:
    return not module.startswith(".") and module.split(".")[0] not in _HARMLESS


@dataclass
class WorkerLostScan:
    """What a project's text says about ``reject_on_worker_lost`` (fed one file at a
    time with :meth:`add`)."""

    #: the first reason some text may protect a task (None: none found)
    reason: str | None = None
    makes_app: bool = False
    #: ``module, importing file`` of each module a literal names (star import, config)
    named: list[tuple[str, str]] = field(default_factory=list)
    #: the project's classes: name -> the bases of each definition
    classes: dict[str, list[list[str]]] = field(default_factory=dict)
    #: the app's task classes (``app.Task = X``, ``task_cls=X``)
    app_tasks: list[str] = field(default_factory=list)
    #: the project's modules, as paths relative to its root (``shop/tasks.py``)
    files: set[str] = field(default_factory=set)

    def unknown(self, why: str) -> None:
        if self.reason is None:
            self.reason = why

    def add(self, relative: str, data: bytes | None, python: bool) -> None:
        """One file, at ``relative`` (posix) under the root; None: it cannot be read."""
        if data is None:
            if python:  # a configuration file past the size limit is data, not settings
                self.unknown(f"{relative} cannot be read")
            return
        found = _MAY_PROTECT.search(data) or _POOL.search(data)
        if found:
            self.unknown(f"{relative} writes {found.group().decode(errors='replace').strip()!r}")
        if not python:
            return
        self.files.add(relative)
        generic = _GENERIC.search(data)
        if generic:
            what = generic.group().decode(errors="replace").strip()
            self.unknown(f"{relative} may configure from data no text names ({what!r})")
        self.makes_app = self.makes_app or _MAKES_APP.search(data) is not None
        for match in _STAR.finditer(data):
            self.named.append((match.group(1).decode(), relative))
        for match in _NAMED_MODULE.finditer(data):
            if match.group(1) != b"django.conf":
                self.named.append((match.group(1).decode(), relative))
        for match in _IMPORTS.finditer(data):
            module = match.group(1).decode()
            names = set(re.findall(rb"\w+", match.group(2)))
            if _external(module) and names & {b"Celery", b"Task"}:
                self.unknown(f"{relative} imports a Celery or Task class from {module}")
        for match in _DOTTED_APP.finditer(data):
            if _external(match.group(1).decode()):
                self.unknown(f"{relative} makes an app of another class")
        for match in _APP_TASK.finditer(data):
            self.app_tasks.append((match.group(1) or match.group(2)).decode())
        for match in _CLASS.finditer(data):
            bases = match.group(2) or b""
            listed = [b.strip().decode(errors="replace") for b in bases.split(b",")]
            kept = [b for b in listed if b and "=" not in b]
            self.classes.setdefault(match.group(1).decode(), []).append(kept)

    def why_unknown(self) -> str | None:
        """Why some text or data may protect the project's tasks (None: nothing may)."""
        if self.reason is not None:
            return self.reason
        for module, importer in self.named:
            if _external(module) and not self.has_module(module, importer):
                return f"{importer} loads {module}, not in the project"
            if module.startswith(".") and not self.has_module(module, importer):
                return f"{importer} loads {module}, not in the project"
        for name in self.app_tasks:
            if not self.safe_class(name):
                return f"the app's task class {name} is not the project's"
        return None

    def has_module(self, module: str, importer: str) -> bool:
        """A module of the project (a relative one, from ``importer``'s package)."""
        if module.startswith("."):
            level = len(module) - len(module.lstrip("."))
            folder = importer.split("/")[:-1]
            if level - 1 > len(folder):
                return False
            base = folder[: len(folder) - (level - 1)]
            parts = base + [p for p in module[level:].split(".") if p]
            stem = "/".join(parts)
            return f"{stem}.py" in self.files or f"{stem}/__init__.py" in self.files
        stem = module.replace(".", "/")
        return any(f == f"{stem}.py" or f == f"{stem}/__init__.py"
                   or f.endswith((f"/{stem}.py", f"/{stem}/__init__.py")) for f in self.files)

    def safe_class(self, name: str, seen: frozenset[str] = frozenset()) -> bool:
        """``name`` (a task's base) is Celery's ``Task`` or a class of the project whose
        bases all are: every option it gives is in the project's text."""
        name = name.partition("[")[0].strip()
        last = name.rpartition(".")[2]
        if last in self.classes and last not in seen and len(seen) < _MAX_CLASS_DEPTH:
            return all(self.safe_class(base, seen | {last})
                       for bases in self.classes[last] for base in bases)
        return name in _NEUTRAL or last == "Task"
