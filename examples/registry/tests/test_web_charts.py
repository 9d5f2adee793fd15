"""The task-growth chart: round ticks, axis titles, the added and removed series."""

from __future__ import annotations

import itertools
import re

from hypothesis import given, settings
from hypothesis import strategies as st
from registry import web
from registry.charts import growth_svg, nice_ticks


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(min_value=0, max_value=10**9))
def test_ticks_are_round_and_cover_the_highest_value(highest: int) -> None:
    ticks = nice_ticks(highest)
    assert ticks[0] == 0 and ticks[-1] >= highest and len(ticks) <= 6
    if highest:
        step = ticks[1]
        assert all(b - a == step for a, b in itertools.pairwise(ticks))
        assert str(step).rstrip("0") in ("1", "2", "5")
        assert ticks[-2] < highest  # no tick wasted above the top


def test_the_chart_has_axis_titles_and_the_change_series() -> None:
    months = [{"month": "2023-01", "added": 5, "removed": 0, "total": 5},
              {"month": "2023-02", "added": 2, "removed": 3, "total": 4},
              {"month": "2023-03", "added": 0, "removed": 0, "total": 4}]
    svg = growth_svg(months)
    assert web.inline_svg(svg) is not None
    for title in ("Tasks at month end", "Changes", "Month"):
        assert f">{title}</text>" in svg
    for key, values in (("added", (5, 2, 0)), ("removed", (0, 3, 0))):
        group = re.search(rf'<g class="{key}"[^>]*>(.*?)</g>', svg, re.S)
        assert group and "<polyline" in group.group(1)
        dots = re.findall(r"<title>([^<]+)</title>", group.group(1))
        assert dots == [f"{m['month']}: {v} {key}" for m, v in zip(months, values, strict=True)]
    # The totals' round ticks, then the changes' axis: 0 and the largest change.
    labels = re.findall(r'text-anchor="end" fill="#57606a">(\d+)<', svg)
    assert labels == ["0", "1", "2", "3", "4", "5", "0", "5"]
