"""Safe workflows: Celery's chain/group/chord, validated before anything is sent.

    from celery_safe.workflows import chain

    chain(store.s(), clone.si(slugs), parse.si()).delay()   # WorkflowError if a step is wrong

``validate(canvas)`` checks any canvas, ``to_mermaid``/``to_dot``/``to_svg`` draw it,
``trace(result)`` reads back what a sent one did, ``explain(result)`` says why it is where
it is, ``run_workflow`` runs it in-process
for tests, ``map_reduce`` builds a fan-out chord, ``validate_schedule(app)`` checks beat's
schedule, ``check_app(app)`` an app's deployment configuration (CSF4xx).
Importing this package never imports libcst, flake8 or the linter.
"""

from __future__ import annotations

from ..canvas.problems import Problem, WorkflowError
from ..deployment import check_app, check_app_on_start, live_workers
from .builders import chain, chord, group
from .explain import Explanation, Reason, RunState, explain
from .mapreduce import map_reduce
from .render import to_dot, to_mermaid
from .runner import TaskRun, WorkflowRun, run_workflow
from .schedule import check_schedule_on_beat, validate_schedule
from .svg import to_svg
from .trace import STATE_WORDS, AttemptEnd, GroupTrace, StepTrace, Trace, task_names, trace
from .validate import validate

__all__ = [
    "STATE_WORDS",
    "AttemptEnd",
    "Explanation",
    "GroupTrace",
    "Problem",
    "Reason",
    "RunState",
    "StepTrace",
    "TaskRun",
    "Trace",
    "WorkflowError",
    "WorkflowRun",
    "chain",
    "check_app",
    "check_app_on_start",
    "check_schedule_on_beat",
    "chord",
    "explain",
    "group",
    "live_workers",
    "map_reduce",
    "run_workflow",
    "task_names",
    "to_dot",
    "to_mermaid",
    "to_svg",
    "trace",
    "validate",
    "validate_schedule",
]
