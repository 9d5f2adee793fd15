"""Server-drawn SVG charts: no script, no external reference, text escaped by the writer.

The drawing uses only what :func:`registry.web.inline_svg` allows (shapes, text,
titles, presentation attributes), so the page can put it inline under its strict CSP.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

__all__ = ["growth_svg"]

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 24, 48
MAX_LABELS = 12
BAR_FILL = "#0b5cad"
AXIS = "#57606a"


def _element(parent: ElementTree.Element, tag: str, text: str | None = None,
             **attributes: Any) -> ElementTree.Element:
    node = ElementTree.SubElement(parent, tag, {k.replace("_", "-"): str(v)
                                                for k, v in attributes.items()})
    if text is not None:
        node.text = text
    return node


def _label_every(count: int) -> int:
    return max(1, -(-count // MAX_LABELS))


def growth_svg(months: list[dict[str, Any]], *, title: str = "Tasks per month") -> str:
    """A bar per month: the tasks there are at its end; each bar's title gives the change.

    ``months`` is a merged report's ``months`` (``month``, ``added``, ``removed``,
    ``total``), oldest first.
    """
    svg = ElementTree.Element("svg", {
        "xmlns": "http://www.w3.org/2000/svg", "width": str(WIDTH), "height": str(HEIGHT),
        "viewBox": f"0 0 {WIDTH} {HEIGHT}", "font-family": "sans-serif", "font-size": "12",
    })
    _element(svg, "title", title)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    highest = max((int(row["total"]) for row in months), default=0)
    scale = plot_h / highest if highest > 0 else 0.0
    axes = _element(svg, "g", stroke=AXIS, stroke_width=1)
    _element(axes, "line", x1=LEFT, y1=base, x2=LEFT + plot_w, y2=base)
    _element(axes, "line", x1=LEFT, y1=TOP, x2=LEFT, y2=base)
    for value, y in ((0, base), (highest, TOP)):
        _element(svg, "text", str(value), x=LEFT - 6, y=y + 4, text_anchor="end", fill=AXIS)
    if not months:
        _element(svg, "text", "no history yet", x=LEFT + plot_w / 2, y=TOP + plot_h / 2,
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
            _element(svg, "text", str(row["month"]), x=f"{x + slot / 2:.1f}", y=base + 16,
                     text_anchor="middle", fill=AXIS)
    return ElementTree.tostring(svg, encoding="unicode")
