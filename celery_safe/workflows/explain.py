"""``explain(result)``: what a sent workflow is doing, and why, in words.

    sent = workflow.apply_async()
    print(explain(sent, app=app))   # "queued: 0 of 4 steps done. No worker is running..."

It reads the run's :func:`~celery_safe.workflows.trace` and asks the workers (a short
``inspect``; on the embedded broker, which carries no broadcast, each consumer's
doorbell) only when something is still to run. Every reason names the task it is about
and, where the linter has a rule for the cause, its code (``celery-safe explain CODE``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from celery import Celery
from celery.result import AsyncResult, ResultSet

from ..canvas.model import Chain, Group, Node, Step
from ..canvas.text import short_name
from ..celery_internals import header_ignoring_results_reaches_body
from ..replacements import REPLACED
from .counters import ChordCounter, chord_counter
from .trace import GroupTrace, StepTrace, Trace, trace
from .validate import _backend_kind

__all__ = ["Explanation", "Reason", "RunState", "explain"]

RunState = Literal["queued", "running", "succeeded", "failed", "stuck", "unknown"]

#: Reason kinds: what a reader or a program can branch on.
KINDS = frozenset({
    "no-worker", "no-consumer", "failed", "header-failed", "ignored-result", "expired",
    "chord-waiting", "revoked", "retrying", "retried", "replaced", "late-retry", "unknown",
})
#: How many messages of one Redis list are read looking for a task id.
REDIS_LOOK = 10_000
_WORKING = frozenset({"STARTED", "RECEIVED", "PROGRESS", "RETRY"})


@dataclass(frozen=True)
class Reason:
    """One thing that explains a run's state: ``kind`` (see ``KINDS``), the words, the
    lint code of its cause where one fits, and the task it is about."""

    kind: str
    message: str
    code: str | None = None
    task: str | None = None
    task_id: str | None = None

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]" if self.code else self.message

    def as_dict(self) -> dict[str, Any]:
        """The reason as JSON-ready data."""
        return {"kind": self.kind, "message": self.message, "code": self.code,
                "task": self.task, "task_id": self.task_id}


@dataclass(frozen=True)
class Explanation:
    """A run's state (``queued``/``running``/``succeeded``/``failed``/``stuck``, or
    ``unknown``: nothing is known about its id), its progress and the reasons for it;
    ``str()`` is the text a person reads."""

    state: RunState
    done: int
    total: int
    reasons: tuple[Reason, ...] = ()
    trace: Trace | None = field(default=None, compare=False, repr=False)

    @property
    def progress(self) -> tuple[int, int]:
        """``(steps done, steps)``."""
        return (self.done, self.total)

    @property
    def headline(self) -> str:
        """One line: "running: 5 of 12 steps done"."""
        if self.state == "unknown":
            return "unknown: the result backend has no record of this run"
        return f"{self.state}: {self.done} of {self.total} step{'s' * (self.total != 1)} done"

    def __str__(self) -> str:
        lines = [self.headline + "."]
        lines += [f"- {reason}" for reason in self.reasons]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data (``celery-safe why --format json``): ``state`` is the run's
        state in a person's words (``queued``/``running``/``succeeded``/``failed``/
        ``stuck``); Celery's own states are ``celery_state`` (the run's, as
        :attr:`Trace.state` says it) and each step's ``celery_state``."""
        steps = self.trace.steps if self.trace is not None else []
        return {
            "state": self.state,
            "celery_state": self.trace.state if self.trace is not None else None,
            "headline": self.headline,
            "progress": {"done": self.done, "total": self.total},
            "reasons": [reason.as_dict() for reason in self.reasons],
            "steps": [_step_dict(step) for step in steps],
        }


def explain(
    result: AsyncResult | ResultSet | Trace, app: Celery | None = None, *,
    timeout: float = 1.0,
    names: Mapping[str, str] | None = None,
) -> Explanation:
    """What the workflow ending in ``result`` is doing and why.

        print(explain(AsyncResult(task_id, app=app), app=app))

    ``timeout``: how long workers are given to answer ``inspect`` (asked only while a
    step is still to run); ``names`` as for :func:`~celery_safe.workflows.trace`. A
    :class:`Trace` already read (with ``app``) is explained without reading it again.
    """
    app = app or getattr(result, "app", None)
    if app is None:
        raise ValueError("explain(result, app): give the app whose backend the run used")
    traced = result if isinstance(result, Trace) else trace(result, app=app, names=names)
    return _Explainer(app, traced, timeout).explanation()


