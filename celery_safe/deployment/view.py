"""What the deployment rules read of a configured app, without a broker connection:
its broker's transport and options, its own registered tasks and their options, where
each task is routed and with which priority, its queues as Celery would declare them,
and its beat schedule.

Routing follows Celery's ``Router.route``: the task's own options win over a route's
(``lpmerge``), the first router that answers decides. A router *function* (or a router
named by a string) decides at send time from the arguments: a task it may route has an
unknown destination (``None``) and no rule judges it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from celery import Celery, Task
from celery.app.routes import MapRoute, prepare
from kombu.transport.base import to_rabbitmq_queue_arguments

__all__ = ["AMQP_SCHEMES", "EXEC_OPTIONS", "REDIS_SCHEMES", "AppView", "Destination", "scheme_of"]

#: Broker URL schemes served by kombu's Redis transport (its ``visibility_timeout``,
#: its ``priority_steps``).
REDIS_SCHEMES = frozenset({"redis", "rediss", "sentinel"})
#: Broker URL schemes of RabbitMQ (AMQP 0.9.1).
AMQP_SCHEMES = frozenset({"amqp", "amqps", "pyamqp", "librabbitmq"})
#: Celery's own tasks (``celery.chord_unlock``...): not the app's to configure.
BUILTIN_PREFIX = "celery."
#: The task options that decide where its message goes (Celery's ``extract_exec_options``).
EXEC_OPTIONS = ("queue", "exchange", "routing_key", "priority")


def scheme_of(url: Any) -> str:
    """``redis`` of ``redis://h/0``, of ``sentinel+redis://...;...``, of a failover list."""
    if not isinstance(url, str):  # a list of failover URLs
        url = next(iter(url), "amqp://")
    first = str(url).split(";", 1)[0].strip()
    return first.partition("://")[0].partition("+")[0].lower() or "amqp"


@dataclass(frozen=True)
class Destination:
    """Where a message goes: the queue's name and the priority it is sent with
    (``given``: the priority as written, an integer or not; ``routed``: it is the route's;
    ``place``: where the sender is written, a problem's path)."""

    queue: str
    priority: int | None
    given: Any = None
    routed: bool = False
    place: tuple[str, str] | None = None


