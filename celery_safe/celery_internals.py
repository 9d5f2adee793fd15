"""Every private Celery and kombu name celery-safe relies on, in one list.

The guard, the embedded broker and backend, the workflow builders and the in-process
runner reach into Celery and kombu where no public API does what they need. Each such
name is an :class:`Internal` here, and a test checks each one on every Celery version
of the test matrix. :func:`celery_safe.guard` calls :func:`require` for the names it
needs before it patches anything, so a Celery release that moved one fails loudly at
start-up, naming it, instead of silently guarding nothing.

Version-specific Celery behaviour that a check or a test depends on lives here too
(:func:`group_group_mislinks`...), each measured on real workers by a test that runs on
every matrix version: one place to update when a new Celery is tested.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INTERNALS",
    "JOIN_METHODS",
    "SUPPORTED_CELERY",
    "CeleryInternalsError",
    "Internal",
    "UnsupportedCelery",
    "celery_version",
    "chain_app_from_first_task",
    "chain_or_chain_folds",
    "chord_errback_runs",
    "chord_orders_replaced_group",
    "default_target",
    "embedded_leases_hold",
    "empty_chord_header_runs_body",
    "group_group_mislinks",
    "header_ignoring_results_reaches_body",
    "missing",
    "namespace_reads_old_names",
    "redis_group_after_group_completes",
    "require",
    "target_celery",
    "worker_acks_between_drains",
]


@dataclass(frozen=True)
class Internal:
    """A name celery-safe uses: ``owner`` (a module, or ``module:Class``) has ``attribute``.

    ``users`` says which part relies on it; ``why`` what for. An attribute that only
    instances get (set in ``__init__``) is looked up on one made by ``instance``.
    """

    owner: str
    attribute: str
    users: str
    why: str
    instance: Callable[[Any], Any] | None = None

    @property
    def label(self) -> str:
        return f"{self.owner.replace(':', '.')}.{self.attribute}"

    def present(self) -> bool:
        """Whether the installed Celery/kombu still has it."""
        try:
            found = resolve(self.owner)
            if self.instance is not None:
                found = self.instance(found)
        except (ImportError, AttributeError, TypeError):
            return False
        if self.attribute.endswith("()"):  # a method defined by the class itself
            return self.attribute[:-2] in getattr(found, "__dict__", {})
        return hasattr(found, self.attribute)


class CeleryInternalsError(RuntimeError):
    """The installed Celery or kombu lacks a name celery-safe needs."""

    def __init__(self, missing: list[Internal]) -> None:
        super().__init__(missing)
        self.missing = missing

    def __str__(self) -> str:
        import celery
        import kombu

        names = "; ".join(f"{item.label} ({item.users}: {item.why})" for item in self.missing)
        return (
            f"celery-safe cannot run on celery {celery.__version__} / kombu "
            f"{kombu.__version__}: {names} moved or disappeared. celery-safe is tested on "
            "Celery 5.3-5.7; pin one of those or upgrade celery-safe."
        )


def resolve(owner: str) -> Any:
    """``"celery.canvas:_chain"`` -> the class; ``"celery._state"`` -> the module."""
    module_name, _, qualname = owner.partition(":")
    found: Any = importlib.import_module(module_name)
    for part in filter(None, qualname.split(".")):
        found = getattr(found, part)
    return found


def _channelless(qos_class: Any) -> Any:
    """A QoS of a stand-in channel: kombu sets its bookkeeping attributes in ``__init__``.

    The channel says "nothing to restore" to the finalizer kombu registers for exit.
    """
    from types import SimpleNamespace

    return qos_class(SimpleNamespace(do_restore=False))


#: Methods of ``celery.result`` classes that block until other tasks finish; each class
#: defines them itself (subclasses inherit the guarded version).
JOIN_METHODS: dict[str, tuple[str, ...]] = {
    "AsyncResult": ("get", "wait", "collect", "get_leaf"),
    "EagerResult": ("get", "wait"),
    "ResultSet": ("get", "join", "join_native", "iter_native"),
}

_GUARD = "guard"
_EMBEDDED = "embedded"
_WORKFLOWS = "workflows"
_TESTING = "testing"

#: Names ending in ``()`` must be defined by that very class (the guard wraps them there).
INTERNALS: tuple[Internal, ...] = (
    # The join guard: who runs in this thread, and which joins to wrap.
    Internal("celery._state", "_task_stack", _GUARD, "the per-thread stack of running tasks"),
    Internal("celery._state:_task_stack", "top", _GUARD, "the fast path: is any task running"),
    Internal("celery._state:_task_stack", "stack", _GUARD, "every running task, innermost last"),
    Internal("celery.app.task:Task", "request_stack", _GUARD, "a task's requests in this thread"),
    Internal("celery.app.task:Task", "_app", _GUARD, "the app a running task belongs to"),
    Internal("celery.app.task:Context", "called_directly", _GUARD,
             "a task called as a function does not count as running"),
    *(Internal(f"celery.result:{cls}", f"{method}()", _GUARD, "a blocking join to refuse")
      for cls, methods in JOIN_METHODS.items() for method in methods),
    Internal("celery.canvas:_chain", "apply()", _GUARD,
             "eager chains join by design: their frames are allowed"),
    Internal("celery.canvas:_chord", "apply()", _GUARD,
             "eager chords join by design: their frames are allowed"),
    Internal("celery.app.builtins", "add_unlock_chord_task", _GUARD,
             "celery.chord_unlock joins by design: its module's frames are allowed"),
    Internal("celery.app.task:Task", "on_replace()", _GUARD,
             "what a task replaced itself with is recorded there (trace follows it)"),
    # The embedded broker: kombu's SQLAlchemy transport, specialised.
    Internal("kombu.transport.sqlalchemy:Channel", "_open", _EMBEDDED, "the channel's engine"),
    Internal("kombu.transport.sqlalchemy:Channel", "queue_cls", _EMBEDDED, "the queue table"),
    Internal("kombu.transport.sqlalchemy:Channel", "message_cls", _EMBEDDED,
             "the message table"),
    Internal("kombu.transport.sqlalchemy:Channel", "_engine_from_config", _EMBEDDED,
             "SQLite engine options (WAL, lock timeout)"),
    *(Internal("kombu.transport.virtual:Channel", method, _EMBEDDED,
               "a virtual-transport hook the message store implements")
      for method in ("_new_queue", "_put", "_get", "_size", "_purge", "_restore")),
    Internal("kombu.transport.virtual:QoS", "_flush", _EMBEDDED, "before restoring unacked"),
    *(Internal("kombu.transport.virtual:QoS", attribute, _EMBEDDED, why, _channelless)
      for attribute, why in (
          ("_quick_ack", "drop a rejected message"),
          ("_delivered", "unacked deliveries to restore"),
          ("_dirty", "deliveries acked meanwhile"),
      )),
    Internal("celery.backends.database:DatabaseBackend", "_store_result", _EMBEDDED,
             "stores run in one locked SQLite transaction"),
    Internal("celery.backends.database:DatabaseBackend", "ResultSession", _EMBEDDED,
             "the session a store runs in"),
    Internal("celery.backends.database:DatabaseBackend", "fallback_chord_unlock", _EMBEDDED,
             "the first chord_unlock waits one retry interval"),
    Internal("celery.worker.state", "should_stop", _EMBEDDED, "a stopping worker drains less"),
    Internal("celery.worker.state", "should_terminate", _EMBEDDED,
             "a terminating worker drains less"),
    # Workflows: builders, validation and the in-process runner read canvases.
    Internal("celery.canvas", "_chain", _WORKFLOWS, "the class of a chain"),
    Internal("celery.canvas", "_chord", _WORKFLOWS, "the class of a chord (PendingChord)"),
    Internal("celery.canvas:Signature", "_type", _WORKFLOWS, "a signature's task object"),
    Internal("celery.canvas:Signature", "_app", _WORKFLOWS, "a signature's app"),
    Internal("celery.utils.functional", "head_from_fun", _WORKFLOWS,
             "tasks' __header__, which decides an error callback's arguments"),
    # The pytest plugin's in-process worker.
    Internal("celery._state", "_tls", _TESTING, "the current app, restored after a worker"),
    Internal("celery._state", "_set_current_app", _TESTING, "restore the current app"),
)


def missing(users: str | None = None) -> list[Internal]:
    """The internals (of one part, or all) the installed Celery/kombu lacks."""
    return [item for item in INTERNALS
            if (users is None or item.users == users) and not item.present()]


def require(users: str) -> None:
    """Raise :class:`CeleryInternalsError` naming every internal of ``users`` missing."""
    lacking = missing(users)
    if lacking:
        raise CeleryInternalsError(lacking)


def celery_version() -> tuple[int, int, int]:
    """The installed Celery's (major, minor, micro)."""
    import celery

    return tuple(int(part) for part in celery.VERSION[:3])  # type: ignore[return-value]


