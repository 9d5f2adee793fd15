"""The canvas model: the shapes of a workflow and every canvas check (CSF2xx), written once.

Two front-ends build the model and read the same problems back:
``celery_safe.workflows.validate`` from Celery signatures at runtime, and the linter
from source. Importing this package imports neither Celery nor the linter.
"""

from __future__ import annotations

from .check import (
    OPEN,
    UNKNOWN,
    Received,
    check,
    errback_arguments,
    errback_received,
    parent_result,
    workflow_arguments,
)
from .model import Chain, Chord, Group, Mapped, Node, Step, TaskSpec, Unregistered
from .params import Params
from .problems import Path, Problem, WorkflowError, format_problems, render_path

__all__ = [
    "OPEN",
    "UNKNOWN",
    "Chain",
    "Chord",
    "Group",
    "Mapped",
    "Node",
    "Params",
    "Path",
    "Problem",
    "Received",
    "Step",
    "TaskSpec",
    "Unregistered",
    "WorkflowError",
    "check",
    "errback_arguments",
    "errback_received",
    "format_problems",
    "parent_result",
    "render_path",
    "workflow_arguments",
]
