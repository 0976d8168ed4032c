"""Aggregate reads for the API, the dashboard pages and exports.

Each function runs exactly one SQL query whatever the size of the issues table and returns
plain data (dicts, lists, numbers), so its callers never hold a queryset. Invalid arguments
raise Django's ValidationError with a code, which the API renders as a 400.

Time buckets follow the active time zone (settings.TIME_ZONE unless a request activated
another), so a "day" is the day of the people reading the report, not a UTC day.

Each report is cached (settings.CACHES: local memory, or Redis for several servers) under
the data's generation: the last ids taken for a timeline event and for a person. Every
change to an issue or its comments writes an event in its transaction, so a change (or a
person added) moves the generation and the next read computes the report afresh. An entry
also expires after REPORT_CACHE_SECONDS, which bounds what the generation does not see: a
person renamed, or a report computed while a change was committing.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, ParamSpec, TypeVar, cast

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from . import selectors
from .models import Issue
from .rules import clean_status, invalid, today

STATUSES: tuple[str, ...] = tuple(Issue.Status.values)
INTERVALS = ("day", "week")
# A year of days or seven years of weeks: enough to read, small enough to draw and send.
MAX_PERIODS = 400
MAX_LIMIT = 10_000  # top_assignees: more rows than any team has people
DEFAULT_PERIODS = {"day": 30, "week": 12}
REPORT_CACHE_SECONDS = 5

P = ParamSpec("P")
R = TypeVar("R")


def data_generation() -> str:
    """The last ids taken for a timeline event and for a person: they move with every change
    to issues and comments, and with every person added (sequences' last values, read
    without scanning anything)."""
    with connection.cursor() as cursor:
        # is_called too: last_value is 1 both before and after a sequence's first value.
        cursor.execute(
            "SELECT events.last_value, events.is_called, users.last_value, users.is_called"
            " FROM issue_events_id_seq AS events, users_id_seq AS users"
        )
        row = cursor.fetchone()
    return ".".join(str(value) for value in row) if row else ""


def cached_report(report: Callable[P, R]) -> Callable[P, R]:
    """`report`, cached under its arguments, the active time zone and the data generation."""

    @functools.wraps(report)
    def cached(*args: P.args, **kwargs: P.kwargs) -> R:
        arguments = repr(
            (sorted(kwargs.items()), args, timezone.get_current_timezone_name())
        ).encode()
        key = (
            f"report:{report.__name__}:{data_generation()}:{hashlib.sha256(arguments).hexdigest()}"
        )
        found = cache.get(key)
        if found is None:
            found = report(*args, **kwargs)
            cache.set(key, found, REPORT_CACHE_SECONDS)
        return cast(R, found)

    return cached


def _rows(sql: str, params: dict) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column.name for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


# --- Issues per assignee and per status.

# Issues are counted per assignee_id first, from the (assignee, status) index alone, and only
# the few resulting rows are joined to users: joining a million issues to their users before
# grouping is several times slower. `status` NULL counts every status (the planner folds the
# test away either way).
_PER_ASSIGNEE = """
    SELECT assignee_id,
           count(*) FILTER (WHERE status = 'open') AS open,
           count(*) FILTER (WHERE status = 'in_progress') AS in_progress,
           count(*) FILTER (WHERE status = 'closed') AS closed,
           count(*) FILTER (
               WHERE status IN ('open', 'in_progress') AND due_date < %(today)s::date
           ) AS overdue
      FROM issues
     WHERE assignee_id IS NOT NULL
       AND (%(status)s::text IS NULL OR status = %(status)s::text)
     GROUP BY assignee_id
"""

_TOP_ASSIGNEES_SQL = f"""
    SELECT counts.assignee_id,
           users.name,
           counts.open + counts.in_progress + counts.closed AS total,
           counts.open,
           counts.in_progress,
           counts.closed,
           counts.overdue
      FROM ({_PER_ASSIGNEE}) AS counts
      JOIN users ON users.id = counts.assignee_id
     ORDER BY total DESC, counts.assignee_id
     LIMIT %(limit)s
"""

_PEOPLE_SQL = f"""
    SELECT users.id,
           users.name,
           coalesce(counts.open, 0) AS open,
           coalesce(counts.in_progress, 0) AS in_progress,
           coalesce(counts.closed, 0) AS closed
      FROM users
      LEFT JOIN ({_PER_ASSIGNEE}) AS counts ON counts.assignee_id = users.id
     ORDER BY lower(users.name), users.id
