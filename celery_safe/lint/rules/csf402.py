"""CSF402, statically: ``celery_safe.deployment.csf402`` judges an app whose configuration
the source writes literally (see ``lint.deploy``); its examples are that rule's.

Where the configuration is not all literal (set in a function, read from Django's or
Flask's settings...), a task whose decorator says ``acks_late=True`` is still judged
when nothing could protect it: no text of its project names ``reject_on_worker_lost``
or ``retry_on_worker_lost`` (nor anything else that may, see
:mod:`..interp.workerlost`), no data reaches the configuration under keys no text names,
and the task's app and base class are the project's own (their options are in its text).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any
from weakref import WeakKeyDictionary

from ...canvas.problems import Problem
from ...deployment.examples import EXAMPLES
from ..deploy import APP_WORDS, deployment_findings
from ..findings import Finding
from ..interp.appconfig import read_apps
from ..interp.index import FunctionInfo, ModuleIndex
from ..interp.workerlost import WorkerLostScan
from ..registry import Report, rule, span_of

NO_FIX = "a configuration change: see the page's fix"
#: Celery's own task decorators whose app is the worker's (``shared_task``)
_SHARED = frozenset({"celery.shared_task", "celery.app.shared_task",
                     "celery.app.base.shared_task"})
#: How many re-exports of an app (``from .celery import app``) are followed.
_HOPS = 3


@rule("CSF402", invalid=EXAMPLES["CSF402"].invalid,
      valid=EXAMPLES["CSF402"].valid,
      without_tasks=(*APP_WORDS, "acks_late"), needs_tasks_elsewhere=False, no_fix=NO_FIX)
def static_csf402(report: Report) -> Iterator[Finding]:
    reported: set[int] = set()
    for finding in deployment_findings(report, "CSF402"):
        reported.add(finding.span.line)
        yield finding
    yield from _unprotected(report, reported)


def _unprotected(report: Report, reported: set[int]) -> Iterator[Finding]:
    """The tasks of this module acknowledging late that nothing in the project protects."""
    index = report.analysis.index
    lookup = index.external
    scan_of = getattr(lookup, "worker_lost", None)
    if scan_of is None:
        return  # why: a module checked alone (``check_source``): its project is unknown
    scan: WorkerLostScan | None = None
    for info in index.top_level.values():
        for decorator in info.node.decorator_list:
            if not (isinstance(decorator, ast.Call) and _acks_late(decorator)):
                continue
            if decorator.lineno in reported or not _app_known(decorator, index):
                continue
            scan = scan or scan_of()
            if scan.why_unknown() is not None or not scan.makes_app:
                return  # why: some text or data may protect every task of the project
            if not _options_known(decorator, scan) or _judged_literally(decorator, index, scan):
                continue
            name = _task_name(decorator, info, getattr(lookup, "module_name", ""))
            problem = Problem.make("CSF402", ("tasks", name), name,
                                   {"source": "acks_late=True"})
            yield Finding("CSF402", report.path, span_of(decorator),
                          f"CSF402 {problem.message}")


def _judged_literally(decorator: ast.Call, index: ModuleIndex, scan: WorkerLostScan) -> bool:
    """The task's app (any of the project's, for ``shared_task``) is one the literal
    reading judges whole (``lint.deploy``): it reports there, at the task's ``include``
    or ``autodiscover_tasks()`` entry, and nothing is reported twice."""
    modules: Any = getattr(index.external, "module_index", None)
    if modules is None:
        return False
    func = decorator.func
    if isinstance(func, ast.Attribute) and func.attr == "task" and isinstance(
        func.value, ast.Name
    ) and func.value.id in index.apps and func.value.id not in index.imports.names:
        return False  # why: made here, the literal reading of this module reports it
    candidates = [path[:-3].removesuffix("/__init__").replace("/", ".")
                  for path in scan.app_modules]
    for name in candidates:
        found = modules(name)
        if found is not None and _complete_apps(found):
            return True
    return False


_COMPLETE: WeakKeyDictionary[ModuleIndex, bool] = WeakKeyDictionary()


def _complete_apps(found: ModuleIndex) -> bool:
    """Some app ``found`` makes is read whole by the literal reading."""
    if found not in _COMPLETE:
        modules = getattr(found.external, "module_index", None)
        apps = read_apps(found.tree, found, found.path, modules) if (
            found.tree is not None and found.apps) else []
        _COMPLETE[found] = any(app.complete for app in apps)
    return _COMPLETE[found]


def _acks_late(call: ast.Call) -> bool:
    return any(k.arg == "acks_late" and isinstance(k.value, ast.Constant)
               and k.value.value is True for k in call.keywords)


def _options_known(call: ast.Call, scan: WorkerLostScan) -> bool:
    """Every option is written (no ``**options``), and a ``base=`` is the project's."""
    for keyword in call.keywords:
        if keyword.arg is None:
            return False
        if keyword.arg == "base" and not (
            isinstance(keyword.value, (ast.Name, ast.Attribute))
            and scan.safe_class(ast.unparse(keyword.value))
        ):
            return False
    return True


