"""The linter's front-end of the deployment rules (CSF401-CSF404): an app whose
configuration the module's source writes literally is judged by the same functions
``check_app`` runs (``celery_safe.deployment.static``), and each problem is reported
where its cause is written: the task's decorator, the route key, the beat entry, the
``include`` entry of a task module, else the ``Celery(...)`` call.

Computed once per module for the four rules (the apps' models are small).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from weakref import WeakKeyDictionary

from ..canvas.problems import Problem
from .findings import Finding
from .interp.analysis import ModuleAnalysis
from .interp.appconfig import read_apps
from .registry import Report, span_of

__all__ = ["APP_WORDS", "deployment_findings"]

#: Without one of these a module makes no Celery app (the engine's pre-filter).
APP_WORDS = ("Celery(",)

_FOUND: WeakKeyDictionary[ModuleAnalysis, list[tuple[Problem, ast.AST]]] = WeakKeyDictionary()


def _problems(report: Report) -> list[tuple[Problem, ast.AST]]:
    analysis = report.analysis
    if analysis not in _FOUND:
        lookup = analysis.index.external
        modules = getattr(lookup, "module_index", None)
        found: list[tuple[Problem, ast.AST]] = []
        # why skip the reader: the index records every name assigned a ``Celery(...)``
        # anywhere in the module, a superset of the apps the reader judges
        apps = read_apps(analysis.tree, analysis.index, report.path, modules) if (
            analysis.index.apps
        ) else []
        for app in apps:
            if not app.complete:
                continue  # why we bail: some configuration is not literal; unknown
            if not app.model.names_known and app.bare_route_keys():
                bare = getattr(lookup, "bare_task_names", None)
                app.model.bare_names = bare() if bare is not None else None
            from ..deployment.static import (  # Celery's apps: only for an app
                check_static,
                judged_despite,
            )

            codes = judged_despite(app.unknown_settings)
            if not codes:
                continue  # why we bail: a setting every rule may read is not literal
            try:
                problems = list(check_static(app.model, codes))
            except Exception:  # why: Celery refuses this configuration
                continue  # (mixed old and new setting names...): it says so at start-up
            found += [(p, app.node_for(p.path)) for p in problems]
        _FOUND[analysis] = found
    return _FOUND[analysis]


def deployment_findings(report: Report, code: str) -> Iterator[Finding]:
    """The module's findings of one deployment code: one per place (the tasks of an
    included module share its ``include`` entry; the first is named, the others counted)."""
    places: dict[int, list[Problem]] = {}
    nodes: dict[int, ast.AST] = {}
    for problem, node in _problems(report):
        if problem.code == code:
            places.setdefault(id(node), []).append(problem)
            nodes[id(node)] = node
    for key, problems in places.items():
        more = f" (and {len(problems) - 1} more here)" if len(problems) > 1 else ""
        message = f"{code} {problems[0].message}{more}"
        yield Finding(code, report.path, span_of(nodes[key]), message)
