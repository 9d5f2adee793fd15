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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = ["WorkerLostScan"]

#: How far past an anchor's line a pattern is looked for (a call spans a few lines).
_WINDOW = 1000


def _rx(pattern: bytes, flags: int = 0) -> re.Pattern[bytes]:
    return re.compile(pattern, flags | re.M)


#: Text naming the protection or something that may give it (looked for in the text
#: lower-cased): the options and settings (``reject_on_worker_lost``,
#: ``retry_on_worker_lost``, any case and prefix), a ``WorkerLostError`` handled by hand,
#: task annotations (options given by task name or class), the module Celery's loader
#: reads from the environment (``CELERY_CONFIG_MODULE``, ``celery --config``: measured,
#: any app reads it), and a pool other than prefork, whose worker dies whole (nothing is
#: acknowledged then) or is not known.
_MAY_PROTECT: tuple[tuple[bytes, re.Pattern[bytes] | None], ...] = (
    (b"worker_lost", None), (b"workerlost", None), (b"task_annotations", None),
    (b"celery_annotations", None), (b"celery_config_module", None), (b"worker_pool", None),
    (b"celeryd_pool", None), (b"pool_cls", None), (b"--pool", None),
    (b"--config", _rx(rb"celery\b[^\n]*--config\b")),
)
#: the pool on a worker's command line (``-P gevent``), in the text as written
_POOL = ((b"-P", _rx(rb"celery\b[^\n]*\s-P[ \t]*['\"]?(?!prefork)[a-z]")),)
#: Python that may put keys no text names into a configuration: the environment or a
#: file read whole, names set without an assignment, a Celery configuration call whose
#: keys are not written (``conf.update(settings)``, ``config_from_object(obj)``...). Each
#: pattern is looked for from the line of its anchor (a literal every match holds) on.
_GENERIC: tuple[tuple[bytes, re.Pattern[bytes] | None], ...] = (
    (b"config_from_envvar", None), (b"config_from_cmdline", None),
    (b"from_prefixed_env", None), (b"from_envvar", None), (b"from_pyfile", None),
    (b"dynaconf", None), (b"Dynaconf", None),
    (b"add_defaults", _rx(rb"\badd_defaults\s*\(")),
    (b"environ", _rx(
        rb"\*\*\s*(?:os\s*\.\s*)?environ\b|\benviron\s*\.\s*(?:items|keys|values|copy)\s*\("
        rb"|\bfor\b[^\n:]*\bin\s+(?:os\s*\.\s*)?environ\b"
        rb"|\b(?:dict|update|from_mapping)\s*\(\s*(?:os\s*\.\s*)?environ\b"
        rb"|=[ \t]*(?:os\s*\.\s*)?environ[ \t]*(?:#[^\n]*)?$")),
    (b"from_file", _rx(rb"\bfrom_file\b")), (b"from_json", _rx(rb"\bfrom_json\b")),
    (b"env.", _rx(rb"\benv\.(?:dict|json)\s*\(")),
    (b"globals", _rx(rb"\bglobals\s*\(\s*\)")), (b"locals", _rx(rb"\blocals\s*\(\s*\)")),
    (b"vars", _rx(rb"\bvars\s*\([^)\n]*\)\s*\.\s*update\b")),
    (b"exec", _rx(rb"\bexec\s*\(")), (b"__import__", _rx(rb"\b__import__\s*\(")),
    (b"import_module", _rx(rb"\bimport_module\s*\(\s*(?=\S)(?!['\"])")),
    (b"setattr", _rx(rb"\bsetattr\s*\(\s*[\w.]*\b(?:conf|settings|config)\b")),
    (b"conf.update", _rx(
        rb"\bconf\.update\s*\(\s*(?=\S)(?!\)|\{(?!\s*\*\*)|[A-Za-z_]\w*\s*=(?!=))"
        rb"|\bconf\.update\s*\([^()]*\*\*")),
    (b"conf.setdefault", _rx(rb"\bconf\.setdefault\s*\(\s*(?=\S)(?!['\"])")),
    (b"conf[", _rx(rb"\bconf\[\s*(?=\S)(?!['\"])")), (b".conf", _rx(rb"\.conf[ \t]*=(?!=)")),
    (b"Celery", _rx(rb"\bCelery\s*\([^()]*\*\*")),
    (b"config_from_object", _rx(rb"\bconfig_from_object\s*\(\s*(?=\S)(?!['\"])")),
    (b"config_source", _rx(rb"\bconfig_source\s*=\s*(?=\S)(?!['\"])")),
    (b"task_cls", _rx(rb"\btask_cls\s*=\s*['\"]")),
    (b"configure", _rx(rb"\bconfigure\s*\(\s*\*\*")),
)
#: ``from x import *``, a config module or Django settings named by a literal: each must
#: be a module of the project (else it may set anything)
_STAR = (b"import", _rx(rb"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+\*"))
_NAMED_MODULE = tuple(
    (anchor, _rx(rb"(?:\bconfig_from_object\s*\(\s*|\bconfig_source\s*=\s*"
                 rb"|['\"]DJANGO_SETTINGS_MODULE['\"]\s*,\s*)['\"]([\w.]+)(?::\w+)?['\"]"))
    for anchor in (b"config_from_object", b"config_source", b"DJANGO_SETTINGS_MODULE")
)
#: ``from x import Celery`` / ``from x import (..., Task)`` and ``x.Celery(``: where
#: the app's class and the tasks' base class come from
_IMPORTS = (b"import", _rx(rb"^[ \t]*from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)"))
_DOTTED_APP = (b".Celery", _rx(rb"(?<![\w.])([A-Za-z_][\w.]*)\.Celery\s*\("))
#: the app's task class: ``app.Task = X``, ``task_cls=X``
_APP_TASK = tuple(
    (anchor, _rx(rb"\.Task[ \t]*=(?!=)[ \t]*([A-Za-z_][\w.]*)|\btask_cls\s*=\s*([A-Za-z_][\w.]*)"))
    for anchor in (b".Task", b"task_cls")
)
_MAKES_APP = ((b"Celery", _rx(rb"\bCelery\s*\(")),)
#: folders and files of tests and examples: an app made there is not the project's
#: (a library's ``shared_task`` runs on the app of the project installing it)
_EXAMPLE = re.compile(r"(?:^|/)(?:tests?|testing|examples?|demos?|samples?|docs?|sandbox)/"
                      r"|(?:^|/)(?:test_[^/]*|[^/]*_tests?\.py|conftest\.py)$")
