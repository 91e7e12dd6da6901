"""Geometry of the dashboard's two charts, drawn as inline SVG by ``web/_charts.html``.

No JavaScript and no charting library: each chart is a few dozen rectangles and lines whose
coordinates are computed here, so the page is complete when the server sends it (and a reader
with no browser plug-ins, or a screenshot, sees the same thing). Every mark carries a <title>
with its numbers, and the page repeats them in a table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

from dsr.service import ReplyDay, StoreRate

_NICE = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 365)


def nice_ceiling(value: float) -> int:
    """The smallest "round" axis maximum at or above ``value`` (days)."""
    for step in _NICE:
        if value <= step:
            return step
    return int(math.ceil(value / 100.0) * 100)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    late: bool
    whisker_top: float  # y of the longest reply that day
    deadline_y: float  # y of the median time allowed that day
    day: ReplyDay


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass
class ReplyChart:
    """Time to reply per local day (median bar, longest whisker) against the time allowed."""

    width: int = 860
    height: int = 260
    left: int = 44
    right: int = 12
    top: int = 14
    bottom: int = 34
    y_max: int = 10
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom

    @property
    def plot_right(self) -> int:
        return self.width - self.right


def reply_chart(days: list[ReplyDay], first: date, last: date) -> ReplyChart:
    """One slot per local day from ``first`` to ``last``; days without replies stay empty."""
    chart = ReplyChart()
    slots = (last - first).days + 1
    plot_w = chart.plot_right - chart.left
    plot_h = chart.plot_bottom - chart.top
    slot = plot_w / slots
    highest = max([d.max_days for d in days] + [d.median_allowed_days for d in days] + [1.0])
    chart.y_max = nice_ceiling(highest)

    def y(value: float) -> float:
        return round(chart.plot_bottom - plot_h * min(value, chart.y_max) / chart.y_max, 1)

    for d in days:
        index = (d.day - first).days
        if not 0 <= index < slots:
            continue
        x = chart.left + index * slot
        top = y(d.median_days)
        chart.bars.append(
            Bar(
                x=round(x + slot * 0.15, 1),
                y=top,
                width=round(max(slot * 0.7, 1.0), 1),
                height=round(chart.plot_bottom - top, 1),
                late=d.late > 0,
                whisker_top=y(d.max_days),
                deadline_y=y(d.median_allowed_days),
                day=d,
            )
        )
    step = chart.y_max / 5
    chart.y_ticks = [Tick(y(step * i), f"{step * i:g}") for i in range(6)]
    day = first
    while day <= last:
        if day.day in (1, 15):
            position = chart.left + ((day - first).days + 0.5) * slot
            chart.x_ticks.append(Tick(round(position, 1), day.strftime("%d/%m")))
        day += timedelta(days=1)
    return chart


@dataclass(frozen=True)
class StoreBar:
    store: StoreRate
    y: float
    failed_width: float
    retried_width: float


@dataclass
class StoreChart:
    """Each store's share of tasks that failed for good, and that needed a retry."""

    width: int = 860
    label_width: int = 120
    row: int = 30
    scale_max: float = 0.1  # the bar length that means this fraction of the store's tasks
    bars: list[StoreBar] = field(default_factory=list)

    @property
    def height(self) -> int:
        return self.row * len(self.bars) + 24

    @property
    def bar_width(self) -> int:
        return self.width - self.label_width - 260  # room for the figures to the right


def store_chart(stores: list[StoreRate]) -> StoreChart:
    """Bars scaled to the worst store (at least a 10 % scale, so 1 % does not fill the row)."""
    chart = StoreChart()
    worst = max([s.failed_rate + s.retried_rate for s in stores] + [0.1])
    chart.scale_max = min(1.0, math.ceil(worst * 10) / 10)
    for i, store in enumerate(stores):
        chart.bars.append(
            StoreBar(
                store=store,
                y=4 + i * chart.row,
                failed_width=round(chart.bar_width * store.failed_rate / chart.scale_max, 1),
                retried_width=round(chart.bar_width * store.retried_rate / chart.scale_max, 1),
            )
        )
    return chart
