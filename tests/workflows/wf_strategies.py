"""Hypothesis strategies: random nested workflows of known-good tasks, with their answers.

A workflow is drawn as a plain tree, then built into a Celery canvas and evaluated in
pure Python, independently of the runner and of Celery:

    ("task", name, args, immutable) | ("chain", [tree...]) | ("group", [tree...])
    | ("chord", [tree...], body_tree)

Every tree is drawn for what it will receive — nothing, an int, or a list of ints — so
each task gets arguments it accepts: the workflow is valid by construction.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from celery import canvas as celery_canvas
from celery.canvas import Signature
from hypothesis import strategies as st

Tree = tuple[Any, ...]

#: Leaves per input kind: (task name, extra args, immutable).
_SMALL = st.integers(min_value=0, max_value=9)


@st.composite
def _leaf(draw: st.DrawFn, given: str) -> Tree:
    if given == "none":
        options = [
            ("task", "add", (draw(_SMALL), draw(_SMALL)), False),
            ("task", "inc", (draw(_SMALL),), False),
            ("task", "const", (), True),
        ]
    elif given == "int":
        options = [
            ("task", "inc", (), False),
            ("task", "add", (draw(_SMALL),), False),
            ("task", "const", (), True),
            ("task", "add", (draw(_SMALL), draw(_SMALL)), True),
        ]
    else:
        options = [
            ("task", "tsum", (), False),
            ("task", "count", (), False),
            ("task", "const", (), True),
        ]
    return draw(st.sampled_from(options))


@st.composite
def tree(draw: st.DrawFn, given: str = "none", depth: int = 3, want: str = "any") -> Tree:
    """A tree taking ``given`` ("none", "int", "list"); ``want="int"`` makes it return an int."""
    kinds = ["leaf"] if depth <= 0 else ["leaf", "chain", "group", "chord"]
    if want == "int":
        kinds = [kind for kind in kinds if kind != "group"]
    kind = draw(st.sampled_from(kinds))
    if kind == "leaf":
        return draw(_leaf(given))
    if kind == "group":
        members = draw(st.lists(tree(given, depth - 1, "int"), min_size=2, max_size=3))
        return ("group", members)
    if kind == "chord":
        header = draw(st.lists(tree(given, depth - 1, "int"), min_size=1, max_size=3))
        return ("chord", header, draw(tree("list", depth - 1, "int")))
    steps = [draw(tree(given, depth - 1))]
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        last = draw(tree(output_kind(steps[-1]), depth - 1))
        steps.append(last)
    if want == "int" and output_kind(steps[-1]) != "int":
        steps.append(draw(_leaf("list")))
    return ("chain", steps)


def output_kind(node: Tree) -> str:
    if node[0] == "task":
        return "int"
    if node[0] == "group":
        return "list"
    if node[0] == "chord":
        return output_kind(node[2])
    return output_kind(node[1][-1])


def evaluate(node: Tree, given: Any = None) -> Any:
    """What the workflow returns, computed without Celery."""
    if node[0] == "task":
        _, name, args, immutable = node
        call = tuple(args) if immutable or given is None else (given, *args)
        return _PURE[name](*call)
    if node[0] == "group":
        return [evaluate(member, given) for member in node[1]]
    if node[0] == "chord":
        return evaluate(node[2], [evaluate(member, given) for member in node[1]])
    value = given
    for step in node[1]:
        value = evaluate(step, value)
    return value


_PURE: dict[str, Any] = {
    "add": lambda x, y: x + y,
    "inc": lambda x: x + 1,
    "const": lambda: 1,
    "tsum": sum,
    "count": len,
}


def build(
    node: Tree, t: SimpleNamespace, *, tag: bool = False, kit: Any = celery_canvas
) -> Signature:
    """The canvas of a tree, made with ``kit``'s chain/group/chord (Celery's, or ours).

    ``tag`` marks each leaf's options with what it receives ("none", "int", "list").
    """
    return _build(node, t, "none" if tag else None, kit)


def _build(node: Tree, t: SimpleNamespace, given: str | None, kit: Any) -> Signature:
    if node[0] == "task":
        _, name, args, immutable = node
        task = getattr(t, name)
        sig: Signature = task.si(*args) if immutable else task.s(*args)
        if given is not None:
            sig.options["wf_given"] = given
        return sig
    if node[0] == "group":
        group: Signature = kit.group([_build(member, t, given, kit) for member in node[1]])
        return group
    if node[0] == "chord":
        header = [_build(member, t, given, kit) for member in node[1]]
        body = _build(node[2], t, "list" if given is not None else None, kit)
        chord: Signature = kit.chord(header, body)
        return chord
    steps = []
    current = given
    for step in node[1]:
        steps.append(_build(step, t, current, kit))
        current = output_kind(step) if current is not None else None
    chain: Signature = kit.chain(*steps)
    return chain


def leaves(sig: Signature, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Signature]]:
    """Every task signature of a built canvas with its position, read off the structure."""
    if isinstance(sig, celery_canvas._chord):
        found = []
        for index, member in enumerate(sig.tasks):
            found += leaves(member, (*path, "chord", "header", index))
        return found + leaves(sig.body, (*path, "chord", "body"))
    if isinstance(sig, celery_canvas._chain):
        found = []
        for index, step in enumerate(sig.tasks):
            found += leaves(step, (*path, "chain", index))
        return found
    if isinstance(sig, celery_canvas.group):
        found = []
        for index, member in enumerate(sig.tasks):
            found += leaves(member, (*path, "group", index))
        return found
    return [(path, sig)]


def list_code(canvas: Signature, path: tuple[Any, ...]) -> str:
    """The code for a step at ``path`` that cannot take the list it receives.

    Header results handed to a chord body (or to the step Celery makes one of, after a
    group) are CSF202. A step after a *chord* whose body ends in a group gets that
    chord's result, a list too, as a plain parent result: CSF201.
    """
    while True:  # what a group member, a header member or a chain's first step receives
        if path[-2:-1] == ("group",) or path[-3:-1] == ("chord", "header"):
            path = path[:-3] if path[-3:-1] == ("chord", "header") else path[:-2]
        elif path[-2:] == ("chain", 0):
            path = path[:-2]
        else:
            break
    if path[-2:-1] == ("chain",):
        previous = _at(canvas, path[:-2]).tasks[path[-1] - 1]
        return "CSF201" if isinstance(previous, celery_canvas._chord) else "CSF202"
    return "CSF202"


def _at(canvas: Signature, path: tuple[Any, ...]) -> Signature:
    """The part of a built canvas at ``path`` (as :func:`leaves` names positions)."""
    while path:
        if path[0] == "chord" and path[1] == "body":
            canvas, path = canvas.body, path[2:]
        elif path[0] == "chord":
            canvas, path = canvas.tasks[path[2]], path[3:]
        else:
            canvas, path = canvas.tasks[path[1]], path[2:]
    return canvas


def subtrees(node: Tree) -> list[Tree]:
    """``node`` and every composite (chain, group, chord) inside it, innermost first."""
    if node[0] == "task":
        return []
    inner = [*node[1], node[2]] if node[0] == "chord" else list(node[1])
    return [found for child in inner for found in subtrees(child)] + [node]


def celery_mislinks(node: Tree, t: SimpleNamespace) -> bool:
    """Whether Celery itself runs some part of ``node`` wrongly (CSF209), whatever its tasks.

    Each composite is checked as Celery builds it on its own: our builders validate every
    ``chain(...)`` as it is made, and Celery may restructure a nested chain once it is
    wrapped (``chain(chain(group, group, group), task)`` hides the inner CSF209 shape).
    Such trees are valid by construction here but not runnable; the property tests skip
    them, and CSF209 has tests of its own.
    """
    from celery_safe.workflows import validate

    return any(
        problem.code == "CSF209"
        for part in subtrees(node)
        for problem in validate(build(part, t))
    )
