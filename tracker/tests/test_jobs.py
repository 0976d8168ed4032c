"""The job engine: jobs deferred with the change that needs them, run by real workers."""

from __future__ import annotations

import pytest
from django.db import transaction
from procrastinate.contrib.django.models import ProcrastinateJob

from tracker.models import Job
from tracker.services import jobs

from .factories import UserFactory
from .workers import running_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

CHECK = "tracker.tasks.check"


def test_a_job_deferred_in_a_rolled_back_transaction_does_not_exist():
    with pytest.raises(RuntimeError), transaction.atomic():
        jobs.job_create(Job.Kind.CHECK, actor=None, task_name=CHECK)
        assert ProcrastinateJob.objects.count() == 1
        raise RuntimeError("the change fails")
    assert ProcrastinateJob.objects.count() == 0
    assert Job.objects.count() == 0


def test_a_committed_job_is_in_the_queue_before_any_worker_runs():
    job = jobs.job_create(Job.Kind.CHECK, actor=None, task_name=CHECK)
    queued = ProcrastinateJob.objects.get(pk=job.queue_job_id or 0)
    assert (queued.task_name, queued.status, queued.args) == (CHECK, "todo", {"job_id": job.pk})


def test_a_real_worker_runs_a_job_and_the_api_shows_it(api):
    job = jobs.job_create(Job.Kind.CHECK, actor=None, task_name=CHECK)
    assert api.get(f"/jobs/{job.pk}").json()["status"] == "queued"
    with running_worker():
        wait_until(lambda: Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED)
    body = api.get(f"/jobs/{job.pk}").json()
    assert body["status"] == "succeeded"
    assert body["started_at"] and body["finished_at"]
    assert body["result"]["worker"]
    assert ProcrastinateJob.objects.get(pk=job.queue_job_id or 0).status == "succeeded"


def test_two_workers_never_run_the_same_job_twice():
    created = [jobs.job_create(Job.Kind.CHECK, actor=None, task_name=CHECK) for _ in range(300)]
    with running_worker(name="one", concurrency=4), running_worker(name="two", concurrency=4):
        wait_until(
            lambda: Job.objects.filter(status=Job.Status.SUCCEEDED).count() == len(created),
            timeout=120,
        )
    done = Job.objects.filter(pk__in=[job.pk for job in created])
    assert sorted(set(done.values_list("attempts", flat=True))) == [1]
    workers = {(job.result or {})["worker"] for job in done}
    assert len(workers) == 2, "both workers took jobs"


def test_job_visibility_follows_the_auth_mode(api, settings):
    alice, bob = UserFactory.create(name="Alice"), UserFactory.create(name="Bob")
    staff = UserFactory.create(name="Sam", is_staff=True)
    job = jobs.job_create(Job.Kind.CHECK, actor=alice, task_name=CHECK)
    assert api.get(f"/jobs/{job.pk}").status_code == 200
    settings.TRACKER_REQUIRE_AUTH = True
    assert api.get(f"/jobs/{job.pk}").status_code == 404
    for viewer, status in ((bob, 404), (alice, 200), (staff, 200)):
        api.force_authenticate(viewer)
        assert api.get(f"/jobs/{job.pk}").status_code == status
    missing = api.get("/jobs/999999")
    assert (missing.status_code, missing.json()["code"]) == (404, "job_not_found")
