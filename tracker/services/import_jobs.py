"""CSV imports that run as background jobs (`Prefer: respond-async`, the import page for
large files).

The upload is stored in the database (imports/job_files.py) in the transaction that creates
the job, so whichever worker takes the job can read it. The worker runs the same import as
the synchronous answer (services/imports.py), in ONE transaction that also stores the
result and removes the upload: a worker that dies midway leaves nothing written and the
upload still there, and the queue runs the job again (tasks.retry_stalled_jobs). A job that
ends, however it ends, removes its upload.
"""

from __future__ import annotations

import logging
from typing import IO, Any, cast

from django.db import transaction

from tracker.errors import ImportFileError
from tracker.imports import job_files
from tracker.imports.rows import FailedRowsReport
from tracker.models import IssueEvent, Job, JobFileChunk, User

from . import jobs
from .imports import issues_import, issues_import_check_file

logger = logging.getLogger(__name__)

TASK_NAME = "tracker.tasks.import_issues"
UPLOAD = JobFileChunk.Kind.UPLOAD
FAILED_ROWS = JobFileChunk.Kind.FAILED_ROWS


def import_job_create(
    binary: Any, *, dry_run: bool = False, actor: User | None, keep_failed_rows: bool = False
) -> Job:
    """Check the file's start (ImportFileError), store it, and queue its import; returns the
    job. `binary`: an uploaded file (its `chunks()` are read) or a binary file. Its progress
    total is the number of lines after the header (a row whose quoted cell holds line breaks
    spans several). `keep_failed_rows`: keep the report of failed rows for a download."""
    issues_import_check_file(binary)
    with transaction.atomic():
        job = jobs.job_create(
            Job.Kind.IMPORT,
            actor=actor,
            task_name=TASK_NAME,
            dry_run=dry_run,
            actor_id=actor.pk if actor is not None and actor.pk else None,
            keep_failed_rows=keep_failed_rows,
        )
        chunks = (
            binary.chunks(job_files.CHUNK_BYTES)
            if hasattr(binary, "chunks")
            else iter(lambda: binary.read(job_files.CHUNK_BYTES), b"")
        )
        written = job_files.write_all(job.pk, UPLOAD, chunks)
        job.progress_total = max(written.lines - 1, 0)
        job.save(update_fields=["progress_total"])
    return job


def import_job_run(
    job_id: int, *, dry_run: bool = False, actor_id: int | None = None, keep_failed_rows: bool
) -> None:
    """Run a queued import (the worker's task). Ends the job: succeeded with the import's
    result, or failed with the reason; either way its upload is removed. An unexpected error
    is raised again after that, for the queue's records."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED):
        return  # already ended (or deleted): nothing to run again
    if not job_files.exists(job_id, UPLOAD):
        _fail(job_id, "The uploaded file is no longer stored; upload it again")
        return
    jobs.job_started(job_id, total=job.progress_total)
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    try:
        with (
            transaction.atomic(),
            jobs.Progress(job_id) as progress,
            job_files.ChunkReader.open(job_id, UPLOAD) as binary,
        ):
            report = job_files.TextChunkWriter(job_id, FAILED_ROWS) if keep_failed_rows else None
            result = issues_import(
                binary,
                dry_run=dry_run,
                actor=actor,
                source=IssueEvent.Source.IMPORT,
                progress=lambda rows, _bytes: progress(rows),
                failed_rows=FailedRowsReport(cast(IO[str], report)) if report is not None else None,
            )
            if report is not None:
                report.close()
                if not result.failed:
                    job_files.delete(job_id, FAILED_ROWS)
            job_files.delete(job_id, UPLOAD)
            Job.objects.filter(pk=job_id).update(
                progress_done=result.total_rows, progress_total=result.total_rows
            )
            jobs.job_succeeded(job_id, result.as_dict())
    except ImportFileError as exc:
        _fail(job_id, exc.message)
    except Exception as exc:
        logger.exception("import job %s failed", job_id)
        _fail(job_id, f"The import failed ({type(exc).__name__}); nothing was imported")
        raise


def _fail(job_id: int, message: str) -> None:
    with transaction.atomic():
        job_files.delete(job_id, UPLOAD)
        job_files.delete(job_id, FAILED_ROWS)
        jobs.job_failed(job_id, message)


def import_job_failed_rows(job: Job) -> Any | None:
    """The chunks of a finished import's failed-rows report, or None when it has none."""
    if not job_files.exists(job.pk, FAILED_ROWS):
        return None
    return job_files.stream(job.pk, FAILED_ROWS)