@dataclass
class _Explainer:
    app: Celery
    traced: Trace
    timeout: float
    reasons: list[Reason] = field(default_factory=list)
    stuck: bool = False

    def explanation(self) -> Explanation:
        steps = self.traced.steps
        # A step that replaced itself is done; one that stores no result (ignore_result)
        # stays PENDING for ever: it counts as done once the rest is.
        # A RETRY stored over its next attempt's end: the step ended so.
        overwritten = {s.id: s.ended.state for s in steps
                       if s.state == "RETRY" and s.ended is not None}
        states = {"SUCCESS" if s.state == REPLACED and s.ready
                  else overwritten.get(s.id, s.state) for s in steps
                  if not (s.state == "PENDING" and self.ignores_result(s))}
        self.replaced(steps)
        self.failures(steps)
        self.retries(steps)
        self.chords(self.traced.root)
        state: RunState
        if "FAILURE" in states or "REVOKED" in states:
            state = "failed"
        elif states == {"SUCCESS"}:
            state = "succeeded"
        else:
            self.workers(steps)
            started = any(s.state in _WORKING or s.ready for s in steps)
            nobody = any(r.kind in ("no-worker", "no-consumer") for r in self.reasons)
            unknown = not started and not self.stuck and self.unknown(steps)
            if unknown:
                state = "unknown"
                self.reasons = [unknown]
            elif not started and not self.stuck:
                state = "queued"  # waiting for a worker is what a queued run does
            elif self.stuck or nobody:
                state = "stuck"  # it will not finish as things stand
            else:
                state = "running"
        order = {"failed": 0, "header-failed": 0, "revoked": 0, "late-retry": 0,
                 "no-worker": 1,
                 "no-consumer": 1, "ignored-result": 1, "expired": 1}
        reasons = sorted(self.reasons, key=lambda r: order.get(r.kind, 2))
        return Explanation(state, self.traced.done + len(overwritten), self.traced.total,
                           tuple(reasons), self.traced)

    def add(self, kind: str, message: str, step: StepTrace | None = None,
            code: str | None = None) -> None:
        self.reasons.append(Reason(kind, message, code, _name(step) if step else None,
                                   step.id if step else None))

    # -- what each step did --------------------------------------------------------
    def replaced(self, steps: Sequence[StepTrace]) -> None:
        for step in steps:
            if step.state == REPLACED and step.ready:
                became = step.replaced_by or "another canvas"
                self.add("replaced", f"{_name(step)} replaced itself with {became}.", step)

    def failures(self, steps: Sequence[StepTrace]) -> None:
        headers = {s.id: body for s, body in _header_parts(self.traced.root)}
        broken = {body.id for part, body in headers.items()
                  if any(s.id == part and s.state == "FAILURE" for s in steps)}
        said: set[str] = set()
        for step in steps:
            if step.id in broken:
                continue  # the body of a chord whose part failed: said with that part
            if step.state == "FAILURE" and _header_deleted(step.error):
                # Measured (embedded backend): result cleanup deleted the saved header
                # with the parts' results; the last part found no chord to finish.
                name, kept = _chord_expiry(self.app)
                self.add("expired",
                         f"{_name(step)} did not run: the chord's results were deleted "
                         f"before its last part ended (celery.backend_cleanup deletes "
                         f"results older than {name}, {kept or 'its value '}here), so that "
                         f"part found no chord to finish and failed {_name(step)} with "
                         f"{step.error}.", step)
                continue
            if step.state == "REVOKED":
                self.add("revoked", f"{_name(step)} was revoked: it will not run.", step)
            elif step.state == "FAILURE":
                error = step.error or "an error the backend did not keep"
                if error in said:
                    continue  # a chain's later step, failed with the step before it
                said.add(error)
                body = headers.get(step.id)
                if body is not None:
                    what = short_name(body.task) if body.task else "the chord's body"
                    before = f"the chord before {what}" if body.task else "a chord"
                    self.add("header-failed",
                             f"{_name(step)}, a part of {before}, failed with {error}; "
                             f"{what} will not run.", step)
                else:
                    self.add("failed", f"{_name(step)} failed with {error}.", step)

    def retries(self, steps: Sequence[StepTrace]) -> None:
        scheduled: dict[str, str] | None = None
        for step in steps:
            if step.state == "RETRY" and step.ended is not None:
                end = step.ended
                moment = f" at {_stamp(end.at)}" if end.at else ""
                how, lost = ("succeeded", "the result is lost") if end.state == "SUCCESS" \
                    else (f"failed with {end.error or 'an error'}", "no attempt is left")
                self.add("late-retry",
                         f"{_name(step)} {how} on its retry {end.attempt}{moment}, but the "
                         f"attempt before stored its RETRY after that {end.state}: Celery "
                         f"shows RETRY for ever, and {lost}. A retry sent with "
                         f"countdown=0 can run, and end, on another pool process before the "
                         f"failed attempt stores its RETRY; give the retry a countdown.",
                         step)
            elif step.state == "RETRY":
                if scheduled is None and step.next_retry is None:
                    scheduled = self.scheduled()
                when = (scheduled or {}).get(step.id) or (
                    _stamp(step.next_retry) if step.next_retry else None)
                count = f" (retry {step.retries})" if step.retries else ""
                error = f" after {step.error}" if step.error else ""
                next_at = f"; the next attempt is due at {when}" if when else \
                    "; a worker holds its next attempt"
                self.add("retrying", f"{_name(step)} is being retried{count}{error}{next_at}.",
                         step)
            elif step.retries and step.ready:
                times = "once" if step.retries == 1 else f"{step.retries} times"
                self.add("retried", f"{_name(step)} was retried {times} before it "
                                    f"{'succeeded' if step.state == 'SUCCESS' else 'ended'}.",
                         step)

    def chords(self, root: Node | None) -> None:
        kind = _backend_kind(self.app.backend)
        for header, body in _chords(root):
            parts = list(_steps_of(header))
            body_step = _first_step(body)
            if body_step is None or body_step.ready or not parts:
                continue
            done = sum(1 for part in parts if part.ready)
            waiting = [part for part in parts if not part.ready]
            ignoring = [part for part in waiting if self.ignores_result(part)]
            if ignoring and not header_ignoring_results_reaches_body(kind):
                names = ", ".join(sorted({_name(p) for p in ignoring}))
                self.stuck = True
                self.add("ignored-result",
                         f"{names} ignores its result (ignore_result=True), and this result "
                         f"backend waits for every part of a chord to store one: "
                         f"{_name(body_step)} will never run.", ignoring[0], code="CSF204")
                continue
            group_id = header.origin.id if isinstance(header.origin, GroupTrace) else None
            counter = chord_counter(self.app, group_id) if group_id else None
            if counter is not None and counter.state == "gone" \
                    and (counter.counted is not None or waiting):
                # Measured (Redis, Celery 5.7): the size key expired with the parts'
                # results; a part ending later starts a count that never completes.
                self.stuck = True
                name, kept = _chord_expiry(self.app)
                self.add("expired",
                         f"{_name(body_step)} will never run: the chord's counter in Redis "
                         f"expired before its last part ended (Redis keeps it {kept}after a "
                         f"part ends: {name}), so parts that end later start a count that "
                         f"cannot complete ({done} of {len(parts)} parts show a result). "
                         f"Send the chord again, with {name} above the longest wait "
                         f"between its parts' ends.", body_step)
                continue
            if counter is not None and counter.state == "deleted":
                self.stuck = True  # measured: the last part fails the body (below)
                name, kept = _chord_expiry(self.app)
                self.add("expired",
                         f"{_name(body_step)} will not run: the chord's saved header was "
                         f"deleted with old results before its last part ended "
                         f"(celery.backend_cleanup deletes results older than {name}, "
                         f"{kept or 'its value '}here); when that part ends, it fails "
                         f"{_name(body_step)} with ChordError.", body_step)
                continue
            if any(p.state == "FAILURE" for p in parts):
                continue
            self.add("chord-waiting", _waiting(self.app, _name(body_step), done, len(parts),
                                               counter), body_step)

    def unknown(self, steps: Sequence[StepTrace]) -> Reason | None:
        """Why nothing is known about the run, when the backend keeps nothing for any of
        its steps and neither a worker nor a queue that can be read holds one of them
        (Celery says PENDING for a task waiting in a queue and for an id never sent
        alike); None when it is held, or the backend knows something."""
        if any(s.stored for s in steps):
            return None
        ids = [s.id for s in steps]
        where = self.holders(ids)
        if where is None:
            return None
        last = steps[-1]
        expires = _expires_of(self.app.conf.result_expires)
        kept = f"result_expires = {_seconds(expires)}" if expires else "result_expires"
        started = "" if self.app.conf.task_track_started else (
            "; or it runs now, and this app stores no state before a task ends "
            "(task_track_started is off)")
        return Reason("unknown",
                      f"Nothing is known about {last.id}: the result backend keeps no state "
                      f"for it, {where}. It was never sent, or it ended and its result "
                      f"expired ({kept}) and was forgotten{started}.",
                      task=short_name(last.task) if last.task else None, task_id=last.id)

    def holders(self, ids: Sequence[str]) -> str | None:
        """Where the runs' ids were looked for in vain, in words; None when a worker or a
        queue holds one of them (the run is queued)."""
        if _embedded_consumers(self.app) is not None:
            from celery_safe.embedded.transport import SQLiteChannel

            with self.app.connection_for_read() as conn:
                channel = conn.default_channel
                if isinstance(channel, SQLiteChannel) and any(
                        channel.store.carries(i) for i in ids):
                    return None
            return "and no message waiting in the embedded broker carries it"
        try:
            answers = self.app.control.inspect(timeout=self.timeout).query_task(*ids) or {}
        except Exception:  # the broker is down: nothing more can be said
            answers = {}
        if any(found for found in answers.values()):
            return None
        waiting = _redis_carries(self.app, ids)
        if waiting is True:
            return None
        if waiting is False:
            return "no worker holds it and no message waiting in Redis carries it"
        return ("and no worker holds it (a message waiting in this broker's queues cannot "
                "be read without taking it: it may also wait there)")

    def ignores_result(self, step: StepTrace) -> bool:
        task = self.app.tasks.get(step.task or "")
        return bool(getattr(task, "ignore_result", False))

    # -- who would run what is left ------------------------------------------------
    def workers(self, steps: Sequence[StepTrace]) -> None:
        waiting = [s for s in steps if s.state == "PENDING"]
        if not waiting:
            return
        consumers = _embedded_consumers(self.app)
        if consumers is not None:
            if consumers == 0:
                self.add("no-worker", "No worker is running: nothing consumes the embedded "
                                      "broker's queues, so no step can start.")
            return
        try:
            queues = self.app.control.inspect(timeout=self.timeout).active_queues()
        except Exception as exc:  # the broker is down: that is the reason
            self.add("no-worker", f"The workers cannot be asked ({type(exc).__name__}: "
                                  f"{exc}); no step can start while the broker is down.")
            return
        if not queues:
            self.add("no-worker", f"No worker is running: none answered within "
                                  f"{self.timeout:g} s, so no step can start.")
            return
        consumed = {str(q.get("name")) for found in queues.values() for q in found or []}
        missing: dict[str, StepTrace] = {}
        for step in waiting:
            queue = self.queue_of(step)
            if queue is not None and queue not in consumed:
                missing.setdefault(queue, step)
        for queue, step in missing.items():
            self.add("no-consumer",
                     f"No worker consumes the queue {queue!r} that {_name(step)} is routed "
                     f"to (the {len(queues)} running consume {', '.join(sorted(consumed))}).",
                     step)

    def queue_of(self, step: StepTrace) -> str | None:
        if not step.task:
            return None
        try:
            route = self.app.amqp.router.route({}, step.task)
        except Exception:  # routing by a function that needs the arguments: unknown
            return None
        queue = route.get("queue")
        name = getattr(queue, "name", queue)
        return str(name) if name else None

    def scheduled(self) -> dict[str, str]:
        """Task id -> ETA of every retry the workers hold (empty when none answers)."""
        try:
            answers = self.app.control.inspect(timeout=self.timeout).scheduled() or {}
        except Exception:
            return {}
        found: dict[str, str] = {}
        for entries in answers.values():
            for entry in entries or []:
                request = entry.get("request") or {}
                if request.get("id") and entry.get("eta"):
                    found[str(request["id"])] = _when(str(entry["eta"]))
        return found


