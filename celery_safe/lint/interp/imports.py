"""Resolve names to qualified names through a module's imports (bugbear/flake8-async style).

``from celery import shared_task as st`` makes ``st`` resolve to ``celery.shared_task``;
``import celery.result as r`` makes ``r.AsyncResult`` resolve to
``celery.result.AsyncResult``. A name that no import binds resolves to ``None``: the
engine never matches a bare method or function name alone.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

__all__ = ["FOREIGN_ROOTS", "ImportMap", "dotted"]

#: Top-level packages whose ``task`` decorators, pools and results are not Celery's.
FOREIGN_ROOTS = frozenset(
    {
        "airflow",
        "anyio",
        "asyncio",
        "billiard",
        "concurrent",
        "dask",
        "django_rq",
        "dramatiq",
        "fabric",
        "huey",
        "invoke",
        "luigi",
        "multiprocessing",
        "prefect",
        "queue",
        "ray",
        "rq",
        "subprocess",
        "threading",
        "trio",
        "contextvars",
        "requests",
        "httpx",
        "aiohttp",
    }
)


def dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attribute accesses on a name, else ``None``."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


@dataclass
class ImportMap:
    """Local names bound by imports, mapped to what they refer to."""

    names: dict[str, str] = field(default_factory=dict)
    #: local names bound by ``import x`` / ``import x.y as z`` (modules, not members)
    modules: set[str] = field(default_factory=set)
    #: modules whose names ``from x import *`` brings in (``.models``, ``proj.base``)
    stars: list[str] = field(default_factory=list)

    def add(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.names[alias.asname] = alias.name
                    self.modules.add(alias.asname)
                else:
                    root = alias.name.partition(".")[0]
                    self.names[root] = root
                    self.modules.add(root)
            return
        base = "." * node.level + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                self.stars.append(base)
                continue
            local = alias.asname or alias.name
            self.names[local] = f"{base}.{alias.name}" if node.module else base + alias.name
            self.modules.discard(local)

    def overlaid(self, inner: ImportMap) -> ImportMap:
        """This map with ``inner``'s bindings (a function's own imports) on top."""
        modules = (self.modules - inner.names.keys()) | inner.modules
        return ImportMap({**self.names, **inner.names}, modules, [*self.stars, *inner.stars])

    def qualify(self, node: ast.expr) -> str | None:
        """The qualified name ``node`` refers to when its root name is imported."""
        if isinstance(node, ast.Name):  # the common case, without building a string
            return self.names.get(node.id)
        root = node
        while isinstance(root, ast.Attribute):
            root = root.value
        if not isinstance(root, ast.Name) or root.id not in self.names:
            return None  # why first: most chains start at a name no import binds
        name = dotted(node)
        assert name is not None
        _, dot, rest = name.partition(".")
        return f"{self.names[root.id]}{dot}{rest}"

    def is_foreign(self, node: ast.expr) -> bool:
        """True when ``node``'s root name is imported from a known non-Celery package."""
        qualified = self.qualify(node)
        return qualified is not None and qualified.partition(".")[0] in FOREIGN_ROOTS

    def is_module(self, node: ast.expr) -> bool:
        """True when ``node`` is a name bound by ``import x`` (a module object)."""
        return isinstance(node, ast.Name) and node.id in self.modules
