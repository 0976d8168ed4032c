"""Queue a check job and wait for a worker to run it: is the queue being served?"""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from tracker.models import Job
from tracker.services import jobs


class Command(BaseCommand):
    help = "Queue a check job and wait until a worker has run it (exit 1 after --timeout)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=30.0)

    def handle(self, *args, **options):
        job = jobs.job_create(Job.Kind.CHECK, actor=None, task_name="tracker.tasks.check")
        deadline = time.monotonic() + options["timeout"]
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.status == Job.Status.SUCCEEDED:
                self.stdout.write(f"Job {job.pk} ran on worker {(job.result or {})['worker']}.")
                return
            time.sleep(0.2)
        raise CommandError(
            f"No worker ran job {job.pk} within {options['timeout']:g} s: "
            "is `manage.py procrastinate worker` running against this database?"
        )
