"""The linter's front-end of the canvas model: source shapes in, :mod:`celery_safe.canvas`
problems out.

A canvas written in the source (``a.s(1) | b.s()``, ``chain(...)``, ``chord(h, body)``)
is described as the model's nodes: a step whose task resolves to a ``def`` (in this
module or, for ``celery-safe check``, another project module) carries that task's
parameters; what the source does not say (``*args``, ``**options``, an unresolved
task) stays unknown and no check guesses it. The checks themselves are the runtime's.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass

from ...canvas import Node, Problem, Received, Step
from ...canvas import check as check_model
from ...canvas.check import Backend
from ...canvas.text import SourceText
from .index import FunctionInfo

__all__ = ["CanvasCheck", "check_canvas", "make_step", "source_args"]


@dataclass(frozen=True)
class CanvasCheck:
    """One canvas built in the source (``root``) and its problems."""

    root: ast.AST
    problems: tuple[Problem, ...]
    receives: Received | None


def check_canvas(
    root: ast.AST,
    node: Node,
    receives: Received | None,
    no_chords: str | None = None,
    header_polls: bool = False,
    celery: tuple[int, int, int] | None = None,
    path: tuple[str | int, ...] = (),
) -> CanvasCheck:
    """Check a canvas the source builds at ``root``; CSF206/207 need the app: not here.

    ``no_chords`` is why the module's app cannot run chords, when its code says so
    (CSF203); ``header_polls`` that its backend reads the header's stored results (a
    header part ignoring its result is CSF204 only then; see :mod:`.backends`);
    ``celery`` the Celery version whose behaviour is checked (None: the installed one).
    ``path`` where the canvas sits (``("beat_schedule", "nightly")``: a beat entry).
    """
    chords = Backend(no_chords, keeps_header_values=not header_polls)
    problems = check_model(
        node, receives=receives, backend=lambda: chords, celery=celery, path=path
    )
    return CanvasCheck(root, tuple(problems), receives)


def source_args(
    args: Sequence[ast.expr], keywords: Sequence[ast.keyword] = (), skip: Sequence[str] = ()
) -> tuple[tuple[SourceText, ...] | None, dict[str, SourceText] | None]:
    """Positional and keyword arguments as written (None where they cannot be counted)."""
    positional: tuple[SourceText, ...] | None = tuple(SourceText(ast.unparse(a)) for a in args)
    if any(isinstance(a, ast.Starred) for a in args):
        positional = None
    if any(keyword.arg is None for keyword in keywords):
        return positional, None  # ``**options``: the names are not known
    named = {
        keyword.arg: SourceText(ast.unparse(keyword.value))
        for keyword in keywords
        if keyword.arg is not None and keyword.arg not in skip
    }
    return positional, named


def make_step(
    node: ast.AST,
    name: str,
    task: FunctionInfo | None,
    args: tuple[SourceText, ...] | None,
    kwargs: dict[str, SourceText] | None,
    *,
    immutable: bool = False,
    ignore_result: bool | None = None,
) -> Step:
    """A task step; ``task`` is the ``def`` the signature's task resolves to, if any."""
    spec = task.spec() if task is not None else None
    return Step(
        immutable=immutable,
        origin=node,
        name=task.task_label if task is not None else name,
        spec=spec,
        args=args,
        kwargs=kwargs,
        ignore_result=ignore_result,
    )
