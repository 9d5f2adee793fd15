"""Run a workflow in-process, as a worker would, for unit tests: no broker, no backend.

    run = run_workflow(chain(fetch.s(url), parse.s()))
    assert run.result == {...}
    assert run.task_names == ["proj.fetch", "proj.parse"]

Each task runs through ``Task.apply`` (Celery's tracer: signals, ``bind=True``,
resources, retries' bookkeeping) with :func:`celery_safe.guard` on, so a task that
waits for another task's result raises here as it would in production. Results flow
as Celery passes them: prepended to the next step unless it is immutable, a group
gives a list, a chord's body gets the list of its header's results. Arguments and
results go through the app's serializer, so a task returning a ``tuple`` hands its
successor a ``list`` and a ``set`` fails — as on a real worker.

Callbacks run as the installed Celery's worker runs them (``tests/workflows/
test_wf_callback_parity.py`` compares the two on every Celery of the matrix): every
``link`` gets the result (groups first when there are several) and one that fails stops
nothing; error callbacks that Celery calls in the worker's process (``errback_in_process``)
run first, in the order linked, as ``(request, exc, traceback_text, *own)`` (an
immutable one with its own arguments only), then the others with the failed task's id.
Before Celery 5.7 an error callback called in-process that raises stops the rest
(:func:`~celery_safe.celery_internals.errback_failure_stops_the_others`); a worker also
handles that failure again, running the callbacks before it again: the runner runs
them once. Callbacks that fail are in the trace (``failed=True``), not raised.
"""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from celery.app.task import Context
from celery.canvas import Signature
from celery.canvas import chunks as celery_chunks
from celery.exceptions import Ignore
from kombu import serialization

from ..canvas.problems import Path, WorkflowError, render_path
from ..celery_internals import errback_counts_partial_arguments, errback_failure_stops_the_others
from ..join_guard import guard
from .params import errback_in_process
from .shapes import (
    app_of,
    chain_steps,
    chord_header,
    group_members,
    is_chain,
    is_chord,
    is_group,
    link_errbacks,
    links,
)
from .validate import validate

__all__ = ["TaskRun", "WorkflowRun", "run_workflow"]


class _Replaced(Ignore):  # type: ignore[misc]  # celery is untyped
    """Raised by ``replace`` inside an in-process run: carries the replacement."""

    def __init__(self, signature: Signature) -> None:
        super().__init__("Replaced by new task")
        self.signature = signature


_dumps: Callable[..., tuple[str, str, Any]] = serialization.dumps
_loads: Callable[..., Any] = serialization.loads


@dataclass(frozen=True)
class TaskRun:
    """One task execution in a workflow run."""

    path: Path
    task: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    result: Any
    failed: bool = False
    #: it replaced itself (``Task.replace``); ``result`` is its replacement's
    replaced: bool = False

    @property
    def where(self) -> str:
        return render_path(self.path)


@dataclass
class WorkflowRun:
    """The final result of an in-process run, and every task that ran, in order."""

    result: Any
    trace: list[TaskRun] = field(default_factory=list)

    @property
    def task_names(self) -> list[str]:
        return [step.task for step in self.trace]

    @property
    def failures(self) -> list[TaskRun]:
        """The task executions that failed, callbacks' included (a callback's failure is
        not raised: on a worker it changes nothing for the task it follows)."""
        return [step for step in self.trace if step.failed]


def run_workflow(
    canvas: Signature,
    args: tuple[Any, ...] = (),
    *,
    app: Celery | None = None,
    check: bool = True,
    roundtrip: bool = True,
) -> WorkflowRun:
    """Execute ``canvas`` (called with ``args``) in this process; return its result and trace.

    ``check`` validates first (raising :class:`WorkflowError`; the result backend is not
    needed in-process, so CSF203 is not reported). ``roundtrip`` passes arguments and
    results through each task's serializer. A failing task runs its error callbacks,
    then its exception propagates; a callback that fails is in the trace only.
    """
    app = app_of(canvas, app)
    if check:
        problems = validate(canvas, app=app, args=tuple(args), ignore={"CSF203"})
        if problems:
            raise WorkflowError(problems, "workflow")
    guard(app)
    runner = _Runner(app, roundtrip)
    result = runner.run(canvas, (), tuple(args) or None)
    return WorkflowRun(result, runner.trace)


