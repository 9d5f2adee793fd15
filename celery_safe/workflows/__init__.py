"""Safe workflows: Celery's chain/group/chord, validated before anything is sent.

    from celery_safe.workflows import chain

    chain(store.s(), clone.si(slugs), parse.si()).delay()   # WorkflowError if a step is wrong

``validate(canvas)`` checks any canvas, ``to_mermaid``/``to_dot`` draw it,
``run_workflow`` runs it in-process for tests, ``map_reduce`` builds a fan-out chord.
Importing this package never imports libcst, flake8 or the linter.
"""

from __future__ import annotations

from ..canvas.problems import Problem, WorkflowError
from .builders import chain, chord, group
from .mapreduce import map_reduce
from .render import to_dot, to_mermaid
from .runner import TaskRun, WorkflowRun, run_workflow
from .validate import validate

__all__ = [
    "Problem",
    "TaskRun",
    "WorkflowError",
    "WorkflowRun",
    "chain",
    "chord",
    "group",
    "map_reduce",
    "run_workflow",
    "to_dot",
    "to_mermaid",
    "validate",
]
