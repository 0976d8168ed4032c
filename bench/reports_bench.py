"""Benchmark of the reports (tracker/reports.py) over a large issues table.

`bench_reports(n)` times each report function against the very SQL it sends, run directly on
a DB-API cursor, so the ratio shows what the Python side (ORM compilation, shaping the rows)
costs on top of PostgreSQL's own work. It expects Django to be set up and the database to be
filled already.

Run as a script, it fills a scratch database first and prints the figures:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/issuetracker_bench \\
        .venv/bin/python bench/reports_bench.py 1000000

The scratch database is created when missing and its tables are emptied, so the script
refuses a database whose name does not contain "bench".
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/issuetracker_bench"
DEFAULT_ISSUES = 1_000_000
BENCH_USERS = 200


def _reports() -> list[tuple[str, Callable[[], object]]]:
    """Each report as computed, without its cache (`cached_report` keeps the function it
    wraps as `__wrapped__`): what is timed is the work, not a cache hit."""
    from django.utils import timezone

    from tracker import reports

    top_assignees = reports.top_assignees.__wrapped__
    resolution_latency = reports.resolution_latency.__wrapped__
    created_vs_resolved = reports.created_vs_resolved.__wrapped__
    month_ago = timezone.now() - timedelta(days=30)
    return [
        ("top_assignees()", lambda: top_assignees()),
        ("top_assignees(limit=10, status=open)", lambda: top_assignees(limit=10, status="open")),
        ("resolution_latency()", lambda: resolution_latency()),
        ("resolution_latency(last 30 days)", lambda: resolution_latency(since=month_ago)),
        ("created_vs_resolved(day)", lambda: created_vs_resolved(interval="day")),
        ("created_vs_resolved(week)", lambda: created_vs_resolved(interval="week")),
        ("status_counts()", reports.status_counts.__wrapped__),
        ("people_summary()", reports.people_summary.__wrapped__),
    ]


def _median_ms(calls: list[Callable[[], object]], runs: int) -> list[float]:
    """Median milliseconds of each call. The calls take turns within every round, so a
    burst of load on the machine weighs on all of them alike rather than on one."""
    for call in calls:
        call()  # warm the caches (and the plan) before measuring
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(runs):
        for call, spent in zip(calls, times, strict=True):
            start = time.perf_counter()
            call()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) * 1000 for spent in times]


def _sql_of(call: Callable[[], object]) -> str:
    """The one statement a report sends, exactly as the driver sent it (parameters bound)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    if len(captured.captured_queries) != 1:
        raise AssertionError(f"expected one query, got {len(captured.captured_queries)}")
    return captured.captured_queries[0]["sql"]


def bench_reports(n_issues: int) -> list[dict]:
    """Median milliseconds of each report and of its SQL on a bare cursor.

    Expects Django set up and the issues table filled (`n_issues` rows) by the caller.
    """
    from django.db import connection

    runs = 7 if n_issues >= 100_000 else 15
    connection.ensure_connection()
    raw = connection.connection  # the psycopg connection, below Django's cursor wrapper
    rows = []
    for name, call in _reports():
        sql = _sql_of(call)

        def run_raw(sql: str = sql) -> None:
            with raw.cursor() as cursor:
                cursor.execute(sql)
                cursor.fetchall()

        ms, raw_ms = _median_ms([call, run_raw], runs)
        rows.append(
            {
                "name": name,
                "ms": round(ms, 2),
                "raw_sql_ms": round(raw_ms, 2),
                "ratio": round(ms / raw_ms, 3),
            }
        )
    return rows


# --- Filling the scratch database.

_FILL_SQL = """
    INSERT INTO issues (title, description, status, assignee_id, version,
                        created_at, updated_at, resolved_at)
    SELECT 'Benchmark issue ' || g,
           '',
           status,
           -- One issue in ten unassigned; the others skewed towards the first users, as
           -- real teams are, so the top of the ranking is not a tie.
           CASE WHEN a < 0.1 THEN NULL
                ELSE %(first_user)s + floor(power((a - 0.1) / 0.9, 2) * %(users)s)::int END,
           1,
           created_at,
           created_at,
           -- resolved_at exactly when closed (the CHECK constraint), and in the past: a
           -- recent issue is resolved within its age, without a pile-up at now().
           CASE WHEN status = 'closed'
                THEN created_at + least(interval '1 minute' + power(t, 3) * interval '60 days',
                                        (now() - created_at) * t)
           END
      FROM (
          SELECT g, a, t, created_at,
                 CASE WHEN s < 0.3 THEN 'open' WHEN s < 0.45 THEN 'in_progress' ELSE 'closed' END
                     AS status
            FROM (
                SELECT g, random() AS s, random() AS a, random() AS t,
                       now() - random() * interval '730 days' AS created_at
                  FROM generate_series(1, %(n)s) AS g
            ) AS draws
      ) AS rows
"""


def fill(n_issues: int) -> None:
    """Empty the tracker's tables and insert BENCH_USERS users and `n_issues` issues."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE issue_events, comments, issue_labels, issues, users CASCADE")
        cursor.execute(
            "INSERT INTO users (name, password, is_superuser, is_staff, is_active, date_joined)"
            " SELECT 'Bench user ' || g, '!', false, false, true, now()"
            " FROM generate_series(1, %s) AS g RETURNING id",
            [BENCH_USERS],
        )
        first_user = min(row[0] for row in cursor.fetchall())
        cursor.execute(_FILL_SQL, {"n": n_issues, "users": BENCH_USERS, "first_user": first_user})
    # Fresh statistics and visibility map: the plans, and index-only scans, of a live table.
    connection.ensure_connection()
    raw = connection.connection
    autocommit = raw.autocommit
    raw.autocommit = True
    try:
        with raw.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE issues, users")
    finally:
        raw.autocommit = autocommit


def main(argv: list[str]) -> None:
    n_issues = int(argv[1].replace("_", "")) if len(argv) > 1 else DEFAULT_ISSUES
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuetracker.settings")
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    name = settings.DATABASES["default"]["NAME"]
    if "bench" not in name:
        raise SystemExit(f"Refusing to empty database {name!r}: its name must contain 'bench'.")
    call_command("ensure_database")
    call_command("migrate", verbosity=0)

    start = time.perf_counter()
    fill(n_issues)
    print(f"Filled {name} with {n_issues:,} issues in {time.perf_counter() - start:.1f} s\n")

    rows = bench_reports(n_issues)
    width = max(len(row["name"]) for row in rows)
    print(f"{'report':<{width}}  {'ms':>9}  {'raw SQL ms':>10}  {'ratio':>6}")
    for row in rows:
        figures = f"{row['ms']:>9.1f}  {row['raw_sql_ms']:>10.1f}  {row['ratio']:>6.2f}"
        print(f"{row['name']:<{width}}  {figures}")


if __name__ == "__main__":
    main(sys.argv)
