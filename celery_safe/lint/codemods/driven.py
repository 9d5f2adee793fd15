"""The base of the codemods that rewrite what the lint engine found.

Detection is never written twice: a codemod gets the engine's findings from
``celery-safe fix``, or runs the engine on the module itself when libcst's own runner
(``python -m libcst.tool codemod``) drives it.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

import libcst as cst
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand

from ..findings import Finding
from ..index import ModuleIndex, build_index
from .report import find_findings
from .taskdefs import ProjectTasks

__all__ = ["FindingsCodemod"]


class FindingsCodemod(VisitorBasedCodemodCommand):
    """A codemod acting on findings, with the project's tasks to resolve names against."""

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