def _step_dict(step: StepTrace) -> dict[str, Any]:
    return {
        "id": step.id, "task": step.task, "state": step.state_word,
        "celery_state": step.state, "retries": step.retries, "error": step.error,
        "finished": _utc(step.finished).isoformat() if step.finished else None,
        "next_retry": _utc(step.next_retry).isoformat() if step.next_retry else None,
        "replaced_by": step.replaced_by,
    }


def _embedded_consumers(app: Celery) -> int | None:
    """Live consumers on the embedded broker, or None for another broker (whose
    module, and SQLAlchemy, are then not imported)."""
    if "SQLiteTransport" not in str(app.conf.broker_transport or ""):
        return None
    from celery_safe.embedded import live_consumers

    return live_consumers(app)


def _redis_carries(app: Celery, ids: Sequence[str]) -> bool | None:
    """Whether a message waiting in one of the app's queues on a Redis broker carries
    one of ``ids``; None for another broker, or a list too long to read
    (``REDIS_LOOK`` messages)."""
    if not str(app.conf.broker_url or "").startswith(("redis://", "rediss://", "unix://")):
        return None
    names = {str(app.conf.task_default_queue)} | {str(q) for q in app.amqp.queues}
    wanted = [i.encode() for i in ids]
    complete = True
    try:
        with app.connection_for_read() as conn:
            channel = conn.default_channel
            client = channel.client
            for name in names:
                for priority in channel.priority_steps:
                    key = channel._q_for_pri(name, priority)
                    messages = client.lrange(key, 0, REDIS_LOOK - 1)
                    if any(w in m for m in messages for w in wanted):
                        return True
                    complete = complete and len(messages) < REDIS_LOOK
    except Exception:  # the broker is down, or not the Redis transport expected
        return None
    return False if complete else None