class _Runner:
    def __init__(self, app: Celery, roundtrip: bool) -> None:
        self.app = app
        self.roundtrip = roundtrip
        self.trace: list[TaskRun] = []
        #: The request of the last task that failed, for its composite's error callbacks.
        self.failure: Context | None = None

    def run(self, sig: Signature, path: Path, received: tuple[Any, ...] | None) -> Any:
        if isinstance(sig, celery_chunks):
            # ``celery.chunks`` sends its group from the worker: run that group here, and
            # as a worker rebuilds chunks from its keywords, without what it received
            return self.run(sig.group(), path, None)
        if not (is_chord(sig) or is_chain(sig) or is_group(sig)):
            return self.run_task(sig, path, received)
        try:
            if is_chord(sig):
                result = self.run_chord(sig, path, received)
            elif is_chain(sig):
                result = self.run_chain(sig, path, received)
            else:
                result = [
                    self.run(member, (*path, "group", index), received)
                    for index, member in enumerate(group_members(sig, self.app))
                ]
        except Exception as exc:
            if self.failure is not None and link_errbacks(sig):
                self.run_errbacks(sig, path, self.failure, exc)
            raise
        self.run_links(sig, path, result)
        return result

    def run_links(self, sig: Signature, path: Path, result: Any) -> None:
        """``sig``'s callbacks, each sent with ``result`` as a worker sends them: several
        go as a group after the groups among them; one that fails stops nothing."""
        callbacks = list(enumerate(links(sig)))
        if len(callbacks) > 1:
            callbacks.sort(key=lambda item: not is_group(item[1]))
        for index, callback in callbacks:
            self.sent(callback, (*path, "link", index), (result,))

    def sent(self, sig: Signature, path: Path, received: tuple[Any, ...]) -> None:
        """Run a canvas a worker sends on its own: its failure is its own (in the trace)."""
        try:
            self.run(sig, path, received)
        except Exception:  # why not raised: nothing waits for a callback on a worker
            return

    def run_chain(self, sig: Signature, path: Path, received: tuple[Any, ...] | None) -> Any:
        incoming = None if sig.immutable else received
        result: Any = None
        for index, step in chain_steps(sig, self.app):
            result = self.run(step, (*path, "chain", index), incoming)
            incoming = (result,)
        return result

    def run_chord(self, sig: Signature, path: Path, received: tuple[Any, ...] | None) -> Any:
        incoming = None if sig.immutable else received
        results = [
            self.run(member, (*path, "chord", "header", index), incoming)
            for index, member in enumerate(chord_header(sig, self.app))
        ]
        if sig.body is None:
            return results
        return self.run(sig.body, (*path, "chord", "body"), (results,))

    def _task(self, sig: Signature) -> Any:
        task = sig._type or (sig._app or self.app).tasks[sig.task]
        app = getattr(task, "app", None)
        if isinstance(app, Celery):
            guard(app)
        return task

    def _serializer(self, task: Any, sig: Signature) -> str:
        name: str = (
            sig.options.get("serializer")
            or getattr(task, "serializer", None)
            or self.app.conf.task_serializer
        )
        return name

    def _through(self, value: Any, serializer: str) -> Any:
        if not self.roundtrip:
            return value
        content_type, encoding, data = _dumps(value, serializer=serializer)
        return _loads(data, content_type, encoding, accept=None)

    def run_task(
        self, sig: Signature, path: Path, received: tuple[Any, ...] | None
    ) -> Any:
        task = self._task(sig)
        serializer = self._serializer(task, sig)
        if received and not sig.immutable:
            args: tuple[Any, ...] = (*received, *sig.args)
        else:
            args = tuple(sig.args)
        kwargs = dict(sig.kwargs)
        if self.roundtrip:
            args, kwargs = self._through((args, kwargs), serializer)
            args = tuple(args)
        task_id = str(uuid.uuid4())
        outcome = self._apply(task, args, kwargs, task_id)
        if isinstance(outcome.result, _Replaced):
            # As on a worker: the task ends here and its replacement's result is its own,
            # handed to what follows it (links, the next step of a chain).
            replacement = outcome.result.signature
            result = self.run(replacement, (*path, "replaced"), None)
            self.trace.append(TaskRun(path, sig.task, args, kwargs, result, replaced=True))
            self.run_links(sig, path, result)
            return result
        if outcome.failed():
            exc = outcome.result
            self.trace.append(TaskRun(path, sig.task, args, kwargs, exc, failed=True))
            self.failure = Context(id=task_id, task=sig.task, args=args, kwargs=kwargs)
            self.run_errbacks(sig, path, self.failure, exc)
            raise exc
        result = self._through(outcome.result, serializer)
        self.trace.append(TaskRun(path, sig.task, args, kwargs, result))
        self.run_links(sig, path, result)
        return result

    def call_directly(
        self, sig: Signature, path: Path, received: tuple[Any, ...]
    ) -> None:
        """``sig(*received)`` as a worker calls an error callback: in this process, no
        message (nothing serialized), no callbacks of its own; raises what it raises."""
        task = self._task(sig)
        args = tuple(sig.args) if sig.immutable else (*received, *sig.args)
        kwargs = dict(sig.kwargs)
        outcome = self._apply(task, args, kwargs, str(uuid.uuid4()))
        failed = outcome.failed() or isinstance(outcome.result, _Replaced)
        self.trace.append(TaskRun(path, sig.task, args, kwargs, outcome.result, failed=failed))
        if failed:
            raise outcome.result

    def _apply(self, task: Any, args: tuple[Any, ...], kwargs: dict[str, Any], task_id: str) -> Any:
        """``task.apply`` with ``self.replace(sig)`` ending the task as a worker sees it
        (Celery's eager ``replace`` would join the replacement inside the task)."""

        def replace(signature: Signature) -> None:
            raise _Replaced(signature)

        task.replace = replace
        try:
            return task.apply(args, kwargs, task_id=task_id, throw=False)
        finally:
            del task.replace

    def in_process(self, errback: Signature) -> bool:
        """Does a worker call ``errback`` in its own process (not send it)? A chain is
        the built-in ``celery.chain`` task, which takes ``*args``: called; a group or a
        chord (bound built-ins): sent."""
        if is_group(errback) or is_chord(errback):
            return False
        if is_chain(errback):
            return True
        try:
            task = self._task(errback)
        except KeyError:  # not registered here: a worker sends it on for another worker
            return False
        return errback_in_process(task, errback, errback_counts_partial_arguments())

    def run_errbacks(
        self, sig: Signature, path: Path, request: Context, exc: BaseException
    ) -> None:
        """Call ``sig``'s error callbacks the way the installed Celery does for the failed
        ``request`` (``backends/base.py``: ``_call_task_errbacks``)."""
        errbacks = [(index, errback, self.in_process(errback))
                    for index, errback in enumerate(link_errbacks(sig))]
        text = "".join(traceback.format_exception(exc))
        for index, errback, called in errbacks:
            if not called:
                continue
            try:
                self.call_errback(errback, (*path, "link_error", index), (request, exc, text))
            except Exception:
                if errback_failure_stops_the_others():
                    return  # before 5.7 the exception leaves Celery's loop
        for index, errback, called in errbacks:
            if not called:
                self.sent(errback, (*path, "link_error", index), (request.id,))

    def call_errback(self, errback: Signature, path: Path, received: tuple[Any, ...]) -> None:
        """An error callback called in the worker: a task directly; a chain sends its
        tasks, the first with ``received`` (unless immutable): raises when that message
        cannot be made, and what its tasks do then is their own."""
        if not is_chain(errback):
            self.call_directly(errback, path, received)
            return
        ran = len(self.trace)
        try:
            self.run(errback, path, received)
        except Exception:
            if len(self.trace) == ran:  # nothing ran: the first message was never sent
                raise
