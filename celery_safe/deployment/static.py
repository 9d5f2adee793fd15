"""The deployment rules on an app known from source only (the linter's CSF401-CSF404).

The linter reads what an app's code writes literally — ``Celery(...)``'s arguments,
``app.conf`` writes, a config module loaded by name, the tasks' decorator options — into
a :class:`StaticApp`. :func:`check_static` replays it on a real Celery app that connects
to nothing and runs the very rule functions :func:`~celery_safe.deployment.check_app`
runs: one judgement for both, and Celery's own semantics (defaults, annotations, routes,
queue declarations) for free. What the source leaves unknown is never guessed:

- a broker URL that is not literal: no broker-dependent rule (CSF401, CSF404) judges;
- a task whose options are not all literal: registered by name, judged by no rule;
- task names not all known (a task module not found, ``autodiscover_tasks``): CSF403
  judges only route keys without a dot (``"send_email"``), which no default name is, and
  only when the project's explicit bare names are known (``StaticApp.bare_names``).

Celery's ``CELERY_BROKER_URL`` environment variable, which would override a literal
broker when the worker starts, is not consulted: the code's broker is judged.
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Iterator
from dataclasses import replace
from functools import cached_property
from typing import Any

from celery import Celery, Task

from ..canvas.problems import Problem
from .checks import RULES  # registers every rule
from .model import StaticApp
from .view import BUILTIN_PREFIX, EXEC_OPTIONS, AppView, Destination, scheme_of

__all__ = ["StaticAppView", "app_from_static", "check_static", "judged_despite"]

#: Rules that read the broker (no judgement when the source does not name it).
BROKER_RULES = frozenset({"CSF401", "CSF404"})
#: Rules that read the set of registered names (no judgement unless all are known).
NAME_RULES = frozenset({"CSF403"})
#: Rules that need live workers: never static.
LIVE_RULES = frozenset({"CSF405"})
#: What a rule's settings are named with, for the rules that read only a few: a setting
#: that is not literal leaves the rule judging unless its name holds one of these words
#: (CSF404: where messages go and with which priority: routes, queues, exchanges,
#: annotations, the transport's ``priority_steps``, beat's options). Any other rule reads
#: every setting.
READS_ONLY = {
    "CSF404": ("priority", "queue", "route", "exchange", "annotation", "transport", "beat"),
}


def judged_despite(unknown: Collection[str]) -> frozenset[str]:
    """The rules that judge an app whose settings ``unknown`` are not literal."""
    if not unknown:
        return frozenset(RULES) - LIVE_RULES
    return frozenset(code for code, words in READS_ONLY.items()
                     if not any(word in name for name in unknown for word in words))


def _noop(*args: Any, **kwargs: Any) -> None:
    """The body of every replayed task: only its options are judged."""


def app_from_static(model: StaticApp) -> Celery:
    """A real Celery app configured as the source says; it never connects or imports."""
    app = Celery(model.main, set_as_current=False, fixups=[], autofinalize=True)
    for step in model.steps:
        if step.from_object:
            holder = type("StaticConfig", (), dict(step.settings))
            app.config_from_object(holder, namespace=step.namespace)
        else:
            app.conf.update(dict(step.settings))
    app.conf.update(include=(), imports=())  # the task modules are read by the linter
    with warnings.catch_warnings():  # Celery's deprecations are the source's, not ours
        warnings.simplefilter("ignore")
        for task in model.tasks:
            # shared=False: a shared task would join every app made later in this process
            app.task(name=task.name, shared=False, **dict(task.options))(_noop)
        app.finalize(auto=True)
    return app


class StaticAppView(AppView):
    """:class:`AppView` of an app built from source: the source's broker (not the
    environment's), only the tasks whose options are known."""

    def __init__(self, app: Celery, model: StaticApp) -> None:
        super().__init__(app)
        self.model = model

    @cached_property
    def scheme(self) -> str:
        if not self.model.broker_known:
            return ""
        # ``conf.get``, not ``conf.broker_url``: the latter reads the linter's environment
        url = self.conf.get("broker_url") or self.conf.get("broker_read_url")
        return scheme_of(url) if url else ""

    def sends(self) -> list[tuple[str, float]]:
        return [(send.task, send.countdown) for send in self.model.sends]

    def sent(self) -> Iterator[tuple[str, Destination]]:
        """The tasks' and beat's messages, and those call sites send with a priority."""
        yield from super().sent()
        for index, send in enumerate(self.model.priority_sends):
            task = self.tasks.get(send.task)
            if task is None:
                continue  # why: a task whose options are not known is not judged
            options = {key: getattr(task, key, None) for key in EXEC_OPTIONS}
            options["priority"] = send.priority
            if send.queue is not None:
                options.update(queue=send.queue, exchange=None, routing_key=None)
            found = self.destination(send.task, options)
            if found is not None:
                yield f"{send.task} (apply_async)", replace(
                    found, place=("priority_sends", str(index)))

    @cached_property
    def registered(self) -> frozenset[str]:
        return super().registered | (self.model.bare_names or frozenset())

    def map_routes(self) -> Iterator[tuple[Any, Any]]:
        """The route keys CSF403 may judge: all when every name is known, else those
        without a dot (no default name matches one) and no glob."""
        for key, route in super().map_routes():
            if self.model.names_known or (
                isinstance(key, str) and not any(c in key for c in ".*?[")
            ):
                yield key, route

    @cached_property
    def tasks(self) -> dict[str, Task]:
        judged = {task.name for task in self.model.tasks if task.known}
        return {
            name: task for name, task in sorted(self.app.tasks.items())
            if name in judged and not name.startswith(BUILTIN_PREFIX)
        }


def check_static(model: StaticApp, codes: Collection[str] | None = None) -> Iterator[Problem]:
    """The problems the deployment rules find in ``model`` (of ``codes``, default all
    that can be judged from source)."""
    chosen = sorted(set(RULES) - LIVE_RULES if codes is None else set(codes) & set(RULES))
    if not model.broker_known:
        chosen = [code for code in chosen if code not in BROKER_RULES]
    if not model.names_known and model.bare_names is None:
        chosen = [code for code in chosen if code not in NAME_RULES]
    if not chosen:
        return
    view = StaticAppView(app_from_static(model), model)
    for code in chosen:
        yield from RULES[code].check(view)
