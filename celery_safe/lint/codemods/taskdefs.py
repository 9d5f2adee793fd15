"""Which in-process call runs a task's logic: ``task.logic(...)`` or ``task(...)``.

``task.logic(...)`` is the plain function of a ``celery_safe.task``: the idiom, and
what a person fixing the code by hand writes. It is only equivalent when the task
opens no resources (``.logic`` expects the caller to pass them) and has no custom
``base`` (whose ``__call__`` may wrap the run). Every other task is called as
``task(...)``: Celery documents calling a task object as running it in the current
process (``Task.__call__`` pushes the request and calls ``run``, bound or not), so
it returns the same value and raises the same exception as the worker would.
A bound task that uses its own request (``self.update_state``, ``self.request``,
``self.retry``) is the exception: in-process it has no task id of its own, so such a
callee is left alone.

Task definitions are read with the lint engine's cheap ``ast`` index, in this module
or, for imported tasks, in the module file found beside it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..files import Unreadable, read_source
from ..interp.index import FunctionInfo, ModuleIndex, build_index
from .report import Refusal

__all__ = ["CallStyle", "Found", "ProjectTasks", "context_use", "logic_style"]

CallStyle = Literal["logic", "call"]
SAFE_DECORATORS = frozenset({"celery_safe.task", "celery_safe.tasks.task"})
#: ``celery_safe.task`` options that make ``.logic(...)`` differ from running the task
LOGIC_BLOCKERS = frozenset({"resources", "base"})
#: How many ``from a import b`` re-exports are followed to find a task's definition.
MAX_REEXPORTS = 3


#: What a bound task reads or does through its own request; in-process it has none
#: of its own (``self.request.id`` is None: ``update_state`` fails, ``retry`` re-raises).
TASK_CONTEXT = frozenset(
    {"request", "update_state", "retry", "replace", "send_event", "add_to_chord", "backend"}
)


def context_use(info: FunctionInfo) -> str | None:
    """``self.update_state`` (say) when a bound task uses its own request, else None."""
    if info.task is None or not info.task.bind:
        return None
    params = [*info.node.args.posonlyargs, *info.node.args.args]
    if not params:
        return None
    me = params[0].arg
    for node in ast.walk(info.node):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == me
            and node.attr in TASK_CONTEXT
        ):
            return f"{me}.{node.attr}"
    return None


def logic_style(info: FunctionInfo, index: ModuleIndex) -> CallStyle | Refusal:
    """``"logic"`` for a ``celery_safe.task`` whose ``.logic`` is the whole task;
    a refusal for a bound task that needs a request of its own."""
    used = context_use(info)
    if used is not None:
        return Refusal(
            f"`{info.name}` is bound and uses {used}: called in-process it has no task id "
            "of its own; rewrite by hand"
        )
    for decorator in info.node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if index.imports.qualify(target) not in SAFE_DECORATORS:
            continue
        if isinstance(decorator, ast.Call) and any(
            k.arg is None or k.arg in LOGIC_BLOCKERS for k in decorator.keywords
        ):
            return "call"
        return "logic"
    return "call"


@dataclass(frozen=True)
class Found:
    """A task's definition and the index of the module that defines it."""

    info: FunctionInfo
    index: ModuleIndex


class ProjectTasks:
    """Task definitions of the modules a fix run touches, read once each.

    ``read`` returns a module's current text (the file, or its rewritten text when an
    earlier step of the same run changed it); ``None`` when it cannot be read.
    """

    def __init__(
        self,
        read: Callable[[Path], str | None] | None = None,
        task_decorators: Sequence[str] = (),
    ) -> None:
        self._read = read or _read_file
        self.task_decorators = tuple(task_decorators)  # the run's ``--task-decorator``s
        self._indexes: dict[Path, ModuleIndex | None] = {}

    def index(self, path: Path, source: str | None = None) -> ModuleIndex | None:
        path = path.resolve()
        if path not in self._indexes:
            text = source if source is not None else self._read(path)
            try:
                self._indexes[path] = (
                    build_index(ast.parse(text), self.task_decorators) if text is not None else None
                )
            except (SyntaxError, ValueError):
                self._indexes[path] = None
        return self._indexes[path]

    def forget(self, path: Path) -> None:
        """Drop a module's index after its text changed."""
        self._indexes.pop(path.resolve(), None)

    def find(
        self, task: str, module_path: Path, index: ModuleIndex, depth: int = 0
    ) -> Found | Refusal | None:
        """The definition of the task named by the dotted expression ``task``.

        An imported name is followed into its module when that module is part of the
        project (re-exports too). ``None`` when the module cannot be found (an
        installed package): the engine reported a task, and that is trusted. A
        refusal when ``task`` provably is not a task.
        """
        root, _, rest = task.partition(".")
        if not rest and root in index.task_names:
            return Found(index.task_names[root], index)
        qualified = index.imports.names.get(root)
        if qualified is None:
            return Refusal(f"`{task}` is not a task defined or imported in this module")
        full = f"{qualified}.{rest}" if rest else qualified
        module, _, name = full.rpartition(".")
        other_path = self._locate(module, module_path)
        other = self.index(other_path) if other_path is not None else None
        if other is None or other_path is None or depth >= MAX_REEXPORTS:
            return None
        if name in other.task_names:
            return Found(other.task_names[name], other)
        if name in other.imports.names:
            return self.find(name, other_path, other, depth + 1)
        return Refusal(f"`{name}` in {other_path.name} is not a task")

    def style(self, task: str, module_path: Path, index: ModuleIndex) -> CallStyle | Refusal:
        """How to call ``task`` in-process from that module, or why not."""
        found = self.find(task, module_path, index)
        if found is None:
            return "call"
        if isinstance(found, Refusal):
            return found
        return logic_style(found.info, found.index)

    def _locate(self, module: str, importer: Path) -> Path | None:
        """The file of ``module`` as imported from ``importer`` (relative or absolute)."""
        level = len(module) - len(module.lstrip("."))
        parts = [p for p in module.lstrip(".").split(".") if p]
        if level:
            base = importer.resolve().parent
            for _ in range(level - 1):
                base = base.parent
            roots = [base]
        else:
            roots = list(importer.resolve().parents)[:8]
        for root in roots:
            candidate = root.joinpath(*parts)
            for path in (candidate.with_suffix(".py"), candidate / "__init__.py"):
                if parts and path.is_file():
                    return path
        return None


def _read_file(path: Path) -> str | None:
    try:
        return read_source(path).text  # never a FIFO, a device or an oversized file
    except (OSError, Unreadable):
        return None
