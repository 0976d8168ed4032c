"""Background jobs, run by `manage.py procrastinate worker`. Thin: each calls a service.

Tasks are deferred through `services.jobs.defer` (by name, in the transaction of the change
that needs them) and retried as each says. Two periodic tasks keep the queue healthy: jobs
left `doing` by a worker that died are retried, and old finished jobs are pruned.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from procrastinate import App, BaseRetryStrategy, JobContext, RetryDecision, RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.jobs import Job as QueueJob

from tracker.services import import_jobs, jobs, notifications, webhooks

logger = logging.getLogger(__name__)


def record_failure(call_next: Any, context: JobContext, worker: Any) -> Any:
    """Worker-wide middleware of sync tasks: an attempt that raises is recorded (the admin
    shows it beside the queue's job), then the queue retries or fails the job as the task
    says."""
    try:
        return call_next()
    except Exception as exc:
        _record(context, exc)
        raise


async def record_failure_async(call_next: Any, context: JobContext, worker: Any) -> Any:
    try:
        return await call_next()
    except Exception as exc:
        await sync_to_async(_record)(context, exc)
        raise


def _record(context: JobContext, exc: BaseException) -> None:
    job = context.job
    with contextlib.suppress(DatabaseError):
        jobs.failure_record(job.id or 0, job.task_name, job.attempts + 1, exc)


def on_app_ready(ready_app: App) -> None:
    """PROCRASTINATE_ON_APP_READY: the worker-wide middlewares."""
    middleware = ready_app.worker_defaults.setdefault("task_middleware", [])
    middleware += [record_failure, record_failure_async]


@app.periodic(cron="* * * * *", periodic_id="retry-stalled")
@app.task(queue="maintenance", queueing_lock="retry_stalled_jobs", pass_context=True)
async def retry_stalled_jobs(context: JobContext, timestamp: int) -> None:
    """Jobs left `doing` by a worker that stopped sending heartbeats (killed, lost) go back
    to the queue."""
    for job in await context.app.job_manager.get_stalled_jobs():
        logger.warning("retrying job %s (%s) left by a stalled worker", job.id, job.task_name)
        await context.app.job_manager.retry_job(job)


@app.periodic(cron="17 * * * *", periodic_id="prune-jobs")
@app.task(queue="maintenance", queueing_lock="prune_jobs", pass_context=True)
async def prune_jobs(context: JobContext, timestamp: int) -> None:
    """Finished jobs, and finished webhook deliveries, older than TRACKER_JOBS_KEEP_HOURS are
    deleted (the queue's and ours)."""
    hours = settings.TRACKER_JOBS_KEEP_HOURS
    await context.app.job_manager.delete_old_jobs(
        nb_hours=hours, include_failed=True, include_cancelled=True, include_aborted=True
    )
    await sync_to_async(jobs.jobs_prune)(hours)
    await sync_to_async(webhooks.deliveries_prune)(hours)


@app.task(queue="default")
def check(job_id: int) -> None:
    """A worker answers: `manage.py check_worker` queues this and waits for it."""
    jobs.job_started(job_id)
    jobs.job_succeeded(job_id, {"worker": f"{socket.gethostname()}:{os.getpid()}"})


class DeliveryRetryStrategy(BaseRetryStrategy):
    """A webhook job is retried, in place, when a delivery asks for it (its wait grows with
    that delivery's own attempts, not the job's: a batch retries for each of its deliveries).
    The job keeps its id and lock, so the webhook's later jobs wait behind it: order holds."""

    def get_retry_decision(
        self, *, exception: BaseException, job: QueueJob
    ) -> RetryDecision | None:
        if isinstance(exception, webhooks.DeliveryToRetry):
            return RetryDecision(retry_at=timezone.now() + timedelta(seconds=exception.wait))
        return None


@app.task(queue="webhooks", retry=DeliveryRetryStrategy())
def deliver_webhooks(webhook_id: int, delivery_ids: list[int]) -> None:
    """Sends a change's (or a batch's) deliveries to one webhook, in order."""
    webhooks.deliveries_send(webhook_id=webhook_id, delivery_ids=delivery_ids)


# The mail server may be down for a while: retried after 3 s, 9 s, 27 s ... 6561 s (about
# 2.7 hours in all) before the job fails; until then nothing is marked e-mailed.
@app.task(queue="email", retry=RetryStrategy(max_attempts=9, exponential_wait=3))
def send_notification_emails(recipient_id: int) -> None:
    """One e-mail with a person's notifications not yet e-mailed."""
    notifications.notifications_email_send(recipient_id=recipient_id)


@app.task(queue="default")
def import_issues(
    job_id: int, dry_run: bool = False, actor_id: int | None = None, keep_failed_rows: bool = False
) -> None:
    """A CSV import queued by POST /issues/import (`Prefer: respond-async`) or the import
    page. Not retried on error (the job fails with the reason); a worker that dies midway
    leaves nothing written, and retry_stalled_jobs runs it again."""
    import_jobs.import_job_run(
        job_id, dry_run=dry_run, actor_id=actor_id, keep_failed_rows=keep_failed_rows
    )