def worker_acks_between_drains(version: tuple[int, int, int] | None = None) -> bool:
    """Whether a worker on a polling transport (``synloop``) acks only between drains.

    Before 5.7 ``Consumer.call_soon`` queued a finished task's ack until the broker's
    ``drain_events`` returned; 5.7 acks at once (``call_soon_ack``). The embedded
    broker returns early while every prefetch slot is taken on the older ones: waiting
    out the worker's 2 s drain ran about one task a second through a busy queue (seen
    on 5.3.6: 200 tasks took 200 s in ``test_a_deleted_broker_file_stops_the_worker...``;
    tests/embedded/test_deferred_acks.py).
    """
    return (version or celery_version()) < (5, 7, 0)


def group_group_mislinks(version: tuple[int, int, int] | None = None) -> bool:
    """Whether this Celery links the step after ``group | group`` to each member (CSF209).

    Measured on real workers (Redis and the database backend) by
    ``test_what_csf209_prevents_a_step_run_once_per_member`` on every version of the
    matrix: Celery 5.3.6, 5.4.0, 5.5.3, 5.6.3 and 5.7.0 all do. A Celery newer than the
    matrix is assumed to behave like the newest tested one.
    """
    return (version or celery_version()) >= MISLINKS_SINCE


def chain_app_from_first_task(version: tuple[int, int, int] | None = None) -> bool:
    """Whether a chain made without ``app=`` finds its app through a leading chord.

    Before 5.7, ``chain(group, group, ...)`` (a chord first) sends with ``current_app``:
    the tasks' app only when it is the current one (CSF203 otherwise, as validated).
    """
    return (version or celery_version()) >= (5, 7, 0)


