from __future__ import annotations

from datetime import date, timedelta

import pytest

from tracker import charts


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (3, [0, 1, 2, 3]),
        (7, [0, 2, 4, 6, 8]),
        (101, [0, 50, 100, 150]),
        (333_333, [0, 100_000, 200_000, 300_000, 400_000]),
    ],
)
def test_nice_ticks_are_round_and_cover_the_maximum(maximum, ticks):
    assert charts.nice_ticks(maximum) == ticks


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (44.6, "45 s"),
        (200, "3 min 20 s"),
        (180, "3 min"),
        (4 * 3600 + 12 * 60 + 5, "4 h 12 min"),
        (2 * 86400 + 3 * 3600 + 59, "2 d 3 h"),
        (86400, "1 d"),
    ],
)
def test_humanize_seconds(seconds, text):
    assert charts.humanize_seconds(seconds) == text


def test_bar_chart_scales_segments_to_a_shared_axis():
    chart = charts.bar_chart(
        [
            charts.BarRow(
                "Alice", [charts.Segment("open", 3, ""), charts.Segment("closed", 1, "")], "4"
            ),
            charts.BarRow(
                "A very long name indeed, longer than the column",
                [charts.Segment("open", 2, "")],
                "2",
            ),
        ]
    )
    first, second = chart.rows
    assert first.segments[0].x == chart.plot_left
    assert first.segments[1].x == pytest.approx(
        first.segments[0].x + first.segments[0].width, abs=0.2
    )
    assert chart.ticks[-1].value == 4
    assert first.end_x == pytest.approx(chart.plot_right + 6, abs=0.2)
    assert second.segments[0].width == pytest.approx(first.segments[0].width * 2 / 3, abs=0.2)
    assert second.short_label.endswith("…")
    assert len(second.short_label) == charts.BAR_LABEL_CHARS
    assert second.y > first.y


def test_line_chart_labels_at_most_eight_periods_including_the_latest():
    start = date(2025, 12, 1)
    periods = [start + timedelta(days=i) for i in range(60)]
    chart = charts.line_chart(periods, {"created": ("Created", list(range(60)))})
    assert len(chart.x_ticks) <= charts.LINE_MAX_LABELS
    assert chart.x_ticks[-1].value == 59
    # The year is written where it changes.
    assert [t.text for t in chart.x_ticks if "," in t.text] == ["Dec 4, 2025", "Jan 5, 2026"]
    assert not chart.markers  # too many periods for markers to stay readable
    points = chart.series[0].points
    assert points[0].y == chart.plot_bottom
    assert points[-1].y < points[0].y
    assert chart.series[0].path.startswith(f"M{points[0].x:.1f},")
    assert chart.columns[10]["title"] == "Dec 11: 10 created"
