"""Cross-module task lookup for ``celery-safe check``: ``from proj.tasks import add``.

Finds the imported module's file the way Python would from the importing file's
package root (the folder above its top-most package), parses it once, indexes it
(statements only) and returns the task definition, so canvas rules can check links
whose tasks live in another module. flake8 checks files one at a time and does not
use it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from pathlib import Path

from .index import FunctionInfo, ModuleIndex, build_index

__all__ = ["ModuleResolver", "TaskLookup"]

#: ``qualified name -> task definition`` (``None``: not a task we can see).
TaskLookup = Callable[[str], "FunctionInfo | None"]


def _package_root(path: Path) -> Path:
    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
    return folder


class ModuleResolver:
    """Shared by all files of one run: each module is read and indexed at most once."""

    def __init__(self, task_decorators: Sequence[str] = ()) -> None:
        self.task_decorators = tuple(task_decorators)
        self._indexes: dict[Path, ModuleIndex | None] = {}

    def for_file(self, path: Path) -> TaskLookup:
        importer = path.resolve()
        return lambda qualified: self.task(qualified, importer)

    def task(self, qualified: str, importer: Path) -> FunctionInfo | None:
        module, _, name = qualified.rpartition(".")
        if not module or not name:
            return None
        candidate = self._module_file(module, importer)
        if candidate is None or candidate == importer:
            return None
        index = self._index(candidate)
        return index.task_names.get(name) if index is not None else None

    def _module_file(self, module: str, importer: Path) -> Path | None:
        if module.startswith("."):
            level = len(module) - len(module.lstrip("."))
            base = importer.parent
            for _ in range(level - 1):
                base = base.parent
            parts = [p for p in module[level:].split(".") if p]
        else:
            base = _package_root(importer)
            parts = module.split(".")
        target = base.joinpath(*parts)
        for candidate in (target.with_suffix(".py"), target / "__init__.py"):
            if candidate.is_file():
                return candidate.resolve()
        return None

    def _index(self, path: Path) -> ModuleIndex | None:
        if path not in self._indexes:
            try:
                tree = ast.parse(path.read_bytes(), filename=str(path))
                self._indexes[path] = build_index(tree, self.task_decorators)
            except (OSError, SyntaxError, ValueError, RecursionError):
                self._indexes[path] = None
        return self._indexes[path]