def redis_group_after_group_completes(version: tuple[int, int, int] | None = None) -> bool:
    """Whether ``chain(task, group, group)`` ever completes on the Redis result backend.

    Before 5.7 its result never arrives on Redis (the database backend, which polls with
    ``celery.chord_unlock``, completes it): measured by
    ``test_group_after_group_gets_the_list_in_each_member`` on every matrix version.
    """
    return (version or celery_version()) >= (5, 7, 0)


def namespace_reads_old_names(version: tuple[int, int, int] | None = None) -> bool:
    """Whether a configuration read under a namespace (Django's
    ``config_from_object("django.conf:settings", namespace="CELERY")``) honours Celery's
    old setting names (``CELERY_ROUTES``, ``BROKER_URL``, ``CELERY_ACKS_LATE``).

    Measured by ``test_django_settings_route_under_the_celery_namespace`` on every matrix
    version: Celery 5.7.0 routes by ``CELERY_ROUTES`` there; 5.3.6, 5.4.0, 5.5.3 and 5.6.3
    read none of the old names under a namespace (``app.conf.task_routes`` stays None), so
    such a setting does nothing. Without a namespace every version reads them.
    """
    return (version or celery_version()) >= (5, 7, 0)


def embedded_leases_hold(kombu_version: tuple[int, int] | None = None) -> bool:
    """Whether a live ``celery worker`` process keeps an embedded-broker task past
    ``visibility_timeout`` (the lease renewal of :mod:`celery_safe.embedded`).

    Measured by ``test_a_live_worker_keeps_a_task_longer_than_the_visibility_timeout``:
    with kombu 5.5 and later it does; with kombu 5.3 and 5.4 (Celery 5.3, 5.4) a worker
    process's task ran a second time after the timeout (an in-process worker renews
    fine): not understood yet, and a known defect there.
    """
    if kombu_version is None:
        import kombu

        major, minor = kombu.__version__.split(".")[:2]
        kombu_version = (int(major), int(minor))
    return kombu_version >= (5, 5)


def empty_chord_header_runs_body(version: tuple[int, int, int] | None = None) -> bool:
    """Whether ``chord([], body)`` runs the body at once with ``[]``.

    Measured by ``test_an_empty_chord_header_runs_the_body_with_an_empty_list`` on real
    workers, embedded backend and Redis: Celery 5.3.6, 5.4.0, 5.5.3, 5.6.3 and 5.7.0 all
    send the body with ``[]`` (``_chord.run``: "the body is executed immediately"). An
    empty header is therefore not a chord that never finishes, and no check reports it.
    """
    return (version or celery_version()) >= EMPTY_HEADER_RUNS_BODY_SINCE


