"""`make bench`: fill a scratch database and print figures, each beside a baseline measured
in the same run.

    python bench/run.py [--rows 1000000] [--bulk 10000]

- CSV import of N rows with `manage.py import_issues` (rows/s and peak RSS), against
  PostgreSQL's own `COPY` of the same rows into the same table.
- Bulk status change of 10,000 issues through the service, against one raw `UPDATE`.
- Each report over the N issues, against the same SQL run directly (bench/reports_bench.py).

It uses the database `issuetracker_bench` on the server of DATABASE_URL (created when
missing, emptied before each figure); nothing else is touched.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))


def bench_database_url() -> str:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/issuetracker")
    return base.rsplit("/", 1)[0] + "/issuetracker_bench"


os.environ["DATABASE_URL"] = bench_database_url()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuetracker.settings")
os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-key")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1")

STATUSES = ("open", "in_progress", "closed")


def manage(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT)


def write_files(csv_path: Path, copy_path: Path, rows: int, user_ids: list[int]) -> None:
    """The import file (every column, some quoting, labels on a third of the rows) and, for
    the baseline, the same rows in COPY's text format as they land in `issues`."""
    rng = random.Random(42)
    with (
        csv_path.open("w", newline="", encoding="utf-8") as csv_file,
        copy_path.open("w", encoding="utf-8") as copy_file,
    ):
        writer = csv.writer(csv_file)
        writer.writerow(["title", "assignee_id", "status", "description", "labels"])
        for n in range(rows):
            title = f'Issue {n}: checkout fails, "sometimes"'
            assignee, status = rng.choice(user_ids), STATUSES[n % 3]
            description = f"Steps to reproduce #{n}"
            writer.writerow(
                [title, assignee, status, description, "bug;urgent" if n % 3 == 0 else ""]
            )
            resolved = "2026-01-01 00:00:00+00" if status == "closed" else "\\N"
            copy_file.write(
                f"{title}\t{description}\t{status}\t{assignee}\t1\t"
                f"2026-01-01 00:00:00+00\t2026-01-01 00:00:00+00\t{resolved}\n"
            )


def truncate(cursor) -> None:
    cursor.execute("TRUNCATE issue_events, issue_labels, comments, issues RESTART IDENTITY CASCADE")


def copy_baseline(path: Path) -> float:
    """Seconds for PostgreSQL's own COPY of the same rows straight into `issues` (the
    labels and events that the import also writes are not in it: this is the floor)."""
    from django.db import connection

    with connection.cursor() as cursor:
        truncate(cursor)
    started = time.perf_counter()
    with connection.cursor() as cursor, path.open(encoding="utf-8") as handle:
        copy_in(
            cursor,
            "COPY issues (title, description, status, assignee_id, version, created_at, "
            "updated_at, resolved_at) FROM STDIN",
            handle,
        )
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        truncate(cursor)
    return elapsed


IMPORT_TABLES = ("issues", "issue_events", "issue_labels")


def copy_in(cursor, statement: str, handle) -> None:
    """COPY ... FROM STDIN of an open file, in 1 MB chunks."""
    with cursor.copy(statement) as copy:
        while data := handle.read(1 << 20):
            copy.write(data)


def copy_all_baseline() -> float:
    """Seconds for PostgreSQL's COPY of everything the import wrote (issues, their events and
    label links), dumped from the tables and loaded back in one transaction: the import
    without any Python. The tables hold the same rows again afterwards."""
    from django.db import connection, transaction

    dumps = {table: OUT / f"{table}.dump" for table in IMPORT_TABLES}
    with connection.cursor() as cursor:
        for table, path in dumps.items():
            with path.open("wb") as out, cursor.copy(f"COPY {table} TO STDOUT") as copy:
                for data in copy:
                    out.write(data)
        truncate(cursor)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for table, path in dumps.items():
            with path.open(encoding="utf-8") as handle:
                copy_in(cursor, f"COPY {table} FROM STDIN", handle)
    elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        for table, path in dumps.items():
            path.unlink()
            # TRUNCATE ... RESTART IDENTITY rewound the sequences; move them past the rows.
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
    return elapsed


