"""Chains built from Python lists of signatures: the linter follows the list as Python does.

Real projects rarely write ``chain(a.s(), b.s())``; they build a list (``steps = [a.si()]``,
``steps.append(b.s())``, ``steps += [...]``, ``first + rest``, ``[*head, c.s()]``) and hand
it over (``chain(steps)``, ``chain(*steps)``). A step is checked against its neighbour
only where the list's order is known on every path: an item added in a loop or under an
``if``, a list handed to a call that may change it, or one known under two names, leaves
the order unknown and nothing is reported. The property test runs generated programs in
Python to find the list each path really builds, and compares.
"""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from celery_safe.lint import check_source

HEAD = """\
from celery import Celery, chain, group

app = Celery("x")


@app.task
def a():
    return 1


@app.task
def c(x):
    return x


def extend(steps):
    steps.append(a.si())

"""


def _codes(body: str) -> list[str]:
    source = HEAD + "\ndef build(flag, items):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    return [f.code for f in check_source(source) if f.code.startswith("CSF2")]


INVALID = {
    "append": "steps = [a.si()]\nsteps.append(a.s())\nchain(steps).delay()\n",
    "append then star": "steps = []\nsteps.append(a.si())\nsteps.append(a.s())\nchain(*steps)()\n",
    "extend": "steps = [a.si()]\nsteps.extend([c.s(), a.s()])\nchain(*steps).delay()\n",
    "augmented": "steps = [a.si()]\nsteps += [a.s()]\nchain(steps).apply_async()\n",
    "concatenation": "chain([a.si()] + [a.s()]).delay()\n",
    "starred display": "head = [a.si(), c.s()]\nchain([*head, c.s(1)]).delay()\n",
    "starred argument": "rest = [a.s()]\nchain(a.si(), *rest).delay()\n",
    "after a branch": "steps = [a.si(), a.s()]\nif flag:\n    print(flag)\nchain(steps).delay()\n",
}

VALID = {
    "appended under an if": "steps = [a.si()]\nif flag:\n    steps.append(a.s())\nchain(steps).delay()\n",
    "appended in a loop": "steps = [a.si()]\nfor _ in items:\n    steps.append(c.s())\n"
    "steps.append(a.si())\nchain(*steps).delay()\n",
    "inserted at the front": "steps = [c.s()]\nsteps.insert(0, a.si())\nchain(steps).delay()\n",
    "changed by a helper": "steps = [a.si()]\nextend(steps)\nsteps.append(c.s())\nchain(steps).delay()\n",
    "changed through an alias": "steps = [a.si()]\nsame = steps\nsame.append(a.si())\n"
    "steps.append(c.s())\nchain(steps).delay()\n",
    "comprehension tail": "chain([a.si()] + [c.s() for _ in items]).delay()\n",
    "a group of the list": "steps = [a.si()]\nsteps.append(a.si())\ngroup(steps).delay()\n",
    "a list that is returned": "if not items:\n    return []\nreturn chain(a.si(), c.s())\n",
}


@pytest.mark.parametrize("body", INVALID.values(), ids=INVALID.keys())
def test_a_list_known_in_order_is_checked_step_by_step(body: str) -> None:
    assert _codes(body) == ["CSF201"]


@pytest.mark.parametrize("body", VALID.values(), ids=VALID.keys())
def test_a_list_whose_order_is_not_known_everywhere_is_not_reported(body: str) -> None:
    assert _codes(body) == []


# -- the property: what Python builds decides -----------------------------------------
#: the signatures a step may be, and whether each fails when handed a parent's result
#: (``a`` takes nothing; ``c`` takes one argument; ``.si`` ignores what it is given)
SIGNATURES = {"a.si()": False, "c.s()": False, "a.s()": True, "c.s(1)": True}
PLAIN = ("append", "extend", "augmented", "concatenated")
OPS = (*PLAIN, "branch", "loop")


@st.composite
def programs(draw: st.DrawFn) -> tuple[list[tuple[str, list[str]]], bool]:
    ops = draw(
        st.lists(
            st.tuples(
                st.sampled_from(OPS), st.lists(st.sampled_from(list(SIGNATURES)), min_size=1, max_size=2)
            ),
            max_size=4,
        )
    )
    return ops, draw(st.booleans())


def _statements(ops: list[tuple[str, list[str]]], starred: bool) -> str:
    lines = ["steps = [a.si()]"]
    for op, sigs in ops:
        listed = "[" + ", ".join(sigs) + "]"
        match op:
            case "append":
                lines += [f"steps.append({s})" for s in sigs]
            case "extend":
                lines.append(f"steps.extend({listed})")
            case "augmented":
                lines.append(f"steps += {listed}")
            case "concatenated":
                lines.append(f"steps = steps + {listed}")
            case "branch":
                lines += ["if flag:", *(f"    steps.append({s})" for s in sigs)]
            case "loop":
                lines += ["for _ in items:", *(f"    steps.append({s})" for s in sigs)]
    lines.append("chain(*steps).delay()" if starred else "chain(steps).delay()")
    return "\n".join(lines) + "\n"


def _fails_on_every_path(ops: list[tuple[str, list[str]]]) -> bool:
    """Run the list-building code for each path (flag true/false, 0-2 loop items)."""
    verdicts = []
    for flag in (False, True):
        for count in (0, 1, 2):
            steps = ["a.si()"]
            for op, sigs in ops:
                times = {"branch": int(flag), "loop": count}.get(op, 1)
                steps += sigs * times
            verdicts.append(any(SIGNATURES[s] for s in steps[1:]))
    return all(verdicts)


@settings(max_examples=150, deadline=None, database=None)
@given(case=programs())
def test_reported_exactly_when_every_path_builds_a_failing_chain(
    case: tuple[list[tuple[str, list[str]]], bool],
) -> None:
    ops, starred = case
    reported = "CSF201" in _codes(_statements(ops, starred))
    if all(op in PLAIN for op, _ in ops):
        assert reported == _fails_on_every_path(ops)  # one path: the order is known
    else:
        assert not reported or _fails_on_every_path(ops)  # never on a path-dependent list
