"""The CSV import as a background job, beside `manage.py import_issues` on the same file.

    ROWS=1000000 .venv/bin/python bench/import_jobs.py

1. `manage.py import_issues FILE` on a fresh database: the time of the command.
2. On another fresh database, a server (`manage.py runserver`, debug off) and one worker
   (`manage.py procrastinate worker`): `curl -H 'Prefer: respond-async' -F file=@FILE` and
   GET /jobs/{id} until it has ended; the time from the start of the upload to the poll that
   sees `succeeded` (so the upload, its storing in the database and the queue are counted).

Prints both times and their ratio (command time / job time: 1.0 means as fast). Uses the
database `<name of DATABASE_URL>_bench_jobs` on the same server, created afresh for each run
from a migrated template, and port BENCH_PORT (default 8109). Bounded: ROWS rows (default
1,000,000; about 90 MB of CSV), every wait has a timeout.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
ROWS = int(os.environ.get("ROWS", "1000000"))
PORT = int(os.environ.get("BENCH_PORT", "8109"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "900"))
BASE = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/issuetracker")
SERVER_URL, _, NAME = BASE.rpartition("/")
DB = f"{NAME}_bench_jobs"
TEMPLATE = f"{DB}_template"
STATUSES = ("open", "in_progress", "closed")
USERS = 20

ENV = {
    **os.environ,
    "DATABASE_URL": f"{SERVER_URL}/{DB}",
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "bench-only-key",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    "TRACKER_IMPORT_MAX_BYTES": str(10 * 1024**3),
    "PYTHONUNBUFFERED": "1",
}


def admin(sql: str) -> None:
    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def manage(*args: str, env: dict | None = None) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env or ENV, check=True, timeout=600
    )


def prepare_template() -> None:
    admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{TEMPLATE}"')
    manage("migrate", "--no-input", "-v0", env={**ENV, "DATABASE_URL": f"{SERVER_URL}/{TEMPLATE}"})
    with psycopg.connect(f"{SERVER_URL}/{TEMPLATE}", autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (name, password, is_superuser, is_staff, is_active)"
            " SELECT 'User ' || n, '!', false, false, true FROM generate_series(1, %s) n",
            [USERS],
        )


def fresh_database() -> None:
    admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{DB}" TEMPLATE "{TEMPLATE}"')


def write_csv(path: Path) -> None:
    """As bench/run.py's file: every column, some quoting, labels on a third of the rows."""
    rng = random.Random(42)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["title", "assignee_id", "status", "description", "labels"])
        for n in range(ROWS):
            writer.writerow(
                [
                    f'Issue {n}: checkout fails, "sometimes"',
                    rng.randint(1, USERS),
                    STATUSES[n % 3],
                    f"Steps to reproduce #{n}",
                    "bug;urgent" if n % 3 == 0 else "",
                ]
            )


def issues_count() -> int:
    with psycopg.connect(f"{SERVER_URL}/{DB}") as conn:
        row = conn.execute("SELECT count(*) FROM issues").fetchone()
        return int(row[0]) if row else 0


def run_command(path: Path) -> float:
    fresh_database()
    started = time.monotonic()
    manage("import_issues", str(path))
    elapsed = time.monotonic() - started
    assert issues_count() == ROWS, "the command did not import every row"
    return elapsed


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        body: dict = json.load(response)
        return body


def wait_for_server() -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/users", timeout=5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def run_job(path: Path) -> tuple[float, dict]:
    fresh_database()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{PORT}", "--noreload"],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "procrastinate", "worker", "--concurrency", "1"],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_server()
        started = time.monotonic()
        answer = subprocess.run(
            [
                "curl",
                "-sS",
                "-H",
                "Prefer: respond-async",
                "-F",
                f"file=@{path}",
                f"http://127.0.0.1:{PORT}/issues/import",
            ],
            capture_output=True,
            check=True,
            timeout=TIMEOUT,
        )
        job = json.loads(answer.stdout)
        accepted = time.monotonic() - started
        deadline = started + TIMEOUT
        while job["status"] not in ("succeeded", "failed"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"job still {job['status']} after {TIMEOUT} s")
            time.sleep(0.5)
            job = get_json(f"http://127.0.0.1:{PORT}/jobs/{job['id']}")
        elapsed = time.monotonic() - started
    finally:
        for process in (worker, server):
            process.terminate()
            process.wait(timeout=30)
    assert job["status"] == "succeeded", job["error"]
    assert issues_count() == ROWS, "the job did not import every row"
    job["accepted_after"] = accepted
    return elapsed, job


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "issues.csv"
        write_csv(path)
        size = path.stat().st_size
        prepare_template()
        try:
            command = run_command(path)
            job_time, job = run_job(path)
        finally:
            admin(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            admin(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
    print(f"{ROWS:,} rows, {size / 1e6:.0f} MB of CSV")
    print(f"manage.py import_issues:          {command:6.1f} s ({ROWS / command:,.0f} rows/s)")
    print(
        f"Prefer: respond-async + 1 worker: {job_time:6.1f} s ({ROWS / job_time:,.0f} rows/s;"
        f" 202 after {job['accepted_after']:.1f} s)"
    )
    print(f"ratio (command time / job time):  {command / job_time:.2f}")


if __name__ == "__main__":
    main()
