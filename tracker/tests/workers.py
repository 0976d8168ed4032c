"""Real worker processes (`manage.py procrastinate worker`) on the test database, for tests
that need background jobs to run as they do in production."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """The URL of the database the tests run on (the test database, not the configured one)."""
    params = connection.settings_dict
    host = params.get("HOST") or "127.0.0.1"
    port = params.get("PORT") or 5432
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{params['NAME']}"


@contextlib.contextmanager
def running_worker(
    *, concurrency: int = 2, env: dict[str, str] | None = None, name: str = "test-worker"
) -> Iterator[subprocess.Popen]:
    """A worker process on the test database, stopped (SIGTERM, then SIGKILL) on exit. Its
    output goes to the test's stderr when it fails."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_DEBUG": "true",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "procrastinate",
            "worker",
            "--name",
            name,
            "--concurrency",
            str(concurrency),
        ],
        cwd=ROOT,
        env=environment,
        stdout=sys.stderr,
        stderr=sys.stderr,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen, *, kill: bool = False) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def wait_until(condition: Callable[[], object], *, timeout: float = 30.0, every: float = 0.1):
    """Poll `condition` until it returns something true (returned), or fail after
    `timeout` seconds. A bound, not a speed check: the machines are shared."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s: {condition}")
        time.sleep(every)


def queue_clear() -> None:
    """Empty the queue's tables (a transactional test's flush leaves them): for tests that
    queue jobs, so later ones find the queue as a fresh database has it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers,"
            " procrastinate_workers CASCADE"
        )