def _name(step: StepTrace) -> str:
    return short_name(step.task) if step.task else f"task {step.id[:8]}"


def _steps_of(node: Node | None) -> Iterator[StepTrace]:
    if isinstance(node, Step) and isinstance(node.origin, StepTrace):
        yield node.origin
    elif isinstance(node, Chain):
        for child in node.steps:
            yield from _steps_of(child)
    elif isinstance(node, Group):
        for member in node.members:
            yield from _steps_of(member)


def _first_step(node: Node | None) -> StepTrace | None:
    return next(iter(_steps_of(node)), None)


def _chords(node: Node | None) -> Iterator[tuple[Group, Node]]:
    """Every (header, body) in the trace: a group followed, in a chain, by a step."""
    if isinstance(node, Chain):
        for before, after in zip(node.steps, node.steps[1:], strict=False):
            if isinstance(before, Group) and after is not None:
                body = after.steps[0] if isinstance(after, Chain) and after.steps else after
                if body is not None:
                    yield before, body
        for child in node.steps:
            yield from _chords(child)
    elif isinstance(node, Group):
        for member in node.members:
            yield from _chords(member)


def _header_parts(node: Node | None) -> Iterator[tuple[StepTrace, StepTrace]]:
    for header, body in _chords(node):
        body_step = _first_step(body)
        if body_step is not None:
            for part in _steps_of(header):
                yield part, body_step