def import_command(path: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of `manage.py import_issues` in its own process."""
    started = time.perf_counter()
    manage("import_issues", str(path))
    elapsed = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, peak_kb / 1024


def bench_bulk(count: int) -> tuple[float, float]:
    """Seconds to close `count` issues through the service, and through one raw UPDATE."""
    from django.db import connection

    from tracker import services

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM issues WHERE status <> 'closed' ORDER BY id LIMIT %s", [count * 2]
        )
        ids = [row[0] for row in cursor.fetchall()]
    service_ids, raw_ids = ids[:count], ids[count:]
    started = time.perf_counter()
    services.issues_bulk_set_status(issue_ids=service_ids, status="closed")
    service_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE issues SET status = 'closed', resolved_at = now(), updated_at = now(), "
            "version = version + 1 WHERE id = ANY(%s)",
            [raw_ids],
        )
    raw_seconds = time.perf_counter() - started
    return service_seconds, raw_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--bulk", type=int, default=10_000)
    args = parser.parse_args()

    manage("ensure_database")
    manage("migrate", "--no-input", "-v", "0")

    import django

    django.setup()
    from django.db import connection

    from bench.reports_bench import bench_reports, fill
    from tracker.models import User

    with connection.cursor() as cursor:
        truncate(cursor)
    user_ids = list(User.objects.values_list("id", flat=True)[:50])
    if len(user_ids) < 50:
        User.objects.bulk_create(User(name=f"Bench user {n}") for n in range(50 - len(user_ids)))
        user_ids = list(User.objects.values_list("id", flat=True)[:50])

    OUT.mkdir(parents=True, exist_ok=True)
    path, copy_path = OUT / f"issues-{args.rows}.csv", OUT / f"issues-{args.rows}.copy"
    print(f"writing {path} ...", flush=True)
    write_files(path, copy_path, args.rows, user_ids)
    size_mb = path.stat().st_size / 1e6

    copy_seconds = copy_baseline(copy_path)
    import_seconds, peak_mb = import_command(path)
    copy_all_seconds = copy_all_baseline()
    print(f"\nCSV import of {args.rows:,} rows ({size_mb:.0f} MB, labels on a third of them)")
    print(f"  import_issues : {import_seconds:7.2f} s  {args.rows / import_seconds:10,.0f} rows/s")
    print(f"  raw COPY      : {copy_seconds:7.2f} s  {args.rows / copy_seconds:10,.0f} rows/s")
    print(f"  speed vs COPY : {copy_seconds / import_seconds:.2f}  (goal >= 0.50)")
    print(
        f"  COPY of all it writes (issues, events, label links): {copy_all_seconds:.2f} s;"
        f" speed vs that: {copy_all_seconds / import_seconds:.2f}"
    )
    print(f"  peak RSS      : {peak_mb:7.0f} MB  (goal < 300 MB)")

    service_seconds, raw_seconds = bench_bulk(args.bulk)
    print(f"\nBulk status change of {args.bulk:,} issues")
    print(f"  service       : {service_seconds:7.3f} s  (lock, update, one event per issue)")
    print(f"  raw UPDATE    : {raw_seconds:7.3f} s  (ratio {service_seconds / raw_seconds:.1f}x)")

    print(f"\nReports over {args.rows:,} issues spread over two years (median of runs)")
    fill(args.rows)
    for row in bench_reports(args.rows):
        print(
            f"  {row['name']:<36}: {row['ms']:8.1f} ms   raw SQL {row['raw_sql_ms']:8.1f} ms"
            f"   ratio {row['ratio']:.2f}"
        )


if __name__ == "__main__":
    main()
