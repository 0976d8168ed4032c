"""Notification fan-out: what a bulk change of many issues with many watchers costs.

Makes a scratch database, writes NOTIFY_BENCH_ISSUES issues (default 10,000) and
NOTIFY_BENCH_WATCHERS people with an e-mail address (default 20), then times one bulk
status change of every issue twice: with nobody watching, and with every person watching
every issue. It prints each change's time, the notification rows it wrote and the e-mail
jobs it deferred, then starts one worker (file e-mail backend) and times how long it takes
to send every e-mail. Bounded: the worker is given NOTIFY_BENCH_TIMEOUT seconds (300).

    .venv/bin/python bench/notifications_bench.py   # on issuetracker_bench_notifications
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MAIL_DIR = tempfile.mkdtemp(prefix="notifications-bench-")
# A scratch database beside DATABASE_URL's (this script empties its tables).
_base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/issuetracker")
os.environ["DATABASE_URL"] = _base.rsplit("/", 1)[0] + "/issuetracker_bench_notifications"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuetracker.settings")
os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ["EMAIL_URL"] = f"filemail:///{MAIL_DIR}"  # an absolute path: four slashes
os.environ["TRACKER_EMAIL_DELAY_SECONDS"] = "0"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from tracker import services  # noqa: E402
from tracker.models import Notification, User  # noqa: E402
from tracker.services import notifications  # noqa: E402
from tracker.tests.workers import running_worker, wait_until  # noqa: E402

ISSUES = int(os.environ.get("NOTIFY_BENCH_ISSUES", "10000"))
WATCHERS = int(os.environ.get("NOTIFY_BENCH_WATCHERS", "20"))
TIMEOUT = float(os.environ.get("NOTIFY_BENCH_TIMEOUT", "300"))


def sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def jobs() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s",
            [notifications.SEND_TASK],
        )
        return int(cursor.fetchone()[0])


def bulk(ids: list[int], status: str, actor: User) -> tuple[float, int, int]:
    rows_before, jobs_before = Notification.objects.count(), jobs()
    started = time.perf_counter()
    services.issues_bulk_set_status(issue_ids=ids, status=status, actor=actor)
    took = time.perf_counter() - started
    return took, Notification.objects.count() - rows_before, jobs() - jobs_before


def main() -> None:
    call_command("ensure_database", verbosity=0)
    call_command("migrate", verbosity=0)
    sql("TRUNCATE issues, users, notifications, watches, issue_events RESTART IDENTITY CASCADE")
    sql("DELETE FROM procrastinate_jobs")
    actor = User.objects.create_user("maya", name="Maya", email="maya@example.com")
    for n in range(WATCHERS):
        User.objects.create_user(f"p{n}", name=f"Person {n}", email=f"p{n}@example.com")
    sql(
        "INSERT INTO issues (title, description, status, version, created_at, updated_at)"
        " SELECT 'Issue ' || n, '', 'open', 1, now(), now() FROM generate_series(1, %s) n",
        [ISSUES],
    )
    sql(
        "INSERT INTO issue_events (issue_id, event, version, created_at, details, source)"
        " SELECT id, 'issue_created', 1, now(), '{}', 'import' FROM issues"
    )
    sql("ANALYZE")
    ids = list(range(1, ISSUES + 1))

    quiet = bulk(ids, "in_progress", actor)
    sql(
        "INSERT INTO watches (issue_id, user_id, created_at)"
        " SELECT i.id, u.id, now() FROM issues i CROSS JOIN users u WHERE u.id <> %s",
        [actor.pk],
    )
    sql("ANALYZE watches")
    watched = bulk(ids, "open", actor)
    print(f"{ISSUES:,} issues, bulk status change (one transaction):")
    print(
        f"  no watchers:            {quiet[0]:.2f} s, {quiet[1]:,} notifications, {quiet[2]} jobs"
    )
    print(
        f"  {WATCHERS} watchers each:     {watched[0]:.2f} s, {watched[1]:,} notifications, "
        f"{watched[2]} e-mail jobs"
    )
    started = time.perf_counter()
    with running_worker(
        concurrency=1, name="bench-mail", env={"EMAIL_URL": os.environ["EMAIL_URL"]}
    ):
        wait_until(
            lambda: not Notification.objects.filter(emailed_at__isnull=True).exists(),
            timeout=TIMEOUT,
            every=0.2,
        )
    took = time.perf_counter() - started
    mails = sum(
        line.startswith("Subject: ")
        for path in Path(MAIL_DIR).iterdir()
        for line in path.read_text().splitlines()
    )
    print(f"  one worker sent {mails} e-mails (one per person) in {took:.2f} s (incl. start-up)")


if __name__ == "__main__":
    main()
