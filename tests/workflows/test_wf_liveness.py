"""Chords that can never finish, measured on REAL workers on every Celery of the matrix.

Each test sends a canvas with Celery's own ``chord`` (no validation) to a worker on the
embedded backend and on Redis, and compares what happened with the version fact of
:mod:`celery_safe.celery_internals` that the checks rely on: the day a Celery release
behaves differently, the fact (and the check built on it) fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from celery import canvas as celery_canvas
from celery.exceptions import TimeoutError as CeleryTimeoutError
from wf_live import TIMEOUT, notes, started_on
from wf_tasks import make_app, read_notes

from celery_safe import celery_internals as facts
from celery_safe.workflows import validate

#: How long a chord that never finishes is given before it counts as stuck.
STUCK = 4.0
#: Sends of the replaced-group chord: the order a worker finishes tasks in is not fully
#: in a test's hands (a busy pool process), so where Celery loses the order it must
#: lose it in one of these (it did in 8 of 9 sends on 5.3-5.5), and where it keeps the
#: order, keep it in all.
REPLACED_ATTEMPTS = 3

pytestmark = pytest.mark.worker


@pytest.fixture(scope="module", params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def tasks(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimpleNamespace]:
    """Test tasks and a worker on the embedded backend, or on Redis (broker and results)."""
    yield from started_on(request, tmp_path_factory, "liveness")


@pytest.fixture(autouse=True)
def _fresh_notes(tasks: SimpleNamespace) -> None:
    tasks.notes.unlink(missing_ok=True)


def _backend(tasks: SimpleNamespace) -> str:
    return "redis" if str(tasks.conf["result_backend"]).startswith("redis") else "embedded"


def _outcome(result: Any, timeout: float = TIMEOUT) -> tuple[str, Any]:
    """("result", value), ("raises", exception type name), or ("stuck", None)."""
    try:
        return "result", result.get(timeout=timeout, interval=0.05)
    except CeleryTimeoutError:
        return "stuck", None
    except Exception as exc:  # what the chord's body failed with
        return "raises", type(exc).__name__


def test_an_empty_chord_header_runs_the_body_with_an_empty_list(tasks: SimpleNamespace) -> None:
    """CSF211's premise ("the body never runs, or Celery raises"), measured: false."""
    raw = celery_canvas.chord([], tasks.note.s())
    observed = _outcome(raw.apply_async())
    if facts.empty_chord_header_runs_body():
        assert observed == ("result", [])
        assert read_notes(tasks.notes) == [["body", []]]
    else:
        assert observed[0] != "result"


def test_a_header_part_replaced_by_a_group_joins_the_chord(tasks: SimpleNamespace) -> None:
    """CSF212's premise, measured: a header part replaces itself with a group whose
    members finish last to first."""
    raw = celery_canvas.chord([tasks.regroup.s(3), tasks.inc.s(10)], tasks.note.s())
    found = [p.code for p in validate(raw)]
    ordered = facts.chord_orders_replaced_group(_backend(tasks))
    assert found == ([] if ordered else ["CSF212"])
    seen = []
    for _ in range(REPLACED_ATTEMPTS):
        outcome, value = _outcome(raw.clone().apply_async())
        assert outcome == "result" and value[1] == 11 and sorted(value[0]) == [1, 2, 3]
        seen.append(value[0])
        if not ordered and value[0] != [1, 2, 3]:
            break
    if ordered:
        assert seen == [[1, 2, 3]] * REPLACED_ATTEMPTS
    else:  # the group's results in the order they finished: wrong data, silently
        assert seen[-1] != [1, 2, 3], seen


def test_a_header_part_replaced_by_a_chord_joins_the_chord(tasks: SimpleNamespace) -> None:
    raw = celery_canvas.chord([tasks.fan_out.s(3), tasks.inc.s(10)], tasks.note.s())
    assert _outcome(raw.apply_async()) == ("result", [6, 11])


def test_a_header_part_ignoring_its_result(tasks: SimpleNamespace) -> None:
    raw = celery_canvas.chord([tasks.quiet.s(1), tasks.inc.s(2)], tasks.note.s())
    found = [p.code for p in validate(raw)]
    reaches = facts.header_ignoring_results_reaches_body(_backend(tasks))
    observed = _outcome(raw.apply_async(), TIMEOUT if reaches else STUCK)
    if reaches:
        assert found == []
        assert observed == ("result", [1, 3])
    else:
        assert found == ["CSF204"]  # ChordError after result_chord_join_timeout, or never
        assert observed in (("raises", "ChordError"), ("stuck", None))
        assert read_notes(tasks.notes) == []


#: What each error callback notes: for the chord (the body's ChordError, no traceback)
#: and for a failed header part (its ValueError and traceback text).
ERRBACK_NOTES = {
    "note_error": (["errback", ["<body>", "ChordError", False]],
                   ["errback", ["<part>", "ValueError", True]]),
    "note_error_id": (["errback_id", ["<body>"]], ["errback_id", ["<part>"]]),
    "note_anything": (["errback_any", ["Context", "ChordError", "NoneType"]],
                      ["errback_any", ["Context", "ValueError", "str"]]),
}


