"""The replacement records the guard writes and the trace reads back: their shapes, the
tail Celery appends (the replaced task's own chain), and the words they are said in."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from wf_tasks import make_app

from celery_safe.replacements import shape
from celery_safe.workflows import task_names
from celery_safe.workflows.trace import _describe, _without_tail

leaf = st.builds(lambda n: {"task": f"t.{n}", "id": f"id-{n}"}, st.integers(0, 10**6))
shapes = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=4).map(lambda xs: {"group": xs}),
        st.lists(inner, min_size=2, max_size=4).map(lambda xs: {"chain": xs}),
        st.tuples(st.lists(inner, min_size=1, max_size=3), inner).map(
            lambda hb: {"chord": {"header": hb[0], "body": hb[1]}}),
    ),
    max_leaves=12,
)


@given(shapes)
def test_no_tail_changes_nothing(replacement: dict[str, Any]) -> None:
    assert _without_tail(replacement, 0) == replacement


@given(st.lists(leaf, min_size=1, max_size=5), st.lists(leaf, min_size=1, max_size=4))
def test_the_replaced_tasks_chain_is_cut_off(own: list[Any], tail: list[Any]) -> None:
    # Task.replace appends the rest of the replaced task's chain to its replacement.
    replacement = own[0] if len(own) == 1 else {"chain": own}
    appended = {"chain": [*(own if len(own) > 1 else [own[0]]), *tail]}
    assert _without_tail(appended, len(tail)) == replacement
    chord = {"chord": {"header": own, "body": appended}}
    cut = _without_tail(chord, len(tail))
    assert cut["chord"]["body"] == replacement and cut["chord"]["header"] == own


@given(shapes)
def test_every_shape_is_said_in_words(replacement: dict[str, Any]) -> None:
    words = _describe(replacement)
    assert words and "{" not in words and "t." not in words  # short names, no JSON


def test_a_frozen_canvas_names_every_task_and_says_it() -> None:
    from celery import chain, chord

    t = make_app()
    canvas = chain(t.const.si(), chord([t.inc.s(1), t.inc.s(2), t.inc.s(3)], t.tsum.s()))
    result = canvas.freeze()
    names = task_names(canvas)
    assert sorted(names.values()) == ["wf.const", "wf.inc", "wf.inc", "wf.inc", "wf.tsum"]
    assert names[result.id] == "wf.tsum"
    assert _describe(shape(canvas)) == "a chain: const, then a chord of 3 inc tasks, then tsum"
