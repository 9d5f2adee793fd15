"""The base of the codemods that rewrite what the lint engine found.

Detection is never written twice: a codemod gets the engine's findings from
``celery-safe fix``, or runs the engine on the module itself when libcst's own runner
(``python -m libcst.tool codemod``) drives it.

libcst's metadata costs the same for every line of a module, and most findings are
decided (or refused) after looking at a handful of nodes, so only positions are
computed up front: a node's parents are collected for the one top-level statement
that holds it, the first time they are asked for, and scopes only when a rewrite
gets as far as asking what a name is bound to.
"""

from __future__ import annotations

import ast
from bisect import bisect_right
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import libcst as cst
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.metadata import (
    CodeRange,
    GlobalScope,
    MetadataWrapper,
    PositionProvider,
    Scope,
    ScopeProvider,
)

from ..findings import Finding
from ..interp.index import ModuleIndex, build_index
from .report import find_findings
from .taskdefs import ProjectTasks

__all__ = ["FindingsCodemod"]

#: Statements scoped one by one before the whole module is scoped once instead.
_STATEMENT_SCOPES = 8


class _Parents(cst.CSTVisitor):
    """Records each node's parent while walking one statement."""

    def __init__(self, parents: dict[cst.CSTNode, cst.CSTNode]) -> None:
        super().__init__()
        self.parents = parents
        self.stack: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.stack:
            self.parents[node] = self.stack[-1]
        self.stack.append(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.stack.pop()


class FindingsCodemod(VisitorBasedCodemodCommand):
    """A codemod acting on findings, with the project's tasks to resolve names against.

    ``fresh``: the driver parsed the module for this run alone (``fix`` does), so
    libcst's defensive deep copy of it before computing metadata is skipped.
    """

    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(
        self,
        context: CodemodContext,
        findings: Sequence[Finding] | None = None,
        tasks: ProjectTasks | None = None,
        text: str | None = None,
    ) -> None:
        super().__init__(context)
        self._given = None if findings is None else list(findings)
        self._tasks = tasks or ProjectTasks()
        self._text = text  # the module's source when the driver has it: no libcst codegen
        self.fresh = False
        self._parents: dict[cst.CSTNode, cst.CSTNode] = {}
        self._walked: set[int] = set()
        self._scopes: Mapping[cst.CSTNode, Scope | None] | None = None
        self._statement_scopes: dict[int, Mapping[cst.CSTNode, Scope | None]] = {}
        self._starts: list[tuple[int, int]] | None = None

    @contextmanager
    def _handle_metadata_reference(self, module: cst.Module) -> Generator[cst.Module, None, None]:
        if not self.fresh or self.context.metadata_manager is not None:
            with super()._handle_metadata_reference(module) as tree:
                yield tree
            return
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)  # why: see ``fresh``
        previous = self.context.wrapper
        with self.resolve(wrapper):
            self.context = replace(self.context, wrapper=wrapper)
            try:
                yield wrapper.module
            finally:
                self.context = replace(self.context, wrapper=previous)

    def statement_of(self, node: cst.CSTNode) -> int | None:
        """The number of the top-level statement holding ``node`` (None: the module)."""
        if self._starts is None:  # once per run: statements in source order
            self._starts = [
                (start.line, start.column)
                for start in (
                    self.get_metadata(PositionProvider, statement).start
                    for statement in self.module.body
                )
            ]
        where = self.get_metadata(PositionProvider, node, None)
        if where is None:
            return None
        number = bisect_right(self._starts, (where.start.line, where.start.column)) - 1
        if number < 0:
            return None
        span = self.get_metadata(PositionProvider, self.module.body[number])
        return number if _within(where, span) else None

    def parent_of(self, node: cst.CSTNode) -> cst.CSTNode | None:
        """``node``'s parent (``None`` for the module), as ``ParentNodeProvider`` gives it."""
        if node not in self._parents:
            number = self.statement_of(node)
            if number is None:
                return None
            statement = self.module.body[number]
            if node is statement:
                return self.module
            if number not in self._walked:
                self._walked.add(number)
                statement.visit(_Parents(self._parents))
        return self._parents.get(node)

    def parent(self, node: cst.CSTNode) -> cst.CSTNode:
        """``node``'s parent; ``LookupError`` for the module itself."""
        found = self.parent_of(node)
        if found is None:
            raise LookupError("the module has no parent")
        return found

    def scope_of(self, node: cst.CSTNode) -> Scope | None:
        """The scope ``node`` is in, as libcst's ``ScopeProvider`` gives it.

        A name inside a function is scoped on its top-level statement alone (the same
        node objects, so the answer is the same for every function scope); a name whose
        scope is the module's asks the whole module, and so does every name once a
        few statements have been scoped (one pass over a module costs less than many
        small ones).
        """
        number = self.statement_of(node) if self._scopes is None else None
        if number is not None and len(self._statement_scopes) >= _STATEMENT_SCOPES:
            number = None  # why: past a few statements, one whole-module pass is cheaper
        if number is not None:
            if number not in self._statement_scopes:
                alone = cst.Module(body=[self.module.body[number]])
                scopes = MetadataWrapper(alone, unsafe_skip_copy=True).resolve(ScopeProvider)
                self._statement_scopes[number] = scopes
            found = self._statement_scopes[number].get(node)
            if found is not None and not isinstance(found, GlobalScope):
                return found
        if self._scopes is None:
            whole = self.context.wrapper
            self._scopes = whole.resolve(ScopeProvider) if whole is not None else {}
        return self._scopes.get(node)

    def source_code(self, tree: cst.Module) -> str:
        """The module's text: given by ``fix`` (it has it already), else generated."""
        return self._text if self._text is not None else tree.code

    @property
    def path(self) -> str:
        """The module's file name, or ``<string>`` for source given as text."""
        return self.context.filename or "<string>"

    def findings_for(self, tree: cst.Module) -> list[Finding]:
        """The findings given, or the engine's on this module."""
        if self._given is not None:
            return self._given
        return find_findings(self.source_code(tree), self.path)

    def module_index(self, tree: cst.Module) -> ModuleIndex:
        """The module's index as the project sees it (imported tasks resolved), or its own."""
        code = self.source_code(tree)
        index = self._tasks.index(Path(self.path), code) if self.path != "<string>" else None
        return index or build_index(ast.parse(code), self._tasks.task_decorators)


def _within(inner: CodeRange, outer: CodeRange) -> bool:
    return (outer.start.line, outer.start.column) <= (inner.start.line, inner.start.column) and (
        (inner.end.line, inner.end.column) <= (outer.end.line, outer.end.column)
    )