class AppView:
    """The facts of one app the rules share, computed once each."""

    def __init__(self, app: Celery, workers: Mapping[str, Collection[str]] | None = None) -> None:
        self.app = app
        self.conf = app.conf
        #: live worker -> the queues it consumes (``inspect active_queues``); None: unknown
        self.workers = (
            None if workers is None
            else {name: frozenset(queues) for name, queues in workers.items()}
        )

    @cached_property
    def scheme(self) -> str:
        """The broker URL's scheme (``amqp`` when none is configured, as Celery's default)."""
        url = self.conf.broker_url or self.conf.broker_read_url or "amqp://"
        return scheme_of(url)

    @cached_property
    def transport_options(self) -> Mapping[str, Any]:
        options = self.conf.broker_transport_options or {}
        return options if isinstance(options, Mapping) else {}

    @cached_property
    def tasks(self) -> dict[str, Task]:
        """The app's own registered tasks, by name (the modules workers import, imported)."""
        self.app.loader.import_default_modules()
        return {
            name: task for name, task in sorted(self.app.tasks.items())
            if not name.startswith(BUILTIN_PREFIX)
        }

    @cached_property
    def registered(self) -> frozenset[str]:
        """Every registered name, Celery's own included."""
        _ = self.tasks
        return frozenset(self.app.tasks)

    @cached_property
    def routers(self) -> list[Any]:
        return list(prepare(self.conf.task_routes))

    def map_routes(self) -> Iterator[tuple[Any, Any]]:
        """Every ``(key, route)`` of the dict routers, in order (keys as written:
        exact names, globs, compiled patterns)."""
        routes = self.conf.task_routes
        if routes is None:
            return
        for router in routes if isinstance(routes, (list, tuple)) else (routes,):
            if isinstance(router, Mapping):
                yield from router.items()
            elif isinstance(router, (list, tuple)):
                yield from (tuple(pair) for pair in router)

    def destination(self, name: str, options: Mapping[str, Any]) -> Destination | None:
        """Where a message of task ``name`` sent with ``options`` goes; ``None`` when a
        router function decides it or an exchange/routing key does instead of a queue."""
        route: dict[str, Any] | None = None
        for router in self.routers:
            if not isinstance(router, MapRoute):
                return None  # a function decides, from the arguments: unknown
            try:
                found = router(name)
            except Exception:  # a route value Celery cannot read (it would fail at send)
                return None
            if found is not None:
                route = found
                break
        merged = dict(route or {})
        merged.update({key: value for key, value in options.items() if value is not None})
        routed = options.get("priority") is None and merged.get("priority") is not None
        queue = merged.get("queue")
        if queue is None and ("exchange" in merged or "routing_key" in merged):
            return None
        queue = getattr(queue, "name", queue) or self.conf.task_default_queue
        priority = merged.get("priority")
        return Destination(str(queue), priority if isinstance(priority, int) else None,
                           priority, routed)

    def task_destination(self, task: Task) -> Destination | None:
        """Where ``task.delay(...)`` sends its message (its own options, then the routes)."""
        options = {key: getattr(task, key, None) for key in EXEC_OPTIONS}
        return self.destination(task.name, options)

    def sent(self) -> Iterator[tuple[str, Destination]]:
        """(sender, destination) of every task and beat entry whose destination is known."""
        for name, task in self.tasks.items():
            found = self.task_destination(task)
            if found is not None:
                yield name, replace(found, place=("tasks", name))
        for entry_name, entry in self.beat_entries.items():
            task = self.app.tasks.get(entry["task"])
            options = {key: getattr(task, key, None) for key in EXEC_OPTIONS}
            options.update(entry.get("options", {}))
            found = self.destination(entry["task"], options)
            if found is not None:
                yield f"beat entry {entry_name!r}", replace(
                    found, place=("beat_schedule", entry_name))

    def queue_arguments(self, queue: str) -> Mapping[str, Any] | None:
        """The arguments Celery declares ``queue`` with (``task_queue_max_priority`` filled
        in); ``None`` when Celery would refuse the queue (not in ``task_queues`` and
        ``task_create_missing_queues`` off)."""
        queues = self.app.amqp.queues
        # never ``queues[queue]``: Celery would add a missing queue to the table, and a
        # worker started without -Q consumes every queue in it
        declared = dict.get(queues, queue) or queues.aliases.get(queue)
        if declared is not None:
            # as kombu declares it: ``Queue(max_priority=...)`` and its kin are arguments too
            return dict(to_rabbitmq_queue_arguments(
                declared.queue_arguments or {}, expires=declared.expires,
                message_ttl=declared.message_ttl, max_length=declared.max_length,
                max_length_bytes=declared.max_length_bytes,
                max_priority=declared.max_priority))
        if not getattr(queues, "create_missing", True):
            return None
        max_priority = getattr(queues, "max_priority", None)
        return {} if max_priority is None else {"x-max-priority": max_priority}

    def sends(self) -> list[tuple[str, float]]:
        """``(task, countdown)`` of the call sites known to send a task with a countdown:
        none for a running app (its callers are not known); the source's for the linter."""
        return []

    @cached_property
    def beat_entries(self) -> dict[str, Mapping[str, Any]]:
        """The well-formed ``beat_schedule`` entries (CSF213 reports the others)."""
        schedule = self.conf.beat_schedule or {}
        if not isinstance(schedule, Mapping):
            return {}
        return {
            str(name): entry for name, entry in schedule.items()
            if isinstance(entry, Mapping) and isinstance(entry.get("task"), str)
            and isinstance(entry.get("options", {}), Mapping)
        }
