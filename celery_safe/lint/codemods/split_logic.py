"""``SplitTaskLogic``: ``@app.task(...)``/``@shared_task(...)`` become ``@celery_safe.task``.

``celery_safe.task(app, **options)`` registers the same Celery task (same name, same
options, same run function) and adds ``.logic``, so callers can run the plain function
in-process. Every option is kept as written; ``import celery_safe`` is added and an
import of ``shared_task`` that nothing uses any more is removed (libcst's import
helpers). Tasks are the ones the lint engine's ``ast`` index recognises; a decorator
with positional arguments (invalid for Celery anyway) is left alone.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Literal

import libcst as cst
from libcst.codemod import VisitorBasedCodemodCommand
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import PositionProvider

from ..interp.index import TASK_DECORATORS, ModuleIndex, build_index
from .taskdefs import SAFE_DECORATORS

__all__ = ["Convertible", "SplitTaskLogic", "convertible_tasks"]

SHARED_TASK = frozenset(
    {"celery.shared_task", "celery.app.shared_task", "celery.app.base.shared_task"}
)


@dataclass(frozen=True)
class Convertible:
    """A top-level task definition whose decorator can become ``celery_safe.task``."""

    name: str
    decorator: int  # position in the decorator list
    kind: Literal["app", "shared"]


def convertible_tasks(index: ModuleIndex) -> dict[int, Convertible]:
    """Tasks to convert, by the line of their ``def`` (``ast`` conventions)."""
    found: dict[int, Convertible] = {}
    for info in index.tasks:
        if info.parent is not None or info.class_name is not None or info.task is None:
            continue
        if info.task.how != "decorator":
            continue
        for position, decorator in enumerate(info.node.decorator_list):
            call = decorator if isinstance(decorator, ast.Call) else None
            if call is not None and call.args:
                break  # why bail: Celery itself rejects positional decorator arguments
            target = call.func if call is not None else decorator
            qualified = index.imports.qualify(target)
            if qualified in SAFE_DECORATORS:
                break
            if qualified in SHARED_TASK:
                found[info.node.lineno] = Convertible(info.name, position, "shared")
                break
            if qualified in TASK_DECORATORS:
                break  # an old ``celery.task`` decorator: no app to pass on
            if isinstance(target, ast.Attribute) and target.attr == "task":
                if isinstance(target.value, (ast.Name, ast.Attribute)):
                    found[info.node.lineno] = Convertible(info.name, position, "app")
                break
    return found


def _safe_task() -> cst.Attribute:
    return cst.Attribute(value=cst.Name("celery_safe"), attr=cst.Name("task"))


class SplitTaskLogic(VisitorBasedCodemodCommand):
    """Convert Celery task decorators to ``celery_safe.task``, keeping every option."""

    DESCRIPTION = (
        "celery-safe: turn @app.task(...)/@shared_task(...) definitions into "
        "@celery_safe.task(app, ...) so other code can call task.logic(...) in-process."
    )
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, context: cst.codemod.CodemodContext) -> None:
        super().__init__(context)
        self._targets: dict[int, Convertible] = {}
        #: names of the task functions converted, in source order
        self.converted: list[str] = []

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        self._targets = convertible_tasks(build_index(ast.parse(tree.code)))
        if not self._targets:
            return tree
        return tree.visit(self)

    def leave_FunctionDef(
        self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef
    ) -> cst.FunctionDef:
        line = self.get_metadata(PositionProvider, original_node.name).start.line
        target = self._targets.get(line)
        if target is None or target.name != original_node.name.value:
            return updated_node
        decorators = list(updated_node.decorators)
        old = decorators[target.decorator]
        decorators[target.decorator] = old.with_changes(decorator=self._convert(old, target))
        RemoveImportsVisitor.remove_unused_import_by_node(
            self.context, original_node.decorators[target.decorator]
        )
        AddImportsVisitor.add_needed_import(self.context, "celery_safe")
        self.converted.append(target.name)
        return updated_node.with_changes(decorators=decorators)

    @staticmethod
    def _convert(decorator: cst.Decorator, target: Convertible) -> cst.BaseExpression:
        expression = decorator.decorator
        call = expression if isinstance(expression, cst.Call) else None
        if target.kind == "shared":
            return call.with_changes(func=_safe_task()) if call is not None else _safe_task()
        func = call.func if call is not None else expression
        assert isinstance(func, cst.Attribute)
        app = func.value
        if call is None:
            return cst.Call(func=_safe_task(), args=[cst.Arg(app)])
        first_comma = call.args[0].comma if call.args else cst.MaybeSentinel.DEFAULT
        comma = (
            first_comma
            if isinstance(first_comma, cst.Comma)
            else cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        )
        app_arg = cst.Arg(app, comma=comma if call.args else cst.MaybeSentinel.DEFAULT)
        return call.with_changes(func=_safe_task(), args=[app_arg, *call.args])
