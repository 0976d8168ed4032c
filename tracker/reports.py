"""Aggregate reads for the API, the dashboard pages and exports.

Each function runs exactly one SQL query whatever the size of the issues table and returns
plain data (dicts, lists, numbers), so its callers never hold a queryset. Invalid arguments
raise Django's ValidationError with a code, which the API renders as a 400.

Time buckets follow the active time zone (settings.TIME_ZONE unless a request activated
another), so a "day" is the day of the people reading the report, not a UTC day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from .models import Issue, User
from .services import clean_status, invalid

STATUSES: tuple[str, ...] = tuple(Issue.Status.values)
INTERVALS = ("day", "week")
# A year of days or seven years of weeks: enough to read, small enough to draw and send.
MAX_PERIODS = 400
DEFAULT_PERIODS = {"day": 30, "week": 12}


def _counts_by_status(prefix: str = "") -> dict[str, Count]:
    """One filtered COUNT per status, so a single GROUP BY yields every column; `prefix`
    reaches the issues through a relation (`assigned_issues__` from users)."""
    return {
        status: Count(f"{prefix}id", filter=Q(**{f"{prefix}status": status})) for status in STATUSES
    }


# --- Issues per assignee and per status.


def top_assignees(*, limit: int | None = None, status: str | None = None) -> list[dict]:
    """Assignees with their issue counts, most issues first, ties by user id.

    Unassigned issues are not counted. With `status`, only issues in that status count.
    Raises ValidationError for a limit below 1 or an unknown status.
    """
    if limit is not None and limit < 1:
        raise invalid("limit", "limit must be a positive integer", "invalid_limit")
    issues = Issue.objects.filter(assignee__isnull=False)
    if status is not None:
        issues = issues.filter(status=clean_status(status))
    rows = (
        issues.values("assignee_id", name=F("assignee__name"))
        .annotate(total=Count("id"), **_counts_by_status())
        .order_by("-total", "assignee_id")
    )
    if limit is not None:
        rows = rows[:limit]
    return [{key: row[key] for key in ("assignee_id", "name", "total", *STATUSES)} for row in rows]


def status_counts() -> dict[str, int]:
    """Issues per status, every status present (zeros included), in workflow order."""
    counts = dict(
        Issue.objects.order_by().values("status").annotate(n=Count("id")).values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in STATUSES}


def people_summary() -> list[dict]:
    """Every user with their assigned issues per status, by name (case-insensitive), then id."""
    users = (
        User.objects.annotate(**_counts_by_status("assigned_issues__"))
        .order_by(Lower("name"), "id")
        .values("id", "name", *STATUSES)
    )
    return [{**row, "total": sum(row[status] for status in STATUSES)} for row in users]


# --- Resolution time.

_LATENCY_SQL = """
    SELECT count(*),
           avg(resolved_at - created_at),
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (
               ORDER BY extract(epoch FROM resolved_at - created_at)::float8
           )
      FROM issues
     WHERE resolved_at IS NOT NULL
       AND resolved_at >= coalesce(%(since)s, '-infinity'::timestamptz)
       AND resolved_at < coalesce(%(until)s, 'infinity'::timestamptz)
