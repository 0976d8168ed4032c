"""Background jobs: deferring work to the queue, and the `Job` rows people follow.

The queue is procrastinate's, in this database. `defer()` adds a job on Django's connection,
so a job deferred inside a change's transaction exists exactly when the change commits.
A `Job` row is what a person sees of their work (`GET /jobs/{id}`, the import page); its
progress is written on a connection of its own, so readers see it move while the work runs
inside one long transaction.
"""

from __future__ import annotations

import time
import traceback
from datetime import timedelta
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from procrastinate.contrib.django import app

from tracker.errors import JobNotFound
from tracker.models import Job, JobFailure, User

Status = Job.Status
PROGRESS_INTERVAL_SECONDS = 0.5


def defer(task_name: str, *, lock: str | None = None, schedule_in: float = 0, **args: Any) -> int:
    """Queue the task named `task_name` (a task of tracker/tasks.py) with `args`, in the
    current transaction; returns the queue's job id. Tasks are named rather than imported:
    the tasks call the services, not the other way round."""
    options: dict[str, Any] = {"lock": lock}
    if schedule_in:
        options["schedule_in"] = {"seconds": schedule_in}
    return app.configure_task(name=task_name, **options).defer(**args)


def defer_batch(task_name: str, args: list[dict[str, Any]], *, schedule_in: float = 0) -> list[int]:
    """Queue one job of `task_name` per item of `args`, in one statement (see `defer`)."""
    options: dict[str, Any] = {}
    if schedule_in:
        options["schedule_in"] = {"seconds": schedule_in}
    return app.configure_task(name=task_name, **options).batch_defer(*args)


def job_create(kind: str, *, actor: User | None, task_name: str, **args: Any) -> Job:
    """A `Job` and the queued task that runs it (given `job_id=` and `args`), both written
    in one transaction."""
    with transaction.atomic():
        job = Job.objects.create(kind=kind, created_by=actor if actor and actor.pk else None)
        job.queue_job_id = defer(task_name, job_id=job.pk, **args)
        job.save(update_fields=["queue_job_id"])
    return job


def job_get(job_id: int, *, viewer: User | None = None) -> Job:
    """The job, if `viewer` may see it: anyone in open mode; its creator and staff when
    TRACKER_REQUIRE_AUTH is on. Raises JobNotFound otherwise (a job's existence is not
    told to people who may not see it)."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        raise JobNotFound()
    if settings.TRACKER_REQUIRE_AUTH and not (
        viewer is not None
        and viewer.is_authenticated
        and (viewer.is_staff or viewer.pk == job.created_by_id)
    ):
        raise JobNotFound()
    return job


def job_started(job_id: int, *, total: int | None = None) -> None:
    """The job runs (again, after a retry: its progress starts over). Raises JobNotFound
    when its row is gone (pruned or deleted in the admin): there is nothing to run."""
    started = Job.objects.filter(pk=job_id).update(
        status=Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=timezone.now(),
        finished_at=None,
        progress_done=0,
        progress_total=total,
        error="",
    )
    if not started:
        raise JobNotFound(f"Job {job_id} not found")


def job_succeeded(job_id: int, result: Any) -> None:
    job_finished(job_id, Status.SUCCEEDED, result=result)


def job_failed(job_id: int, error: str, *, result: Any = None) -> None:
    job_finished(job_id, Status.FAILED, result=result, error=error)


def job_finished(job_id: int, status: str, *, result: Any = None, error: str = "") -> None:
    values: dict[str, Any] = {"status": status, "finished_at": timezone.now(), "error": error}
    if result is not None:
        values["result"] = result
    Job.objects.filter(pk=job_id).update(**values)


class Progress:
    """Writes a running job's progress on a connection of its own (autocommit), at most
    every PROGRESS_INTERVAL_SECONDS, so that it shows while the job's own transaction is
    still open. Use as a context manager; call it with (done, total)."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self._conn: psycopg.Connection | None = None
        self._last = 0.0

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __call__(self, done: int, total: int | None = None, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_INTERVAL_SECONDS:
            return
        self._last = now
        if self._conn is None:
            self._conn = psycopg.connect(**connection.get_connection_params(), autocommit=True)
        self._conn.execute(
            "UPDATE jobs SET progress_done = %s,"
            " progress_total = COALESCE(%s, progress_total) WHERE id = %s",
            [done, total, self.job_id],
        )


def failure_record(queue_job_id: int, task_name: str, attempt: int, exc: BaseException) -> None:
    """Keep what a failed attempt raised, for the admin (its own transaction)."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    JobFailure.objects.create(
        queue_job_id=queue_job_id, task_name=task_name, attempt=attempt, error=text[:10_000]
    )


def jobs_prune(hours: int) -> int:
    """Forget finished jobs and failure records older than `hours`; returns how many jobs."""
    cutoff = timezone.now() - timedelta(hours=hours)
    JobFailure.objects.filter(at__lt=cutoff).delete()
    deleted, _ = Job.objects.filter(
        status__in=[Status.SUCCEEDED, Status.FAILED], finished_at__lt=cutoff
    ).delete()
    return deleted