@pytest.mark.parametrize("on_header", [False, True])
@pytest.mark.parametrize("errback", sorted(ERRBACK_NOTES))
def test_a_chord_error_callback_when_a_header_part_fails(
    tasks: SimpleNamespace, errback: str, on_header: bool
) -> None:
    """``task_allow_error_cb_on_chord_header`` decides how often the callback runs, not
    how it is called: the convention CSF208 checks holds for both."""
    client = make_app({**tasks.conf, "task_allow_error_cb_on_chord_header": on_header})
    raw = celery_canvas.chord([client.fail.s(1), client.inc.s(2)], client.note.s())
    raw.link_error(getattr(client, errback).s())
    assert validate(raw) == []
    result = raw.apply_async()
    assert _outcome(result)[0] == "raises"
    runs = facts.chord_errback_runs(on_header, failed_parts=1)
    noted = (
        json.dumps(notes(tasks, runs))
        .replace(result.id, "<body>")
        .replace(result.parent.results[0].id, "<part>")
    )
    for_chord, for_part = ERRBACK_NOTES[errback]
    expected = [for_chord, *[for_part] * (runs - 1)]
    assert sorted(map(json.dumps, json.loads(noted))) == sorted(map(json.dumps, expected))


def test_an_error_callbacks_partial_arguments_land_after_what_celery_passes(
    tasks: SimpleNamespace,
) -> None:
    """CSF208's premise for ``link_error=restore.s(backup)`` with ``def restore(*args)``:
    Celery calls an unbound ``*args`` errback in-process as ``(request, exc, traceback,
    backup)``, and sends a bound one as a task with ``(task_id, backup)``; either way
    ``backup`` is never the first argument (measured on every Celery the matrix runs)."""
    signature = tasks.fail.s(1)
    signature.link_error(tasks.note_args.s("backup-1"))
    signature.link_error(tasks.note_args_bound.s("backup-1"))
    assert [p.code for p in validate(signature)] == ["CSF208", "CSF208"]  # what it predicts
    result = signature.apply_async()
    assert _outcome(result)[0] == "raises"
    noted = {kind: value for kind, value in notes(tasks, 2)}
    assert noted["errback_args"][:2] == ["Context", "ValueError"]
    assert noted["errback_args"][3:] == ["backup-1"] and len(noted["errback_args"]) == 4
    assert noted["errback_args_bound"] == [result.id, "backup-1"]


def test_a_canvas_as_error_callback_gets_what_its_task_kind_decides(
    tasks: SimpleNamespace,
) -> None:
    """CSF208's premise for canvases given as ``link_error``: Celery calls a chain in the
    worker as ``chain(request, exc, traceback)`` (the built-in ``celery.chain`` takes
    ``*args``), which sends them to its first task: a mutable first task makes a message
    JSON cannot encode, and nothing of that chain runs; an immutable one runs the chain.
    A group (the bound ``celery.group``) is sent with the failed task's id, prepended to
    each member's arguments. Before 5.7 the chain's error also stops the callbacks after
    it and those sent with the id (the group)."""
    signature = tasks.fail.s(1)
    signature.link_error(
        celery_canvas.chain(tasks.note_args.si("first"), tasks.note_args_bound.si("next"))
    )
    signature.link_error(celery_canvas.group(tasks.note_error_id.s(), tasks.note_args.s()))
    signature.link_error(celery_canvas.chain(tasks.note_error_id.s(), tasks.note_args.si("lost")))
    found = validate(signature)
    assert [(p.code, p.task) for p in found] == [("CSF208", "wf.note_error_id")]
    result = signature.apply_async()
    assert _outcome(result)[0] == "raises"
    expected = [["errback_args", ["first"]], ["errback_args_bound", ["next"]]]
    if facts.errback_failure_stops_the_others():
        # the failure is handled again (three times on 5.3.6 and 5.6.3): the callbacks
        # before the one that raises run again; wait for all of them, compare distinct
        noted = notes(tasks, 3 * len(expected))
        assert sorted(set(map(json.dumps, noted))) == sorted(map(json.dumps, expected))
        return
    expected += [["errback_id", [result.id]], ["errback_args", [result.id]]]
    notes(tasks, len(expected))
    noted = notes(tasks, len(expected) + 1, timeout=STUCK)  # the lost chain never runs
    assert sorted(map(json.dumps, noted)) == sorted(map(json.dumps, expected))


def test_an_error_callbacks_partial_arguments_decide_its_convention_from_5_7(
    tasks: SimpleNamespace,
) -> None:
    """``link_error=note_id_and.s("x")`` with ``def note_id_and(task_id, extra)``: Celery
    5.3-5.6 choose by the task's parameters alone (two: called in-process as
    ``(request, exc, traceback, "x")``, a TypeError, so it never runs, nor do the error
    callbacks sent with the id); 5.7 counts what is left once the partial arguments are
    bound (one: sent with the task id first)."""
    signature = tasks.fail.s(1)
    signature.link_error(tasks.note_id_and.s("x"))
    signature.link_error(tasks.note_error_id.s())  # sent with the id
    counts = facts.errback_counts_partial_arguments()
    assert [p.code for p in validate(signature)] == ([] if counts else ["CSF208"])
    result = signature.apply_async()
    assert _outcome(result)[0] == "raises"
    expected: list[list[Any]] = []  # before 5.7 the TypeError stops the other one too
    if counts:
        expected = [["errback_id", [result.id]], ["errback_id_and", [result.id, "x"]]]
    assert counts != facts.errback_failure_stops_the_others()  # both changed in 5.7
    notes(tasks, len(expected))
    noted = notes(tasks, len(expected) + 1, timeout=STUCK)
    assert sorted(map(json.dumps, noted)) == sorted(map(json.dumps, expected))
