"""Server-drawn SVG charts: no script, no external reference, text escaped by the writer.

The drawing uses only what :func:`registry.web.inline_svg` allows (shapes, text,
titles, presentation attributes), so the page can put it inline under its strict CSP.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

__all__ = ["growth_svg", "nice_ticks"]

#: The totals' panel, then the changes' panel under it, sharing the months' axis.
LEFT, RIGHT, TOP, TOTALS_H, GAP, CHANGES_H = 72, 16, 16, 180, 20, 80
WIDTH, HEIGHT = 720, TOP + TOTALS_H + GAP + CHANGES_H + 40
MAX_LABELS = 12
BAR_FILL = "#0b5cad"
ADDED = "#1a7f37"
REMOVED = "#b42318"
AXIS = "#57606a"
GRID = "#d0d7de"


def _element(parent: ElementTree.Element, tag: str, text: str | None = None,
             **attributes: Any) -> ElementTree.Element:
    node = ElementTree.SubElement(parent, tag, {k.replace("_", "-"): str(v)
                                                for k, v in attributes.items()})
    if text is not None:
        node.text = text
    return node


def _label_every(count: int) -> int:
    return max(1, -(-count // MAX_LABELS))


def nice_ticks(highest: int, most: int = 5) -> list[int]:
    """Round tick values from 0 to at least ``highest``: at most ``most`` + 1 of them,
    a step of 1, 2 or 5 times a power of ten."""
    if highest <= 0:
        return [0]
    step = 1
    while True:
        for factor in (1, 2, 5):
            if -(-highest // (step * factor)) <= most:
                size = step * factor
                return list(range(0, -(-highest // size) * size + 1, size))
        step *= 10


def growth_svg(months: list[dict[str, Any]], *, title: str = "Tasks per month") -> str:
    """A bar per month: the tasks there are at its end; each bar's title gives the change.
    Under it, on the same months, two lines: the tasks added and removed each month.

    ``months`` is a merged report's ``months`` (``month``, ``added``, ``removed``,
    ``total``), oldest first.
    """
    svg = ElementTree.Element("svg", {
        "xmlns": "http://www.w3.org/2000/svg", "width": str(WIDTH), "height": str(HEIGHT),
        "viewBox": f"0 0 {WIDTH} {HEIGHT}", "font-family": "sans-serif", "font-size": "12",
    })
    _element(svg, "title", title)
    plot_w = WIDTH - LEFT - RIGHT
    base = TOP + TOTALS_H
    changes_top = base + GAP
    changes_base = changes_top + CHANGES_H
    ticks = nice_ticks(max((int(row["total"]) for row in months), default=0))
    scale = TOTALS_H / ticks[-1] if ticks[-1] > 0 else 0.0
    _axis_title(svg, "Tasks at month end", TOP + TOTALS_H / 2)
    _axis_title(svg, "Changes", changes_top + CHANGES_H / 2)
    grid = _element(svg, "g", **{"class": "grid"}, stroke=GRID, stroke_width=1)
    for value in ticks:
        y = base - value * scale
        if value:
            _element(grid, "line", x1=LEFT, y1=f"{y:.1f}", x2=LEFT + plot_w, y2=f"{y:.1f}")
        _element(svg, "text", str(value), x=LEFT - 6, y=f"{y + 4:.1f}", text_anchor="end",
                 fill=AXIS)
    axes = _element(svg, "g", stroke=AXIS, stroke_width=1)
    for top, bottom in ((TOP, base), (changes_top, changes_base)):
        _element(axes, "line", x1=LEFT, y1=bottom, x2=LEFT + plot_w, y2=bottom)
        _element(axes, "line", x1=LEFT, y1=top, x2=LEFT, y2=bottom)
    _element(svg, "text", "Month", x=LEFT + plot_w / 2, y=HEIGHT - 6, text_anchor="middle",
             fill=AXIS)
    if not months:
        _element(svg, "text", "no history yet", x=LEFT + plot_w / 2, y=TOP + TOTALS_H / 2,
                 text_anchor="middle", fill=AXIS)
        return ElementTree.tostring(svg, encoding="unicode")
    slot = plot_w / len(months)
    every = _label_every(len(months))
    bars = _element(svg, "g", **{"class": "bars"}, fill=BAR_FILL)
    for index, row in enumerate(months):
        total = max(int(row["total"]), 0)
        height = total * scale
        x = LEFT + index * slot
        bar = _element(bars, "rect", x=f"{x + slot * 0.15:.1f}", y=f"{base - height:.1f}",
                       width=f"{slot * 0.7:.1f}", height=f"{height:.1f}")
        _element(bar, "title", f"{row['month']}: {total} tasks (+{row['added']}, "
                               f"-{row['removed']})")
        if index % every == 0:
            _element(svg, "text", str(row["month"]), x=f"{x + slot / 2:.1f}",
                     y=changes_base + 16, text_anchor="middle", fill=AXIS)
    _changes(svg, months, slot, changes_top, changes_base)
    return ElementTree.tostring(svg, encoding="unicode")


def _axis_title(svg: ElementTree.Element, text: str, middle: float) -> None:
    _element(svg, "text", text, x=14, y=f"{middle:.1f}", text_anchor="middle", fill=AXIS,
             transform=f"rotate(-90 14 {middle:.1f})")


def _changes(svg: ElementTree.Element, months: list[dict[str, Any]], slot: float,
             top: float, base: float) -> None:
    """The added and removed lines, a dot per month with its title, and their legend."""
    highest = max(max(int(row["added"]), int(row["removed"])) for row in months)
    scale = (base - top) / highest if highest > 0 else 0.0
    for value, y in ((0, base), (highest, top)):
        _element(svg, "text", str(value), x=LEFT - 6, y=f"{y + 4:.1f}", text_anchor="end",
                 fill=AXIS)
    for key, colour, legend_x in (("added", ADDED, WIDTH - RIGHT - 130),
                                  ("removed", REMOVED, WIDTH - RIGHT - 60)):
        series = _element(svg, "g", **{"class": key}, fill=colour)
        points = []
        for index, row in enumerate(months):
            x = LEFT + index * slot + slot / 2
            y = base - max(int(row[key]), 0) * scale
            points.append(f"{x:.1f},{y:.1f}")
            dot = _element(series, "circle", cx=f"{x:.1f}", cy=f"{y:.1f}", r=3)
            _element(dot, "title", f"{row['month']}: {row[key]} {key}")
        _element(series, "polyline", points=" ".join(points), fill="none", stroke=colour,
                 stroke_width=2)
        _element(svg, "text", key, x=legend_x, y=top - 6, fill=colour, font_weight="bold")
