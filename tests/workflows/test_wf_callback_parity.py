"""The in-process runner calls callbacks and error callbacks as a REAL worker does, on
every Celery of the matrix.

Each test sends a canvas with Celery's own objects (no validation) to a worker, reads
what its ``note*`` tasks were called with, then runs the same canvas with
:func:`~celery_safe.workflows.run_workflow` in this process and compares: what is called,
with what, in what order, and what happens when one raises. The failed task's id differs
between the two runs and is compared as ``<id>``.

What a worker does (``backends/base.py: _call_task_errbacks``, measured here): the error
callbacks Celery calls in-process (a task whose header takes more than one positional
argument, or ``*args``, and is not bound; from 5.7 counted once the signature's own
arguments are bound) run first, in the order linked, called as ``errback(request, exc,
traceback)`` (the traceback as text; an immutable one gets only its own arguments); then
every other one is sent in one group with the failed task's id. Before 5.7 one that
raises stops the rest; 5.7 logs it and goes on. Link callbacks are all sent with the
result; one that fails stops nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from celery import canvas as celery_canvas
from celery.exceptions import TimeoutError as CeleryTimeoutError
from wf_live import TIMEOUT, notes, started_on
from wf_tasks import read_notes

from celery_safe import celery_internals as facts
from celery_safe.workflows import run_workflow

#: How long the worker is given to show it runs nothing more than expected.
QUIET = 4.0

pytestmark = pytest.mark.worker

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def tasks(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimpleNamespace]:
    """Test tasks and a worker on the embedded backend, or on Redis (broker and results)."""
    yield from started_on(request, tmp_path_factory, "callbacks")


def _ids_hidden(value: Any) -> Any:
    if isinstance(value, str) and _UUID.match(value):
        return "<id>"
    if isinstance(value, list):
        return [_ids_hidden(item) for item in value]
    return value


def _on_worker(tasks: SimpleNamespace, canvas: Any, count: int) -> list[Any]:
    """Send ``canvas``; the notes once ``count`` are written and nothing more comes."""
    tasks.notes.unlink(missing_ok=True)
    result = canvas.apply_async()
    try:
        result.get(timeout=TIMEOUT, interval=0.05, propagate=False)
    except CeleryTimeoutError:
        pass
    notes(tasks, count)
    return _ids_hidden(notes(tasks, count + 1, timeout=QUIET))


def _in_process(tasks: SimpleNamespace, canvas: Any) -> tuple[list[Any], Any]:
    """Run ``canvas`` with the runner: its notes, and the run (or what it raised)."""
    tasks.notes.unlink(missing_ok=True)
    try:
        outcome: Any = run_workflow(canvas, check=False)
    except Exception as exc:
        outcome = exc
    return _ids_hidden(read_notes(tasks.notes)), outcome


def _same_calls(worker: list[Any], runner: list[Any], in_process: int) -> None:
    """The first ``in_process`` notes in order (the worker calls them one by one), the
    rest in any order (sent: the worker's pool runs them in parallel). Before 5.7 the
    worker handles a failure whose error callback raised again, calling those before it
    again: the distinct calls are compared."""
    assert runner[:in_process] == worker[:in_process]
    rest = sorted(map(json.dumps, worker[in_process:]))
    if facts.errback_failure_stops_the_others():
        rest = sorted(set(rest))
    assert sorted(map(json.dumps, runner[in_process:])) == rest


def test_error_callbacks_in_process_first_in_order_then_the_sent_ones(
    tasks: SimpleNamespace,
) -> None:
    """Called in-process: ``note_args.s("a")`` (``*args``), ``note_error.s()`` (three
    parameters), ``note_args.si("c")`` (immutable: only its own argument); sent with the
    failed task's id: ``note_error_id.s()`` and the bound ``note_args_bound.s("b")``."""
    canvas = tasks.fail.s(1)
    for errback in (
        tasks.note_error_id.s(), tasks.note_args.s("a"), tasks.note_args_bound.s("b"),
        tasks.note_error.s(), tasks.note_args.si("c"),
    ):
        canvas.link_error(errback)
    worker = _on_worker(tasks, canvas, 5)
    runner, outcome = _in_process(tasks, canvas)
    assert isinstance(outcome, ValueError)
    assert worker[:3] == [
        ["errback_args", ["Context", "ValueError", "str", "a"]],
        ["errback", ["<id>", "ValueError", True]],
        ["errback_args", ["c"]],
    ]
    assert sorted(map(json.dumps, worker[3:])) == sorted(map(json.dumps, [
        ["errback_args_bound", ["<id>", "b"]], ["errback_id", ["<id>"]],
    ]))
    _same_calls(worker, runner, 3)


def test_an_error_callback_that_raises(tasks: SimpleNamespace) -> None:
    """``note_error.si()`` is called in-process with nothing (immutable), a TypeError:
    before 5.7 no other error callback runs, 5.7 goes on with the rest."""
    canvas = tasks.fail.s(2)
    for errback in (tasks.note_error.si(), tasks.note_args.s("after"), tasks.note_error_id.s()):
        canvas.link_error(errback)
    stops = facts.errback_failure_stops_the_others()
    worker = _on_worker(tasks, canvas, 0 if stops else 2)
    runner, outcome = _in_process(tasks, canvas)
    assert isinstance(outcome, ValueError)  # the task's own failure, not the callback's
    if stops:
        assert worker == []
    else:
        assert worker == [
            ["errback_args", ["Context", "ValueError", "str", "after"]], ["errback_id", ["<id>"]],
        ]
    _same_calls(worker, runner, 0 if stops else 1)


def test_link_callbacks_all_run_and_one_failing_stops_nothing(tasks: SimpleNamespace) -> None:
    """Every link gets the result; a failing one does not change the task's result or
    stop the others (they are all sent)."""
    canvas = tasks.add.s(1, 2)
    canvas.link(tasks.fail.s())
    canvas.link(tasks.note.s())
    canvas.link(celery_canvas.group(tasks.note.s(), tasks.note_args.s("g")))
    worker = _on_worker(tasks, canvas, 3)
    runner, outcome = _in_process(tasks, canvas)
    assert sorted(map(json.dumps, worker)) == sorted(map(json.dumps, [
        ["body", 3], ["body", 3], ["errback_args", ["int", "g"]],
    ]))
    assert sorted(map(json.dumps, runner)) == sorted(map(json.dumps, worker))
    assert not isinstance(outcome, Exception), outcome
    assert outcome.result == 3
    assert [step.task for step in outcome.trace if step.failed] == ["wf.fail"]


def test_a_chain_error_callback_is_called_in_process(tasks: SimpleNamespace) -> None:
    """(Last: before 5.7 the worker handles this failure again, later than the others'
    notes are read.) A chain is called in-process as ``chain(request, exc, traceback)``, which sends its
    first task those: with a mutable first task the message cannot be encoded (it raises,
    and before 5.7 stops the callbacks after it); an immutable one runs the chain."""
    canvas = tasks.fail.s(3)
    canvas.link_error(celery_canvas.chain(tasks.note_args.si("first"), tasks.note_args.si("next")))
    canvas.link_error(celery_canvas.chain(tasks.note_error_id.s(), tasks.note_args.si("lost")))
    canvas.link_error(tasks.note_args.s("last"))
    stops = facts.errback_failure_stops_the_others()
    expected = 2 if stops else 3
    worker = _on_worker(tasks, canvas, expected)
    runner, _ = _in_process(tasks, canvas)
    assert ["errback_args", ["first"]] in worker and ["errback_args", ["next"]] in worker
    assert (["errback_args", ["Context", "ValueError", "str", "last"]] in worker) is not stops
    # the chain's tasks are sent (run by the pool in any order), so compare as sets
    assert sorted(set(map(json.dumps, runner))) == sorted(set(map(json.dumps, worker)))
