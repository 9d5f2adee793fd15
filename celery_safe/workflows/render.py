"""A workflow as a graph: Mermaid for Markdown, DOT for graphviz.

Nodes are task calls with short arguments; a solid edge carries a result into the next
step, a dotted edge only orders an immutable step (``.si()``, which ignores the result),
a red dashed edge leads to an error callback. Groups, chord headers and chords are
boxes (subgraphs / clusters).

    print(to_mermaid(chain(store.s(), clone.si(slugs), parse.si())))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from celery import Celery
from celery.canvas import Signature

from ..canvas.check import normalized_steps
from ..canvas.model import Chain, Chord, Group, Node, Step
from ..canvas.text import short_call
from .shapes import app_of
from .validate import describe

__all__ = ["Graph", "build_graph", "graph_of", "to_dot", "to_mermaid"]

EdgeKind = Literal["data", "order", "link", "error"]


@dataclass
class Box:
    """A subgraph: its label, its task nodes and the boxes nested in it."""

    id: str
    label: str
    nodes: list[str] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)


@dataclass
class Graph:
    """Task nodes (id -> label), boxes, and edges between node ids."""

    labels: dict[str, str] = field(default_factory=dict)
    root: Box = field(default_factory=lambda: Box("root", "workflow"))
    #: the model step behind each task node (for colours, states)
    steps: dict[str, Step] = field(default_factory=dict)
    edges: list[tuple[str, str, EdgeKind]] = field(default_factory=list)


#: A step's entry nodes (with whether each takes the incoming result) and its exit nodes.
_Ends = tuple[list[tuple[str, bool]], list[str]]


class _Builder:
    """Lays out the canvas model (a described canvas, or a :class:`~.trace.Trace`)."""

    def __init__(self, label: Callable[[Step], str]) -> None:
        self.graph = Graph()
        self.label = label
        self._count = 0

    def _id(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def connect(self, exits: list[str], entries: list[tuple[str, bool]], kind: EdgeKind) -> None:
        for source in exits:
            for target, takes_data in entries:
                edge_kind: EdgeKind = kind if kind != "data" or takes_data else "order"
                self.graph.edges.append((source, target, edge_kind))

    def add(self, node: Node | None, box: Box) -> _Ends:
        if node is None:
            return [], []
        if isinstance(node, Chord):
            ends = self.add_chord(node, box)
        elif isinstance(node, Chain):
            ends = self.add_chain(node, box)
        elif isinstance(node, Group):
            inner = Box(self._id("g"), "group")
            box.boxes.append(inner)
            ends = self.add_parallel(node.members, inner)
        else:
            assert isinstance(node, Step)
            name = self._id("t")
            self.graph.labels[name] = self.label(node)
            self.graph.steps[name] = node
            box.nodes.append(name)
            ends = ([(name, not node.immutable)], [name])
        if node.immutable and isinstance(node, (Chain, Chord)):
            ends = ([(entry, False) for entry, _ in ends[0]], ends[1])
        for callback in node.links:
            entries, _ = self.add(callback, box)
            self.connect(ends[1], entries, "link")
        for errback in node.errbacks:
            entries, _ = self.add(errback, box)
            self.connect(ends[1], [(entry, True) for entry, _ in entries], "error")
        return ends

    def add_parallel(self, members: Sequence[Node | None], box: Box) -> _Ends:
        entries: list[tuple[str, bool]] = []
        exits: list[str] = []
        for member in members:
            member_entries, member_exits = self.add(member, box)
            entries += member_entries
            exits += member_exits
        return entries, exits

    def add_chain(self, chain: Chain, box: Box) -> _Ends:
        entries: list[tuple[str, bool]] = []
        exits: list[str] = []
        for position, (_, step) in enumerate(normalized_steps(chain.steps, _exact_members)):
            step_entries, step_exits = self.add(step, box)
            if position == 0:
                entries = step_entries
            else:
                self.connect(exits, step_entries, "data")
            exits = step_exits
        return entries, exits

    def add_chord(self, chord: Chord, box: Box) -> _Ends:
        outer = Box(self._id("c"), "chord")
        header = Box(self._id("h"), "header")
        outer.boxes.append(header)
        box.boxes.append(outer)
        entries, exits = self.add_parallel(chord.header.members, header)
        if chord.body is None:
            return entries, exits
        body_entries, body_exits = self.add(chord.body, outer)
        self.connect(exits, body_entries, "data")
        return entries, body_exits


def _call_label(step: Step) -> str:
    return short_call(step.name, step.args or (), step.kwargs)


def _exact_members(node: Node | None) -> Sequence[Node | None] | None:
    return node.members if isinstance(node, Group) and node.exact else None


def build_graph(canvas: Signature, app: Celery | None = None) -> Graph:
    """The graph model both renderers print."""
    return graph_of(describe(canvas, app_of(canvas, app)), _call_label)


def graph_of(root: Node, label: Callable[[Step], str]) -> Graph:
    """The graph of a canvas model, each task node labelled by ``label``."""
    builder = _Builder(label)
    builder.add(root, builder.graph.root)
    return builder.graph


_MERMAID_EDGES: dict[EdgeKind, str] = {
    "data": "-->",
    "order": "-.->",
    "link": "-- link -->",
    "error": "-. on error .->",
}


def _mermaid_label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def to_mermaid(canvas: Signature, app: Celery | None = None) -> str:
    """The workflow as a Mermaid ``flowchart`` (paste into Markdown as ```mermaid)."""
    graph = build_graph(canvas, app)
    lines = ["flowchart LR"]

    def emit(box: Box, depth: int) -> None:
        pad = "    " * depth
        for node in box.nodes:
            lines.append(f"{pad}{node}[{_mermaid_label(graph.labels[node])}]")
        for inner in box.boxes:
            lines.append(f"{pad}subgraph {inner.id}[{_mermaid_label(inner.label)}]")
            emit(inner, depth + 1)
            lines.append(f"{pad}end")

    emit(graph.root, 1)
    for source, target, kind in graph.edges:
        lines.append(f"    {source} {_MERMAID_EDGES[kind]} {target}")
    return "\n".join(lines) + "\n"


_DOT_EDGES: dict[EdgeKind, str] = {
    "data": "",
    "order": " [style=dotted]",
    "link": ' [label="link"]',
    "error": ' [style=dashed, color=red, label="on error"]',
}


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(canvas: Signature, app: Celery | None = None) -> str:
    """The workflow as a graphviz ``digraph`` (``dot -Tpng`` draws it)."""
    graph = build_graph(canvas, app)
    lines = ["digraph workflow {", "    rankdir=LR;", "    node [shape=box];"]

    def emit(box: Box, depth: int) -> None:
        pad = "    " * depth
        for node in box.nodes:
            lines.append(f"{pad}{node} [label={_dot_quote(graph.labels[node])}];")
        for inner in box.boxes:
            lines.append(f"{pad}subgraph cluster_{inner.id} {{")
            lines.append(f"{pad}    label={_dot_quote(inner.label)};")
            emit(inner, depth + 1)
            lines.append(f"{pad}}}")

    emit(graph.root, 1)
    for source, target, kind in graph.edges:
        lines.append(f"    {source} -> {target}{_DOT_EDGES[kind]};")
    lines.append("}")
    return "\n".join(lines) + "\n"