"""


def resolution_latency(*, since: datetime | None = None, until: datetime | None = None) -> dict:
    """How long closed issues took from creation to resolution.

    `since` (inclusive) and `until` (exclusive) restrict the resolution time. The average is
    also given as Python's `str(timedelta)` ("1 day, 2:03:04.500000"), the original system's
    format; everything is None when nothing was resolved. Raises ValidationError when
    `since` is not before `until`.
    """
    if since is not None and until is not None and since >= until:
        raise invalid("since", "since must be before until", "invalid_range")
    with connection.cursor() as cursor:
        # One sort serves both percentiles (the array form of percentile_cont).
        cursor.execute(_LATENCY_SQL, {"since": since, "until": until})
        resolved_count, average, percentiles = cursor.fetchone()
    if not resolved_count:
        return {
            "average_resolution_time": None,
            "resolved_count": 0,
            "average_seconds": None,
            "median_seconds": None,
            "p90_seconds": None,
        }
    median, p90 = percentiles
    return {
        "average_resolution_time": str(average),
        "resolved_count": resolved_count,
        "average_seconds": average.total_seconds(),
        "median_seconds": median,
        "p90_seconds": p90,
    }


# --- Created and resolved per period.

# The periods come from generate_series, so a period without any issue still appears. Each
# side is counted on its own index range (created_at, and the partial index on resolved_at)
# and joined to the periods, never scanning the whole table.
_SERIES_SQL = """
    WITH periods AS (
        SELECT generate_series(
                   date_trunc(%(unit)s, %(first)s::timestamp),
                   date_trunc(%(unit)s, %(last)s::timestamp),
                   %(step)s::interval
               ) AS period
    ),
    bounds AS (
        SELECT min(period) AT TIME ZONE %(tz)s AS lo,
               (max(period) + %(step)s::interval) AT TIME ZONE %(tz)s AS hi
          FROM periods
    ),
    created AS (
        SELECT date_trunc(%(unit)s, created_at AT TIME ZONE %(tz)s) AS period, count(*) AS n
          FROM issues, bounds
         WHERE created_at >= bounds.lo AND created_at < bounds.hi
         GROUP BY 1
    ),
    resolved AS (
        SELECT date_trunc(%(unit)s, resolved_at AT TIME ZONE %(tz)s) AS period, count(*) AS n
          FROM issues, bounds
         WHERE resolved_at >= bounds.lo AND resolved_at < bounds.hi
         GROUP BY 1
    )
    SELECT periods.period::date, coalesce(created.n, 0), coalesce(resolved.n, 0)
      FROM periods
      LEFT JOIN created USING (period)
      LEFT JOIN resolved USING (period)
     ORDER BY periods.period
"""


def _period_start(day: date, interval: str) -> date:
    """The first day of the period holding `day` (weeks start on Monday, as date_trunc's)."""
    return day - timedelta(days=day.weekday()) if interval == "week" else day


def series_window(
    *, interval: str = "day", since: date | None = None, until: date | None = None
) -> tuple[date, date]:
    """The first and last day a created_vs_resolved call covers, after defaults.

    Without `since`, the window ends with `until` (default today) and spans
    DEFAULT_PERIODS[interval] periods. Raises ValidationError for an unknown interval, a
    reversed range or more than MAX_PERIODS periods.
    """
    if interval not in INTERVALS:
        raise invalid(
            "interval", f"interval must be one of: {', '.join(INTERVALS)}", "invalid_interval"
        )
    until = until or timezone.localdate()
    if since is None:
        step = 7 if interval == "week" else 1
        since = _period_start(until, interval) - timedelta(
            days=step * (DEFAULT_PERIODS[interval] - 1)
        )
    if since > until:
        raise invalid("since", "since must not be after until", "invalid_range")
    span_days = (_period_start(until, interval) - _period_start(since, interval)).days
    periods = span_days // (7 if interval == "week" else 1) + 1
    if periods > MAX_PERIODS:
        raise ValidationError(
            {
                "since": ValidationError(
                    f"At most {MAX_PERIODS} periods per series; narrow since/until "
                    "or use a longer interval",
                    code="too_many_periods",
                )
            }
        )
    return since, until


def created_vs_resolved(
    *, interval: str = "day", since: date | None = None, until: date | None = None
) -> list[dict]:
    """Issues created and resolved per day or per ISO week, oldest period first.

    Every period between `since` and `until` appears, empty ones with zeros; the first and
    last periods are counted whole. Defaults: the last 30 days, or the last 12 weeks.
    `period` is the period's first day as "YYYY-MM-DD". Raises ValidationError as
    series_window does.
    """
    since, until = series_window(interval=interval, since=since, until=until)
    params = {
        "unit": interval,
        "step": f"1 {interval}",
        "first": since,
        "last": until,
        "tz": timezone.get_current_timezone_name(),
    }
    with connection.cursor() as cursor:
        cursor.execute(_SERIES_SQL, params)
        rows = cursor.fetchall()
    return [
        {"period": period.isoformat(), "created": created, "resolved": resolved}
        for period, created, resolved in rows
    ]
