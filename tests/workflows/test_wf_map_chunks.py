"""``task.map(it)``, ``task.starmap(it)`` and ``task.chunks(it, n)`` on REAL workers, on
every Celery of the matrix: what each item gives the task, and what a parent's result
does to them in a chain. The canvas model (CSF201/CSF205) is built on these facts.

Celery's built-in tasks (``celery/app/builtins.py``): ``celery.map(task, it)`` calls the
task in the worker's process with each item as its one positional argument;
``celery.starmap`` splats each item; ``chunks`` is a group of ``celery.starmap`` over
slices of ``n`` items. The task's own partial arguments are dropped (the built-ins call
the task object, not the signature).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from celery import canvas as celery_canvas
from wf_live import TIMEOUT, started_on

from celery_safe.workflows import run_workflow, validate

pytestmark = pytest.mark.worker


@pytest.fixture(scope="module", params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def tasks(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimpleNamespace]:
    yield from started_on(request, tmp_path_factory, "maps")


def _outcome(canvas: Any) -> tuple[str, Any]:
    try:
        return "result", canvas.apply_async().get(timeout=TIMEOUT, interval=0.05)
    except Exception as exc:
        return "raises", f"{type(exc).__name__}: {exc}"


def _in_process(canvas: Any) -> tuple[str, Any]:
    try:
        return "result", run_workflow(canvas, check=False).result
    except Exception as exc:
        return "raises", f"{type(exc).__name__}: {exc}"


def test_what_each_item_gives_the_task(tasks: SimpleNamespace) -> None:
    """map: one positional argument per item; starmap: the item splatted; chunks: a list
    per slice of ``n`` items, each item splatted. The in-process runner agrees."""
    cases = [
        (tasks.inc.map([1, 2, 3]), ("result", [2, 3, 4])),
        (tasks.add.starmap([(1, 2), (3, 4)]), ("result", [3, 7])),
        (tasks.add.chunks([(1, 2), (3, 4), (5, 6)], 2), ("result", [[3, 7], [11]])),
    ]
    for canvas, expected in cases:
        assert validate(canvas) == []
        assert _outcome(canvas) == expected == _in_process(canvas)


def test_an_item_that_does_not_bind_fails_the_whole_map(tasks: SimpleNamespace) -> None:
    """The TypeError of the first item that does not bind is the map's (CSF205)."""
    for canvas, why in (
        (tasks.add.map([1, 2]), "add() missing 1 required positional argument: 'y'"),
        (tasks.inc.starmap([(1, 2)]), "inc() takes 1 positional argument but 2 were given"),
        (tasks.add.chunks([(1,), (2,)], 1), "add() missing 1 required positional argument"),
    ):
        assert [p.code for p in validate(canvas)] == ["CSF205"]  # what the model predicts
        state, error = _outcome(canvas)
        assert state == "raises" and error.startswith("TypeError") and why in error
        assert _in_process(canvas)[0] == "raises"


def test_in_a_chain_map_and_starmap_ignore_the_parents_result(tasks: SimpleNamespace) -> None:
    """``xmap``/``xstarmap`` are immutable signatures: a parent's result is not given to
    them (no CSF201), and the step after one gets its list."""
    for canvas, expected in (
        (celery_canvas.chain(tasks.add.s(1, 2), tasks.inc.map([1, 2])), [2, 3]),
        (celery_canvas.chain(tasks.add.s(1, 2), tasks.add.starmap([(1, 2)])), [3]),
        (celery_canvas.chain(tasks.inc.map([1, 2]), tasks.tsum.s()), 5),
    ):
        assert tasks.inc.map([1]).immutable
        assert validate(canvas) == []  # no CSF201: the parent's result is not given
        assert _outcome(canvas) == ("result", expected) == _in_process(canvas)


def test_chunks_after_a_task_in_a_chain_returns_no_values(tasks: SimpleNamespace) -> None:
    """``chunks`` is mutable, but the worker rebuilds it from its keyword arguments
    (``chunks.from_dict``), so the parent's result is dropped too; it then sends its
    group and returns that group's *result ids* (a ``GroupResult`` as a tuple), not the
    values: what follows gets ids. The runner gives the values (a known difference: it
    runs the chunks' group in place)."""
    canvas = celery_canvas.chain(tasks.add.s(1, 2), tasks.add.chunks([(1, 2)], 1))
    state, value = _outcome(canvas)
    assert state == "result"
    assert isinstance(value[0][0], str)  # ((group id, None), [...]): ids, not values
    assert _in_process(canvas) == ("result", [[3]])