"""


@cached_report
def top_assignees(*, limit: int | None = None, status: str | None = None) -> list[dict]:
    """Assignees with their issue counts, most issues first, ties by user id; `overdue`:
    their open or in-progress issues due before today (rules.today), among those counted.

    Unassigned issues are not counted. With `status`, only issues in that status count.
    Raises ValidationError for a limit below 1 or an unknown status.
    """
    if limit is not None and not 1 <= limit <= MAX_LIMIT:
        raise invalid("limit", f"limit must be from 1 to {MAX_LIMIT}", "invalid_limit")
    if status is not None:
        status = clean_status(status)
    # LIMIT NULL is LIMIT ALL.
    # Today is an argument of the query, not of the cache key: an entry lives for
    # REPORT_CACHE_SECONDS, so a new day shows within seconds of midnight.
    return _rows(_TOP_ASSIGNEES_SQL, {"limit": limit, "status": status, "today": today()})


@cached_report
def status_counts() -> dict[str, int]:
    """Issues per status, every status present (zeros included), in workflow order."""
    return selectors.issue_status_counts()


@cached_report
def people_summary() -> list[dict]:
    """Every user with their assigned issues per status (and `total`), by name without
    regard to case, then id."""
    return [
        {**row, "total": sum(row[status] for status in STATUSES)}
        for row in _rows(_PEOPLE_SQL, {"status": None, "today": today()})
    ]


# --- Resolution time.

# The average is taken over exact (numeric) seconds: a sum of intervals could overflow on a
# large table, and float seconds lose the microseconds the seed's format shows. The
# percentiles sort float seconds (much cheaper than numeric), one sort serving both.
_LATENCY_SQL = """
    SELECT count(*),
           avg(extract(epoch FROM resolved_at - created_at)),
           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (
               ORDER BY date_part('epoch', resolved_at - created_at)
           )
      FROM issues
     WHERE resolved_at IS NOT NULL
       AND resolved_at >= coalesce(%(since)s, '-infinity'::timestamptz)
       AND resolved_at < coalesce(%(until)s, 'infinity'::timestamptz)
"""


def _exact_timedelta(seconds: Decimal) -> timedelta:
    return timedelta(microseconds=int(seconds.scaleb(6).to_integral_value(ROUND_HALF_EVEN)))


@cached_report
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
        "average_resolution_time": str(_exact_timedelta(average)),
        "resolved_count": resolved_count,
        "average_seconds": float(average),
        "median_seconds": median,
        "p90_seconds": p90,
    }


# --- Created and resolved per period.

# The periods come from generate_series, so a period without any issue still appears. The
# created and resolved sides are read from their own indexes (created_at, and the partial
# index on resolved_at) over the window only, and counted in one pass. The window's bounds
# are constant expressions, so the planner sizes those index ranges from its statistics;
# computed in a CTE they would look unknown, inflating the plan's cost into JIT compiling,
# which takes longer than the query itself.
_WINDOW_START = "date_trunc(%(unit)s, %(first)s::timestamp) AT TIME ZONE %(tz)s"
_WINDOW_END = "(date_trunc(%(unit)s, %(last)s::timestamp) + %(step)s::interval) AT TIME ZONE %(tz)s"
_SERIES_SQL = f"""
    WITH periods AS (
        SELECT generate_series(
                   date_trunc(%(unit)s, %(first)s::timestamp),
                   date_trunc(%(unit)s, %(last)s::timestamp),
                   %(step)s::interval
               ) AS period
    ),
    events AS (
        SELECT date_trunc(%(unit)s, created_at AT TIME ZONE %(tz)s) AS period,
               1 AS created, 0 AS resolved
          FROM issues
         WHERE created_at >= {_WINDOW_START} AND created_at < {_WINDOW_END}
        UNION ALL
        SELECT date_trunc(%(unit)s, resolved_at AT TIME ZONE %(tz)s), 0, 1
          FROM issues
         WHERE resolved_at >= {_WINDOW_START} AND resolved_at < {_WINDOW_END}
    ),
    counts AS (
        SELECT period, sum(created) AS created, sum(resolved) AS resolved
          FROM events
         GROUP BY period
    )
    SELECT periods.period::date, coalesce(counts.created, 0), coalesce(counts.resolved, 0)
      FROM periods
      LEFT JOIN counts USING (period)
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
        try:
            since = _period_start(until, interval) - timedelta(
                days=step * (DEFAULT_PERIODS[interval] - 1)
            )
        except OverflowError:  # `until` in the first weeks of year 1
            since = date.min
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


@cached_report
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
    params: dict[str, Any] = {
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