def _app_known(decorator: ast.Call, index: ModuleIndex) -> bool:
    """The decorator registers a task of an app the project makes: ``shared_task``,
    ``app.task`` of an app made by ``Celery(...)`` here or in a module of the project, or
    a project function handing its keywords on to a ``.task(**kwargs)``."""
    imports, func = index.imports, decorator.func
    qualified = imports.qualify(func)
    if qualified in _SHARED:
        return True
    if isinstance(func, ast.Attribute) and func.attr == "task":
        owner = func.value
        local = isinstance(owner, ast.Name) and owner.id not in imports.names
        if local and isinstance(owner, ast.Name) and owner.id in index.apps:
            return True
        where = imports.qualify(owner)
        if where is not None and _project_app(where, index, _HOPS):
            return True
    if qualified is None or "." not in qualified:
        return False
    found = index.external(qualified) if index.external is not None else None
    return found is not None and _forwards_options(found)


def _project_app(qualified: str, index: ModuleIndex, hops: int) -> bool:
    """``qualified`` (``proj.celery.app``) is an app made by ``Celery(...)`` in a module
    of the project (through a few re-exports)."""
    module, _, name = qualified.rpartition(".")
    modules: Any = getattr(index.external, "module_index", None)
    found: ModuleIndex | None = modules(module) if modules and module else None
    if found is None:
        return False
    if name in found.apps and name not in found.imports.names:
        return True
    again = found.imports.names.get(name)
    return again is not None and hops > 0 and _project_app(again, found, hops - 1)


def _forwards_options(info: FunctionInfo) -> bool:
    """``def task(**kwargs)`` whose ``kwargs`` reach a ``.task(**kwargs)`` (or
    ``shared_task(**kwargs)``) whole: only read (``kwargs.setdefault("shared", False)``),
    never given ``acks_late`` or a ``base``."""
    kwarg = info.node.args.kwarg
    if kwarg is None:
        return False
    name = kwarg.arg
    allowed: set[int] = set()
    forwards = False
    for node in ast.walk(info.node):
        if isinstance(node, ast.Call):
            target = node.func
            maker = (isinstance(target, ast.Attribute) and target.attr == "task") or (
                isinstance(target, ast.Name) and target.id == "shared_task")
            passed = [k for k in node.keywords if k.arg is None
                      and isinstance(k.value, ast.Name) and k.value.id == name]
            if maker and passed and not any(k.arg in ("acks_late", "base")
                                             for k in node.keywords):
                forwards = True
                allowed.add(id(passed[0].value))
            if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                    and target.value.id == name and target.attr in ("setdefault", "get")
                    and node.args and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value not in ("acks_late", "base")):
                allowed.add(id(target.value))
    uses = [n for n in ast.walk(info.node) if isinstance(n, ast.Name) and n.id == name]
    return forwards and all(id(n) in allowed for n in uses)


def _task_name(decorator: ast.Call, info: FunctionInfo, module: str) -> str:
    given = next((k.value.value for k in decorator.keywords if k.arg == "name"
                  and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)),
                 None)
    if given is not None:
        return given
    return f"{module}.{info.name}" if module else info.name
