"""What the source says of an app, for the deployment rules (the linter fills it in,
``static.check_static`` judges it). Plain data: importing it loads no Celery."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ConfigStep", "StaticApp", "StaticPrioritySend", "StaticSend", "StaticTask"]


@dataclass(frozen=True)
class ConfigStep:
    """One configuration write, replayed in source order: ``app.conf.update(settings)``,
    or, with ``namespace`` or ``from_object``, ``app.config_from_object(...)``."""

    settings: Mapping[str, Any]
    from_object: bool = False
    namespace: str | None = None


@dataclass(frozen=True)
class StaticTask:
    """A task as its source registers it: its name, its literal options; ``known`` is
    False when some option is not literal (it is then registered, never judged)."""

    name: str
    options: Mapping[str, Any]
    known: bool = True


@dataclass(frozen=True)
class StaticSend:
    """A call site sending a task with a literal countdown (``apply_async(countdown=...)``)."""

    task: str
    countdown: float


@dataclass(frozen=True)
class StaticPrioritySend:
    """A call site sending a task with a literal priority (``apply_async(priority=9)``;
    an integer or not, as written), and the queue it names (None: the task's route
    decides)."""

    task: str
    priority: int | str | float
    queue: str | None = None


@dataclass
class StaticApp:
    """What the source says of one app; see the module's docstring for the unknowns."""

    main: str | None
    #: every broker URL write is literal (and there is one): the broker is the source's
    broker_known: bool = False
    steps: list[ConfigStep] = field(default_factory=list)
    tasks: list[StaticTask] = field(default_factory=list)
    names_known: bool = True
    #: when not all names are known: every name without a dot the project's tasks may be
    #: registered under (explicit ``name="..."``); None: unknown. A task's default name is
    #: its module's and its own, dotted: a key without one can match only these.
    bare_names: frozenset[str] | None = None
    #: literal call-site countdowns, in source order (``("sends", "0")`` is the first)
    sends: list[StaticSend] = field(default_factory=list)
    #: literal call-site priorities (CSF404 counts them with the tasks' own)
    priority_sends: list[StaticPrioritySend] = field(default_factory=list)
