"""``check_app`` and its friends: the deployment rules run on a configured app."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any

from celery import Celery

from ..canvas.problems import Problem, WorkflowError
from . import csf401, csf402, csf403, csf404, csf405  # noqa: F401  (register the rules)
from .registry import RULES, DeployRule
from .view import AppView

__all__ = ["RULES", "AppView", "DeployRule", "check_app", "check_app_on_start", "live_workers"]

logger = logging.getLogger(__name__)


def check_app(
    app: Celery,
    *,
    workers: Mapping[str, Collection[str]] | None = None,
    ignore: Collection[str] = (),
) -> list[Problem]:
    """Every deployment problem of ``app``, by code; ``workers`` (live worker -> the
    queues it consumes, as :func:`live_workers` returns) adds CSF405.

    assert check_app(app) == []
    """
    if not isinstance(app, Celery):
        raise TypeError(f"check_app needs a Celery app, not {type(app).__name__}")
    ignored = frozenset(code.upper() for code in ignore)
    view = AppView(app, workers)
    return [
        problem
        for code, found in sorted(RULES.items())
        if code not in ignored
        for problem in found.check(view)
    ]


def live_workers(app: Celery, timeout: float = 1.0) -> dict[str, list[str]]:
    """What the running workers consume: worker name -> queue names
    (``inspect active_queues``; ``{}`` when none answers within ``timeout`` seconds)."""
    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    return {
        worker: sorted(str(queue.get("name")) for queue in queues or ())
        for worker, queues in sorted(replies.items())
    }


def check_app_on_start(app: Celery, *, ignore: Collection[str] = ()) -> None:
    """Make ``celery worker`` and ``celery beat`` for ``app`` refuse to start while
    :func:`check_app` reports problems (other than the codes in ``ignore``), naming each."""
    from celery.signals import beat_init, worker_init

    def on_start(sender: Any = None, **_: Any) -> None:
        if getattr(sender, "app", app) is not app:
            return
        problems = check_app(app, ignore=ignore)
        if problems:
            error = WorkflowError(problems, f"app {app.main!r}")
            logger.critical("%s", error)
            # SystemExit passes through Celery's signal dispatch (it logs Exceptions)
            raise SystemExit(f"celery-safe: {error}")

    worker_init.connect(on_start, weak=False)
    beat_init.connect(on_start, weak=False)