def chord_orders_replaced_group(backend: str, version: tuple[int, int, int] | None = None) -> bool:
    """Whether a chord header part that replaces itself with a group (``Task.replace``)
    gives the body that group's results in the group's order (CSF212 where it does not).

    ``backend`` is ``"redis"`` (Celery's Redis backend, which gathers the header's
    values as they arrive), ``"embedded"`` (:mod:`celery_safe.embedded`) or anything
    else. Measured by ``test_a_header_part_replaced_by_a_group_joins_the_chord`` on real
    workers: on Celery 5.3.6, 5.4.0 and 5.5.3 the Redis backend hands the body the
    replacement group's results in the order they finished (``[[2, 3, 1], 11]`` for
    ``[[1, 2, 3], 11]``); 5.6.3 and 5.7.0 keep the group's order; the embedded backend
    keeps it on every version. Other backends
    are not measured, so the check assumes the order may be lost there. A part replaced
    by a chord gives the right value everywhere.
    """
    if backend == "embedded":
        return True
    if backend == "redis":
        return (version or celery_version()) >= REDIS_ORDERS_REPLACED_GROUPS_SINCE
    return False


def header_ignoring_results_reaches_body(backend: str) -> bool:
    """Whether a chord whose header part has ``ignore_result=True`` still runs its body
    with every part's value (CSF204 where it does not).

    Measured by ``test_a_header_part_ignoring_its_result`` on every matrix version:
    Celery's Redis backend collects each part's value for the chord whether or not the
    part stores its result, so the body runs with all of them; a backend that reads the
    stored results (the embedded backend, a database, a cache) waits for a result that is
    never stored: the body fails with ``ChordError`` after ``result_chord_join_timeout``
    (embedded) or never runs (``celery.chord_unlock`` polling forever).
    """
    return backend == "redis"


def header_values_expire(backend: str) -> bool:
    """Whether a chord's gathered header results expire ``result_expires`` after the last
    part finished, so that a part due later than that never lets the body run (CSF214).

    Measured by ``test_chord_header_part_due_after_result_expires_never_runs_the_body``
    (Redis, ``result_expires=2``, a part due 6 s after the other: the body never runs;
    the default expiry: it runs once) on Celery 5.3.6, 5.4.0, 5.5.3, 5.6.3 and 5.7.0.
    Celery's Redis backend sets the
    expiry of the chord's list and counter keys each time a part returns. The other
    backends were not measured, and are not judged.
    """
    return backend == "redis"


def errback_counts_partial_arguments(version: tuple[int, int, int] | None = None) -> bool:
    """Whether Celery decides how to call an error callback after binding its partial
    arguments (``backends/base.py``: ``_errback_arity_greater``).

    Before 5.7 a task whose header takes more than one positional argument is called
    in-process as ``(request, exc, traceback, *partial)``; 5.7 counts what is left once
    the signature's own arguments are bound, so ``def on_error(task_id, extra)`` linked
    as ``on_error.s("x")`` is sent as a task with the id first. Measured by
    ``test_an_error_callbacks_partial_arguments_decide_its_convention_from_5_7``.
    """
    return (version or installed_celery()) >= (5, 7, 0)


def errback_failure_stops_the_others(version: tuple[int, int, int] | None = None) -> bool:
    """Whether an error callback Celery calls in-process that raises (a ``TypeError`` from
    arguments that do not bind, an ``EncodeError`` from a chain sent the request) stops
    the failed task's other error callbacks.

    Before 5.7 ``_call_task_errbacks`` lets the exception out of its loop: the callbacks
    after it, and every one sent with the task id, never run, and the worker handles the
    failure again, so those before it run again (three times in all on 5.3.6 and 5.6.3);
    5.7 logs it and goes on. Measured by
    ``test_a_canvas_as_error_callback_gets_what_its_task_kind_decides``.
    """
    return (version or installed_celery()) < (5, 7, 0)


@functools.cache
def chain_or_chain_folds(version: tuple[int, int, int] | None = None) -> bool:
    """Whether ``chain | chain`` pipes the right chain's tasks in one by one, so that a group
    ending the left chain and a task after it become a chord.

    Before 5.5 Celery concatenates the two task lists as they are: ``chain(a, group(b, c),
    chain(d))`` keeps the group then ``d`` on 5.3.6 and 5.4.0, and makes them a chord on
    5.5.3 and later (seen by ``tests/canvas/test_parity.py``, which compares the linter's model with
    the canvas Celery builds, on every version of the matrix).
    """
    return (version or installed_celery()) >= (5, 5, 0)


