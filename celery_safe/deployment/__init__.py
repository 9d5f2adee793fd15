"""Deployment checks (CSF4xx): the configuration mistakes that lose tasks or run them
twice, read from a configured app before it ships.

    from celery_safe.workflows import check_app
    assert check_app(app) == []

One module per code (``csf401.py``...), each a function over :class:`AppView` (what
the app's configuration says: broker, tasks and their options, routes, queues, beat
schedule), registered with its VALID/INVALID examples. Nothing here connects to the
broker except :func:`live_workers`, which asks running workers what they consume.
Only definite problems are reported: a router function or an unknown broker is not
judged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .checks import RULES, AppView, DeployRule, check_app, check_app_on_start, live_workers

__all__ = ["RULES", "AppView", "DeployRule", "check_app", "check_app_on_start", "live_workers"]


def __getattr__(name: str) -> Any:
    """The names load Celery on first use: the linter imports this package's examples
    and static model without it (``import celery_safe.lint`` never loads Celery's apps)."""
    if name in __all__:
        from . import checks

        return getattr(checks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
