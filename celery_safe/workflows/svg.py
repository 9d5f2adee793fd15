"""``to_svg(canvas_or_trace)``: a workflow, or what a sent one did, as one SVG document.

The picture needs nothing at view time: no script, no stylesheet or font from the
network. graphviz's ``dot`` lays it out where it is installed; otherwise the library's
own plain layout draws the same nodes and edges in columns. A traced step is coloured
by its state and labelled with its duration (when the backend kept both ends), its
retries and its error. Every text is escaped: task names and errors come from the
result backend and are not trusted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import defaultdict
from xml.sax.saxutils import escape, quoteattr

from celery import Celery
from celery.canvas import Signature

from ..canvas.model import Step
from ..canvas.text import short_name
from .render import Graph, build_graph, graph_of
from .trace import StepTrace, Trace

__all__ = ["STATE_COLOURS", "to_svg"]

#: Fill colour per state (a canvas that was not sent is white).
STATE_COLOURS = {
    "SUCCESS": "#c8e6c9",
    "FAILURE": "#ffcdd2",
    "REVOKED": "#cfd8dc",
    "RETRY": "#ffe0b2",
    "STARTED": "#fff9c4",
    "RECEIVED": "#fff9c4",
    "PROGRESS": "#fff9c4",
    "PENDING": "#eceff1",
    "REPLACED": "#bbdefb",
}
_EDGE_STYLES = {
    "data": "",
    "order": ' stroke-dasharray="2,3"',
    "link": "",
    "error": ' stroke="#c62828" stroke-dasharray="6,3"',
}


def to_svg(canvas_or_trace: Signature | Trace, app: Celery | None = None) -> str:
    """The SVG text of a canvas (``to_svg(chain(...))``) or of a trace (``to_svg(trace(r))``)."""
    if isinstance(canvas_or_trace, Trace):
        graph = graph_of(canvas_or_trace.root, _trace_label)
    else:
        graph = build_graph(canvas_or_trace, app)
    drawn = _with_dot(graph) if shutil.which("dot") else None
    return drawn if drawn is not None else _plain(graph)


def _trace_label(step: Step) -> str:
    info = step.origin
    if not isinstance(info, StepTrace):
        return short_name(step.name)
    parts = [short_name(info.task or info.id[:8]), info.state_word]
    if info.progress is not None:
        parts.append(f"{info.progress[0]:g}/{info.progress[1]:g}")
    if info.seconds is not None:
        parts.append(f"{info.seconds:.2f} s")
    if info.retries:
        parts.append(f"{info.retries} retries")
    if info.error:
        parts.append(info.error[:60])
    return "\n".join(parts)


def _fill(graph: Graph, node: str) -> str:
    info = graph.steps[node].origin if node in graph.steps else None
    return STATE_COLOURS.get(info.state, "#ffffff") if isinstance(info, StepTrace) else "#ffffff"


def _with_dot(graph: Graph) -> str | None:
    """graphviz's layout, or None when ``dot`` fails (then the plain layout draws it)."""
    lines = ["digraph workflow {", "rankdir=LR;", 'node [shape=box, style="rounded,filled"];']
    for node, label in graph.labels.items():
        text = label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines.append(f'{node} [label="{text}", fillcolor="{_fill(graph, node)}"];')
    for source, target, kind in graph.edges:
        style = {"order": " [style=dotted]", "error": " [style=dashed, color=red]"}
        lines.append(f"{source} -> {target}{style.get(kind, '')};")
    lines.append("}")
    try:
        done = subprocess.run(
            ["dot", "-Tsvg"],
            input="\n".join(lines),
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    svg = done.stdout[done.stdout.find("<svg") :]
    return svg if svg.startswith("<svg") else None


def _plain(graph: Graph) -> str:
    """Columns by depth (longest path from a start), one row per node of a column."""
    incoming: dict[str, list[str]] = defaultdict(list)
    for source, target, _ in graph.edges:
        incoming[target].append(source)
    depth: dict[str, int] = {}

    def column(node: str, seen: frozenset[str] = frozenset()) -> int:
        if node not in depth:
            before = [s for s in incoming[node] if s not in seen]
            depth[node] = 1 + max((column(s, seen | {node}) for s in before), default=-1)
        return depth[node]

    rows: dict[int, list[str]] = defaultdict(list)
    for node in graph.labels:
        rows[column(node)].append(node)
    width, height, gap_x, gap_y = 180, 64, 60, 24
    place = {
        node: (20 + col * (width + gap_x), 20 + row * (height + gap_y))
        for col, nodes in rows.items()
        for row, node in enumerate(nodes)
    }
    total_w = 40 + (max(rows, default=0) + 1) * (width + gap_x)
    total_h = 40 + max((len(n) for n in rows.values()), default=1) * (height + gap_y)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" '
        f'viewBox="0 0 {total_w} {total_h}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ]
    for source, target, kind in graph.edges:
        (x1, y1), (x2, y2) = place[source], place[target]
        out.append(
            f'<line x1="{x1 + width}" y1="{y1 + height // 2}" x2="{x2}" y2="{y2 + height // 2}" '
            f'stroke="#455a64"{_EDGE_STYLES[kind]} marker-end="url(#arrow)"/>'
        )
    for node, label in graph.labels.items():
        x, y = place[node]
        out.append(f"<g><title>{escape(label)}</title>")
        out.append(
            f'<rect x="{x}" y="{y}" width="{width}" height="{height}" rx="8" '
            f'fill={quoteattr(_fill(graph, node))} stroke="#37474f"/>'
        )
        for index, text in enumerate(label.split("\n")[:4]):
            out.append(f'<text x="{x + 8}" y="{y + 16 + 14 * index}">{escape(_clip(text))}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _clip(text: str, most: int = 28) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


#: Anything in an SVG that would fetch from the network or run (for the tests and callers).
UNSAFE = re.compile(r"<script|javascript:|xlink:href=\"http|href=\"http|@import|url\(http", re.I)
