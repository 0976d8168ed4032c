"""Geometry for the dashboard's SVG charts.

The charts are drawn on the server by plain templates (templates/tracker/charts/), so they
print, need no JavaScript and load nothing from elsewhere. This module turns report data into
coordinates; the templates only place them. Coordinates are in viewBox units: the SVG scales
to the width of its box.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

# --- Scales.


def nice_ticks(maximum: float, *, count: int = 5) -> list[int]:
    """Round tick values from 0 to at least `maximum`, at most `count` + 1 of them, in steps
    of 1, 2 or 5 times a power of ten, so axis labels read as round numbers."""
    if maximum <= 0:
        return [0, 1]
    raw_step = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw_step))
    # Counts are whole numbers: never a step below 1.
    step = max(1, int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)))
    top = math.ceil(maximum / step) * step
    return list(range(0, top + step, step))


def humanize_seconds(seconds: float | None) -> str:
    """A duration as people say it: "45 s", "3 min 20 s", "4 h 12 min", "2 d 3 h"."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


# --- Horizontal bars (optionally stacked).


@dataclass
class Segment:
    key: str  # CSS class suffix: the series, e.g. a status
    value: float
    title: str  # tooltip, and the text a reader of the SVG source gets
    x: float = 0
    width: float = 0


@dataclass
class BarRow:
    label: str
    segments: list[Segment]
    value_text: str
    y: float = 0
    text_y: float = 0
    end_x: float = 0
    short_label: str = ""


@dataclass
class Tick:
    value: float
    position: float
    text: str


@dataclass
class BarChart:
    width: float
    height: float
    label_width: float
    plot_left: float
    plot_right: float
    bar_height: float
    rows: list[BarRow]
    ticks: list[Tick] = field(default_factory=list)
    axis_top: float = 0
    axis_bottom: float = 0
    tick_y: float = 0


BAR_ROW = 30
BAR_THICKNESS = 18
BAR_LABEL_CHARS = 20


def bar_chart(
    rows: Iterable[BarRow],
    *,
    width: float = 540,
    label_width: float = 150,
    value_width: float = 56,
    axis: bool = True,
    label_chars: int = BAR_LABEL_CHARS,
) -> BarChart:
    """Lay out one bar per row, its segments side by side, against a shared scale that
    starts at zero. `value_width` is kept free after the longest bar for its value text.
    With `axis`, vertical grid lines and tick labels sit under the bars."""
    rows = list(rows)
    totals = [sum(s.value for s in row.segments) for row in rows]
    ticks = nice_ticks(max(totals, default=0)) if axis else []
    top_value = ticks[-1] if ticks else max(max(totals, default=0), 1)
    plot_left, plot_right = label_width + 8, width - value_width
    scale = (plot_right - plot_left) / top_value
    top = 8
    for index, row in enumerate(rows):
        row.y = top + index * BAR_ROW
        row.text_y = row.y + BAR_THICKNESS / 2 + 4  # baseline that centres 12px text
        x = plot_left
        for segment in row.segments:
            segment.x, segment.width = round(x, 1), round(segment.value * scale, 1)
            x += segment.value * scale
        row.end_x = round(x + 6, 1)
        row.short_label = (
            row.label
            if len(row.label) <= label_chars
            else row.label[: label_chars - 1].rstrip() + "…"
        )
    axis_top = top - 4
    axis_bottom = top + len(rows) * BAR_ROW - (BAR_ROW - BAR_THICKNESS) + 4
    height = axis_bottom + (22 if axis else 4)
    return BarChart(
        width=width,
        height=height,
        label_width=label_width,
        plot_left=plot_left,
        plot_right=plot_right,
        bar_height=BAR_THICKNESS,
        rows=rows,
        ticks=[Tick(v, round(plot_left + v * scale, 1), f"{v:,.0f}") for v in ticks],
        axis_top=axis_top,
        axis_bottom=axis_bottom,
        tick_y=axis_bottom + 15,
    )


# --- Lines over time.


@dataclass
class Point:
    x: float
    y: float
    value: int


@dataclass
class Series:
    key: str
    label: str
    points: list[Point]
    path: str = ""
    area: str = ""


@dataclass
class LineChart:
    width: float
    height: float
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    series: list[Series]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    columns: list[dict]  # one hover band per period: x, width, title
    markers: bool
    y_label_x: float = 0
    x_label_y: float = 0
    plot_height: float = 0


LINE_MAX_LABELS = 8
LINE_MAX_MARKERS = 45


def short_date(day: date, *, with_year: bool = False) -> str:
    text = f"{day:%b} {day.day}"
    return f"{text}, {day.year}" if with_year else text


def line_chart(
    periods: Sequence[date],
    values: dict[str, tuple[str, Sequence[int]]],
    *,
    width: float = 1080,
    height: float = 280,
    period_title=short_date,
    max_labels: int = LINE_MAX_LABELS,
) -> LineChart:
    """One line per series over the periods, on a shared zero-based scale.

    `values` maps a series key (its CSS class suffix) to its label and one value per period.
    """
    count = len(periods)
    plot_left, plot_right, plot_top, plot_bottom = 48, width - 16, 12, height - 30
    ticks = nice_ticks(max((v for _, vals in values.values() for v in vals), default=0), count=4)
    y_scale = (plot_bottom - plot_top) / ticks[-1]
    x_step = (plot_right - plot_left) / max(count - 1, 1)

    def x_at(index: int) -> float:
        return plot_left + (index * x_step if count > 1 else (plot_right - plot_left) / 2)

    series = []
    for key, (label, vals) in values.items():
        points = [
            Point(round(x_at(i), 1), round(plot_bottom - v * y_scale, 1), v)
            for i, v in enumerate(vals)
        ]
        path = " ".join(
            f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}" for i, p in enumerate(points)
        )
        area = (
            f"{path} L{points[-1].x:.1f},{plot_bottom} L{points[0].x:.1f},{plot_bottom} Z"
            if points
            else ""
        )
        series.append(Series(key, label, points, path, area))

    # At most `max_labels` labels, always including the latest period; the year is
    # written when it differs from the previous label's (or, on the first, from the last's).
    label_every = max(1, math.ceil(count / max_labels))
    x_ticks = []
    shown_year = periods[-1].year if periods else None
    for i, day in enumerate(periods):
        if (count - 1 - i) % label_every:
            continue
        x_ticks.append(
            Tick(i, round(x_at(i), 1), short_date(day, with_year=day.year != shown_year))
        )
        shown_year = day.year
    columns = [
        {
            "x": round(x_at(i) - x_step / 2, 1),
            "width": round(x_step, 1),
            "title": f"{period_title(day)}: "
            + ", ".join(f"{vals[i]:,} {label.lower()}" for label, vals in values.values()),
        }
        for i, day in enumerate(periods)
    ]
    return LineChart(
        width=width,
        height=height,
        plot_left=plot_left,
        plot_right=plot_right,
        plot_top=plot_top,
        plot_bottom=plot_bottom,
        series=series,
        y_ticks=[Tick(v, round(plot_bottom - v * y_scale, 1), f"{v:,.0f}") for v in ticks],
        x_ticks=x_ticks,
        columns=columns,
        markers=count <= LINE_MAX_MARKERS,
        y_label_x=plot_left - 8,
        x_label_y=plot_bottom + 20,
        plot_height=plot_bottom - plot_top,
    )
