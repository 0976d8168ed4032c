"""The reports dashboard: four reports, each drawn as a server-side SVG chart with its
numbers in a table, in a fixed number of queries whatever the data."""

from __future__ import annotations

from datetime import date, timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from tracker import charts, reports
from tracker.models import Issue

TOP_ASSIGNEES = 10
SERIES_LABELS = {"created": "Created", "resolved": "Resolved"}
# A phone gets its own, narrower drawing of each chart (shown instead of the wide one by
# reports.css), so its text keeps a readable size without scrolling sideways: the bars with
# shorter names, the series over its latest periods only (the table below has them all).
NARROW = {"width": 320, "label_width": 108, "value_width": 44, "label_chars": 12}
NARROW_PERIODS = {"day": 14, "week": 8}
NARROW_LABELS = 4


def _assignee_chart(rows: list[dict], **layout) -> charts.BarChart:
    return charts.bar_chart(
        (
            charts.BarRow(
                label=row["name"],
                value_text=f"{row['total']:,}",
                segments=[
                    charts.Segment(
                        status,
                        row[status],
                        f"{row['name']}: {row[status]:,} {Issue.Status(status).label.lower()}",
                    )
                    for status in reports.STATUSES
                ],
            )
            for row in rows
        ),
        **layout,
    )


def _status_chart(counts: dict[str, int], **layout) -> charts.BarChart:
    return charts.bar_chart(
        (
            charts.BarRow(
                label=Issue.Status(status).label,
                value_text=f"{count:,}",
                segments=[
                    charts.Segment(status, count, f"{Issue.Status(status).label}: {count:,}")
                ],
            )
            for status, count in counts.items()
        ),
        **layout,
    )


def _latency_chart(latency: dict, **layout) -> charts.BarChart | None:
    if not latency["resolved_count"]:
        return None
    measures = [
        ("Median", latency["median_seconds"]),
        ("Average", latency["average_seconds"]),
        ("90th percentile", latency["p90_seconds"]),
    ]
    return charts.bar_chart(
        (
            charts.BarRow(
                label=label,
                value_text=charts.humanize_seconds(seconds),
                segments=[
                    charts.Segment(
                        "latency", seconds, f"{label}: {charts.humanize_seconds(seconds)}"
                    )
                ],
            )
            for label, seconds in measures
        ),
        axis=False,  # seconds on an axis read badly; each bar carries its duration
        **({"label_width": 110, "value_width": 80} | layout),
    )


def _week_title(day: date) -> str:
    end = day + timedelta(days=6)
    return f"Week of {charts.short_date(day)} \N{EN DASH} {charts.short_date(end)}"


@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    interval = request.GET.get("interval")
    if interval not in reports.INTERVALS:
        interval = "day"
    counts = reports.status_counts()
    assignees = reports.top_assignees(limit=TOP_ASSIGNEES)
    latency = reports.resolution_latency()
    series = reports.created_vs_resolved(interval=interval)

    periods = [date.fromisoformat(row["period"]) for row in series]
    series_chart = charts.line_chart(
        periods,
        {key: (label, [row[key] for row in series]) for key, label in SERIES_LABELS.items()},
        period_title=_week_title if interval == "week" else charts.short_date,
    )
    narrow = NARROW_PERIODS[interval]
    series_chart_narrow = charts.line_chart(
        periods[-narrow:],
        {
            key: (label, [row[key] for row in series[-narrow:]])
            for key, label in SERIES_LABELS.items()
        },
        period_title=_week_title if interval == "week" else charts.short_date,
        width=NARROW["width"],
        height=220,
        max_labels=NARROW_LABELS,
    )
    for row, day in zip(series, periods, strict=True):
        row["title"] = _week_title(day) if interval == "week" else f"{day:%a} {day:%b} {day.day}"
    total = sum(counts.values())
    context = {
        "nav": "reports",
        "interval": interval,
        "intervals": [("day", "Daily"), ("week", "Weekly")],
        "status_rows": [
            {
                "status": status,
                "label": Issue.Status(status).label,
                "count": count,
                "share": round(100 * count / total) if total else 0,
            }
            for status, count in counts.items()
        ],
        "total_issues": total,
        "status_chart": _status_chart(counts),
        "status_chart_narrow": _status_chart(counts, **NARROW),
        "assignees": assignees,
        "assignee_chart": _assignee_chart(assignees) if assignees else None,
        "assignee_chart_narrow": _assignee_chart(assignees, **NARROW) if assignees else None,
        "top_assignees": TOP_ASSIGNEES,
        "latency": latency,
        "latency_text": {
            key: charts.humanize_seconds(latency[f"{key}_seconds"])
            for key in ("average", "median", "p90")
        },
        "latency_chart": _latency_chart(latency),
        "latency_chart_narrow": _latency_chart(
            latency, **NARROW | {"label_width": 108, "value_width": 64, "label_chars": 16}
        ),
        "series": series,
        "series_chart": series_chart,
        "series_chart_narrow": series_chart_narrow,
        "narrow_periods": min(narrow, len(series)),
        "series_totals": {key: sum(row[key] for row in series) for key in SERIES_LABELS},
        "series_labels": SERIES_LABELS,
        "timezone_name": timezone.get_current_timezone_name(),
    }
    return render(request, "tracker/reports.html", context)
