"""How long the priority/due-date migration (0009) makes anyone wait on a large issues table.

Fills a scratch database with N issues (bench/reports_bench.py's INSERT ... SELECT
generate_series fill) at the schema before the migration, then runs the migration while
other connections keep working on `issues`: each loops over a one-row UPDATE (a status
change, as PATCH /issues/{id} writes it) and two reads (one issue by id, a page of the list).
It prints the longest any of those statements took before, during and after the migration,
the migration's total time, and each of its statements' time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/it_prio_bench \\
        .venv/bin/python bench/migration_bench.py 1000000 [--clients 2]

The scratch database is created when missing and emptied, so the script refuses a database
whose name does not contain "bench". The machine's other work shows in the figures: compare
"during" with "before".
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/it_prio_bench"
BEFORE = "0008_job_files"
MIGRATION = "0009_priority_due_date"
QUIET_SECONDS = 3.0  # the load alone, before and after the migration


class Load(threading.Thread):
    """One client: small UPDATEs and SELECTs on issues, each statement's duration kept with
    the moment it started."""

    def __init__(self, dsn: str, max_id: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.dsn, self.max_id, self.stop = dsn, max_id, stop
        self.timings: list[tuple[float, float, str]] = []  # (started, seconds, kind)

    def run(self) -> None:
        import psycopg

        statements = [
            (
                "update",
                "UPDATE issues SET status = CASE status WHEN 'open' THEN 'in_progress'"
                " WHEN 'in_progress' THEN 'open' ELSE status END, updated_at = now(),"
                " version = version + 1 WHERE id = %s",
            ),
            ("select one", "SELECT id, title, status, version FROM issues WHERE id = %s"),
            (
                "select page",
                "SELECT id, title, status FROM issues WHERE id > %s ORDER BY id LIMIT 20",
            ),
        ]
        rng = random.Random()
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop.is_set():
                for kind, sql in statements:
                    started = time.perf_counter()
                    cursor = conn.execute(sql, (rng.randint(1, self.max_id),))
                    if kind != "update":
                        cursor.fetchall()
                    self.timings.append((started, time.perf_counter() - started, kind))
                time.sleep(0.002)  # a busy team, not a flood: leave the machine to the others


def _summary(timings: list[tuple[float, float, str]], start: float, end: float) -> str:
    window = [seconds for started, seconds, _ in timings if start <= started < end]
    if not window:
        return "no statements"
    window.sort()
    p99 = window[min(len(window) - 1, int(len(window) * 0.99))]
    return (
        f"{len(window):>6} statements, median {statistics.median(window) * 1000:6.1f} ms,"
        f" p99 {p99 * 1000:7.1f} ms, longest {window[-1] * 1000:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("issues", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()

    base = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    if "bench" not in base.rsplit("/", 1)[1]:
        base = base.rsplit("/", 1)[0] + "/issuetracker_bench_migration"
    os.environ["DATABASE_URL"] = base
    os.environ.setdefault("DJANGO_DEBUG", "true")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuetracker.settings")
    import django

    django.setup()
    import reports_bench
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    db = settings.DATABASES["default"]
    if "bench" not in db["NAME"]:
        raise SystemExit(
            f"Refusing to empty database {db['NAME']!r}: its name must contain 'bench'."
        )
    call_command("ensure_database")
    call_command("migrate", verbosity=0)
    call_command("migrate", "tracker", BEFORE, verbosity=0)

    started = time.perf_counter()
    reports_bench.fill(args.issues)
    print(
        f"Filled {db['NAME']} with {args.issues:,} issues in {time.perf_counter() - started:.1f} s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id), pg_size_pretty(pg_total_relation_size('issues')) FROM issues"
        )
        low, high, size = cursor.fetchone()
    print(f"issues: ids {low}..{high}, {size} with its indexes\n")

    dsn = connection.get_connection_params()
    dsn_text = " ".join(
        f"{key}={value}"
        for key, value in (
            ("host", dsn.get("host")),
            ("port", dsn.get("port")),
            ("dbname", dsn.get("dbname")),
            ("user", dsn.get("user")),
            ("password", dsn.get("password")),
        )
        if value
    )
    stop = threading.Event()
    clients = [Load(dsn_text, high, stop) for _ in range(args.clients)]
    for client in clients:
        client.start()

    statements: list[tuple[float, str]] = []

    def timed(execute, sql, params, many, context):
        begun = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((time.perf_counter() - begun, " ".join(sql.split())[:110]))

    time.sleep(QUIET_SECONDS)
    migration_start = time.perf_counter()
    with connection.execute_wrapper(timed):
        call_command("migrate", "tracker", MIGRATION, verbosity=0)
    migration_end = time.perf_counter()
    time.sleep(QUIET_SECONDS)
    stop.set()
    for client in clients:
        client.join()

    timings = [timing for client in clients for timing in client.timings]
    first = min(started for started, _, _ in timings)
    print(f"Migration {MIGRATION}: {migration_end - migration_start:.2f} s in all\n")
    print("Its statements (the migration's own bookkeeping left out):")
    for seconds, sql in statements:
        if "django_migrations" not in sql and seconds >= 0.0005:
            print(f"  {seconds * 1000:9.1f} ms  {sql}")
    print(f"\nThe other {args.clients} connections' statements on issues (update, two selects):")
    print(f"  before: {_summary(timings, first, migration_start)}")
    print(f"  during: {_summary(timings, migration_start, migration_end)}")
    print(f"  after:  {_summary(timings, migration_end, float('inf'))}")
    longest = max(
        (t for t in timings if migration_start <= t[0] < migration_end),
        key=lambda t: t[1],
        default=None,
    )
    if longest:
        print(
            f"\nLongest wait during the migration: {longest[1] * 1000:.1f} ms ({longest[2]},"
            f" {longest[0] - migration_start:.2f} s into it)"
        )


if __name__ == "__main__":
    main()