_CLASS = (b"class", _rx(rb"^[ \t]*class[ \t]+(\w+)[ \t]*(?:\(([^)]*)\))?[ \t]*:"))


def _matches(data: bytes, anchor: bytes, pattern: re.Pattern[bytes]) -> Iterator[re.Match[bytes]]:
    """The matches of ``pattern`` from the line of each ``anchor`` in ``data`` on (a
    window of :data:`_WINDOW` bytes past it), each once: a literal found by ``find`` is
    far cheaper than trying every alternative at every position of a large module."""
    seen = -1
    start = data.find(anchor)
    while start != -1:
        line = data.rfind(b"\n", 0, start) + 1
        for match in pattern.finditer(data, max(line, seen), start + len(anchor) + _WINDOW):
            if match.start() > start + len(anchor):
                break  # why: the next anchor's window finds it whole
            seen = match.end()
            yield match
        start = data.find(anchor, max(start + 1, seen))


def _first(data: bytes, checks: Iterable[tuple[bytes, re.Pattern[bytes] | None]]
           ) -> bytes | None:
    """What the first check that matches found (an anchor alone suffices without a
    pattern); None when none does."""
    for anchor, pattern in checks:
        if anchor not in data:
            continue
        if pattern is None:
            return anchor
        for match in _matches(data, anchor, pattern):
            return match.group()
    return None


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
    #: some module other than a test or an example makes a Celery app
    makes_app: bool = False
    #: those modules, as paths relative to the root
    app_modules: list[str] = field(default_factory=list)
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
        if self.reason is not None:
            return  # why: already unknown; nothing read now can make it known
        if data is None:
            if python:  # a configuration file past the size limit is data, not settings
                self.unknown(f"{relative} cannot be read")
            return
        found = _first(data.lower(), _MAY_PROTECT) or _first(data, _POOL)
        if found:
            self.unknown(f"{relative} writes {found.decode(errors='replace').strip()!r}")
        if not python:
            return
        self.files.add(relative)
        generic = _first(data, _GENERIC)
        if generic:
            what = generic.decode(errors="replace").strip()
            self.unknown(f"{relative} may configure from data no text names ({what!r})")
        if not _EXAMPLE.search(relative) and _first(data, _MAKES_APP) is not None:
            self.makes_app = True
            self.app_modules.append(relative)
        for match in _matches(data, *_STAR):
            self.named.append((match.group(1).decode(), relative))
        for anchor, pattern in _NAMED_MODULE:
            for match in _matches(data, anchor, pattern):
                if match.group(1) != b"django.conf":
                    self.named.append((match.group(1).decode(), relative))
        if b"Celery" in data or b"Task" in data:
            for match in _matches(data, *_IMPORTS):
                module = match.group(1).decode()
                names = set(re.findall(rb"\w+", match.group(2)))
                if _external(module) and names & {b"Celery", b"Task"}:
                    self.unknown(f"{relative} imports a Celery or Task class from {module}")
        for match in _matches(data, *_DOTTED_APP):
            if _external(match.group(1).decode()):
                self.unknown(f"{relative} makes an app of another class")
        for anchor, pattern in _APP_TASK:
            for match in _matches(data, anchor, pattern):
                self.app_tasks.append((match.group(1) or match.group(2)).decode())
        for match in _matches(data, *_CLASS):
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