def _waiting(app: Celery, body: str, done: int, parts: int,
             counter: ChordCounter | None) -> str:
    """A chord body waiting for its parts, in words, with what its counter says."""
    said = f"{body} waits for the chord's parts: {done} of {parts} done"
    if counter is None:
        return said + "."
    if counter.state == "polling":
        attempt = f" (attempt {counter.retries})" if counter.retries else ""
        due = f"; its next check is due at {_stamp(counter.next_retry)}" \
            if counter.next_retry else ""
        every = f"{float(app.conf.result_chord_retry_interval):g} s"
        return (f"{said}; celery.chord_unlock is retrying{attempt}: it checks them every "
                f"{every} and sends {body} when all are{due}.")
    if counter.state == "fired" or (counter.state == "gone" and done == parts):
        return f"{said}; the chord's counter sent {body}, which waits for a worker."
    if counter.size is not None and counter.counted == counter.size:
        return (f"{said}; the chord's counter in {counter.where} has all {counter.size}: "
                f"{body} is being sent.")
    return (f"{said}; the chord's counter in {counter.where} has {counter.counted or 0} of "
            f"{counter.size}, and {body} runs when all are.")


def _header_deleted(error: str | None) -> bool:
    """A chord body failed because its saved header was gone when its last part ended
    (the message of the embedded backend's, and Celery's, ``ChordError``)."""
    return error is not None and error.startswith("ChordError: GroupResult ") \
        and error.endswith(" no longer exists")


def _chord_expiry(app: Celery) -> tuple[str, str]:
    """The setting that says how long a chord's parts' results (and Redis's counter) are
    kept, and its value ("2 s ", or "" when unset): Celery 5.7's ``result_chord_expires``
    when set, else ``result_expires``."""
    chord_setting = app.conf.get("result_chord_expires")
    value = getattr(app.backend, "chord_expires", None) if chord_setting else None
    name = "result_chord_expires" if chord_setting else "result_expires"
    expires = _expires_of(value if value else app.conf.result_expires)
    return name, f"{_seconds(expires)} " if expires else ""


def _expires_of(value: Any) -> dt.timedelta | None:
    if isinstance(value, dt.timedelta):
        return value if value.total_seconds() > 0 else None
    if isinstance(value, (int, float)) and value > 0:
        return dt.timedelta(seconds=value)
    return None


def _stamp(moment: dt.datetime) -> str:
    return _utc(moment).astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(delta: dt.timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds:g} s"


def _when(iso: str) -> str:
    try:
        moment = _utc(dt.datetime.fromisoformat(iso)).astimezone(dt.timezone.utc)
    except ValueError:
        return iso
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