def installed_celery() -> tuple[int, int, int]:
    """The installed Celery's version, read from its metadata (Celery is not imported:
    the linter asks too)."""
    found = _installed()
    return (99, 0, 0) if found is None else found  # none: the newest behaviour


@functools.cache  # why: a metadata lookup costs about a millisecond; the linter asks per file
def _installed() -> tuple[int, int, int] | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = version("celery")
    except PackageNotFoundError:  # not installed (or imported from a source tree)
        return None
    found = re.match(r"(\d+)\.(\d+)\.(\d+)", text)
    if found is None:  # a version string Celery never used
        return None
    return (int(found[1]), int(found[2]), int(found[3]))


#: The Celery minors celery-safe is tested on (``scripts/matrix.py``, the ``celery``
#: range of ``pyproject.toml``), oldest first: what a linter's target may name.
SUPPORTED_CELERY: tuple[tuple[int, int], ...] = ((5, 3), (5, 4), (5, 5), (5, 6), (5, 7))


class UnsupportedCelery(ValueError):
    """A target Celery version that is not one celery-safe is tested on, or not a version."""


def _supported_range() -> str:
    (major, low), (_, high) = SUPPORTED_CELERY[0], SUPPORTED_CELERY[-1]
    return f"{major}.{low}-{major}.{high}"


def target_celery(text: str | None = None) -> tuple[int, int, int]:
    """The Celery whose behaviour the linter models: ``"5.4"`` (or ``"5.4.2"``) for a
    project that deploys another Celery than the one it lints with, validated against
    :data:`SUPPORTED_CELERY`; ``None``: :func:`default_target`.

    A minor stands for its releases: every fact measured here changes at a minor.
    """
    if text is None:
        return default_target()
    # ASCII digits only, a few of them: int() reads fullwidth digits and fails past 4,300 digits
    found = re.fullmatch(r"\s*([0-9]{1,4})\.([0-9]{1,4})(?:\.([0-9]{1,6}))?\s*", str(text))
    if found is None:
        from .canvas.text import short_value  # why here: canvas imports this module

        shown = short_value(text)
        raise UnsupportedCelery(
            f"{shown} is not a Celery version: give a minor such as "
            f"\"{SUPPORTED_CELERY[-1][0]}.{SUPPORTED_CELERY[-1][1]}\" "
            f"(supported: {_supported_range()})"
        )
    major, minor = int(found[1]), int(found[2])
    if (major, minor) not in SUPPORTED_CELERY:
        raise UnsupportedCelery(
            f"Celery {major}.{minor} is not supported: celery-safe models Celery "
            f"{_supported_range()} (the versions it is tested on); name one of those"
        )
    return (major, minor, int(found[3] or 0))


def default_target() -> tuple[int, int, int]:
    """The installed Celery's version, or the newest supported one when Celery is not
    installed (a linter run in an environment of its own)."""
    found = _installed()
    if found is None:
        major, minor = SUPPORTED_CELERY[-1]
        return (major, minor, 0)
    return found


def chord_errback_runs(allow_on_header: bool, failed_parts: int) -> int:
    """How many times an error callback linked to a chord runs when ``failed_parts`` of
    its header fail.

    Measured by ``test_a_chord_error_callback_when_a_header_part_fails`` on every matrix
    version, embedded backend and Redis. The callback always runs once for the chord
    (the body fails with ``ChordError``): called as ``(request, exc, traceback)`` with the
    body's request, the ``ChordError`` and ``traceback=None``, or sent with the body's
    task id. With ``task_allow_error_cb_on_chord_header=True`` (read from the chord's app
    when ``link_error`` is called) Celery also links a copy to each header
    part, and it runs once more per failed part, with that part's request, exception and
    traceback text, or that part's id: the calling convention is the same either way.
    """
    return 1 + (failed_parts if allow_on_header else 0)


#: The first Celery release whose Redis backend keeps a replaced header part's group in order.
REDIS_ORDERS_REPLACED_GROUPS_SINCE: tuple[int, int, int] = (5, 6, 0)

#: ``chord([], body)`` runs the body with ``[]`` on every release of the matrix (5.3-5.7).
EMPTY_HEADER_RUNS_BODY_SINCE: tuple[int, int, int] = (5, 3, 0)

#: The first Celery release that links the step after ``group | group`` to each member
#: of the second group: every release of the matrix (5.3-5.7) does.
MISLINKS_SINCE: tuple[int, int, int] = (5, 3, 0)

