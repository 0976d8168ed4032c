"""Imports as background jobs: POST /issues/import with `Prefer: respond-async`, the upload
stored in the database, and the job run by real workers (one transaction: a killed worker
leaves nothing written, and the retry imports every row exactly once)."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from tracker.imports import job_files
from tracker.models import Issue, IssueEvent, IssueLabel, Job, JobFileChunk
from tracker.services import import_jobs

from .factories import UserFactory
from .workers import running_worker, stop, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


URL = "/issues/import"
ASYNC = {"HTTP_PREFER": "respond-async"}
CSV = (
    b"title,assignee_id,status,labels\n"
    b"Login bug,,open,bug\nPayment issue,,closed,bug;billing\n,,open,\nInvalid user,999,open,\n"
)


def upload(data: bytes, name: str = "issues.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def big_csv(rows: int) -> bytes:
    lines = [b"title,status,labels,description"]
    lines += [f"Issue {n},open,bulk;n{n % 7},Row {n} of a big file".encode() for n in range(rows)]
    return b"\n".join(lines) + b"\n"


def queue_id(job: Job) -> int:
    assert job.queue_job_id is not None
    return job.queue_job_id


def result(job: Job) -> dict:
    assert isinstance(job.result, dict)
    return job.result


def run(job: Job) -> Job:
    """Run the job's task here, as a worker would."""
    queued = ProcrastinateJob.objects.get(pk=queue_id(job))
    import_jobs.import_job_run(**queued.args)
    job.refresh_from_db()
    return job


def test_respond_async_answers_202_with_the_queued_job(api):
    response = api.post(URL, {"file": upload(CSV)}, format="multipart", **ASYNC)
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == f"/jobs/{body['id']}"
    assert response["Preference-Applied"] == "respond-async"
    assert body["kind"] == "import" and body["status"] == "queued"
    assert body["progress"] == {"done": 0, "total": 4}
    assert api.get(response["Location"]).json() == body
    stored = JobFileChunk.objects.filter(job_id=body["id"], kind="upload")
    assert b"".join(bytes(chunk.data) for chunk in stored.order_by("seq")) == CSV
    assert Issue.objects.count() == 0, "nothing imported before a worker runs it"


def test_without_the_header_the_answer_is_synchronous(api):
    response = api.post(URL, {"file": upload(CSV)}, format="multipart")
    assert response.status_code == 200
    assert "Preference-Applied" not in response
    assert Job.objects.count() == 0


def test_the_preference_is_found_among_others(api):
    headers = {"HTTP_PREFER": "return=minimal, Respond-Async; wait=5"}
    response = api.post(URL, {"file": upload(CSV)}, format="multipart", **headers)
    assert response.status_code == 202


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (None, 400, "no_file"),
        (b"PK\x03\x04rest of a workbook", 400, "not_csv"),
        (b"\xff\xfet\x00i\x00", 400, "not_utf8"),
        (b"name,status\nx,open\n", 400, "missing_title_column"),
        (b"", 400, "empty_file"),
    ],
)
def test_a_file_refused_by_its_start_is_refused_before_queueing(api, data, status, code):
    payload = {} if data is None else {"file": upload(data)}
    response = api.post(URL, payload, format="multipart", **ASYNC)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert Job.objects.count() == 0 and JobFileChunk.objects.count() == 0


def test_a_file_too_large_is_refused_before_queueing(api, settings):
    settings.TRACKER_IMPORT_MAX_BYTES = 100
    response = api.post(URL, {"file": upload(big_csv(20))}, format="multipart", **ASYNC)
    assert (response.status_code, response.json()["code"]) == (413, "file_too_large")
    assert Job.objects.count() == 0


def test_the_jobs_result_is_the_synchronous_answer_and_the_upload_is_removed(api):
    UserFactory.create(name="Alice")
    synchronous = api.post(f"{URL}?dry_run=true", {"file": upload(CSV)}, format="multipart")
    queued = api.post(f"{URL}?dry_run=true", {"file": upload(CSV)}, format="multipart", **ASYNC)
    job = run(Job.objects.get(pk=queued.json()["id"]))
    assert job.status == "succeeded" and job.attempts == 1
    assert job.result == synchronous.json()
    assert Issue.objects.count() == 0, "a dry run writes nothing"

    queued = api.post(URL, {"file": upload(CSV)}, format="multipart", **ASYNC)
    job = run(Job.objects.get(pk=queued.json()["id"]))
    body = api.get(f"/jobs/{job.pk}").json()
    assert body["status"] == "succeeded"
    assert body["result"] == {**synchronous.json(), "dry_run": False}
    assert body["progress"] == {"done": 4, "total": 4}
    assert Issue.objects.count() == 2
    assert set(IssueEvent.objects.values_list("source", flat=True)) == {"import"}
    assert JobFileChunk.objects.count() == 0


def test_a_problem_further_down_fails_the_job_and_writes_nothing(api):
    data = big_csv(3000) + b"Bad \xff bytes,open,,\n"
    queued = api.post(URL, {"file": upload(data)}, format="multipart", **ASYNC)
    assert queued.status_code == 202
    job = run(Job.objects.get(pk=queued.json()["id"]))
    body = api.get(f"/jobs/{job.pk}").json()
    assert body["status"] == "failed"
    assert "not UTF-8" in body["error"]
    assert body["result"] is None
    assert Issue.objects.count() == 0
    assert JobFileChunk.objects.count() == 0


def test_the_failed_rows_report_is_kept_when_asked():
    job = import_jobs.import_job_create(io.BytesIO(CSV), actor=None, keep_failed_rows=True)
    run(job)
    report = b"".join(import_jobs.import_job_failed_rows(job) or [])
    assert report.decode().splitlines() == [
        "title,assignee_id,status,labels,row,error",
        ",,open,,3,Title is required",
        "Invalid user,999,open,,4,Invalid assignee_id",
    ]


def test_a_file_of_several_chunks_reads_back_as_it_was(monkeypatch):
    monkeypatch.setattr(job_files, "CHUNK_BYTES", 1000)
    data = big_csv(500)
    job = import_jobs.import_job_create(io.BytesIO(data), actor=None)
    assert JobFileChunk.objects.filter(job=job).count() == len(data) // 1000 + 1
    with job_files.ChunkReader.open(job.pk, "upload") as binary:
        assert binary.read(10) == data[:10]
        binary.seek(0)
        assert binary.read() == data
    assert result(run(job))["created"] == 500


def test_a_real_worker_runs_the_import_with_its_progress(api):
    queued = api.post(URL, {"file": upload(big_csv(30_000))}, format="multipart", **ASYNC)
    location = queued["Location"]
    with running_worker():
        body = wait_until(
            lambda: (b := api.get(location).json())["status"] in ("succeeded", "failed") and b,
            timeout=120,
        )
    assert body["status"] == "succeeded", body["error"]
    assert body["progress"] == {"done": 30_000, "total": 30_000}
    assert body["result"]["created"] == 30_000
    assert Issue.objects.count() == 30_000


def test_a_worker_killed_midway_leaves_nothing_and_the_retry_imports_every_row_once():
    rows = 150_000
    job = import_jobs.import_job_create(io.BytesIO(big_csv(rows)), actor=None)
    with running_worker(name="doomed") as process:
        wait_until(lambda: Job.objects.get(pk=job.pk).progress_done > 0, timeout=120)
        stop(process, kill=True)
    job.refresh_from_db()
    assert job.status == "running" and 0 < job.progress_done < rows, "killed midway"
    assert Issue.objects.count() == 0 and IssueEvent.objects.count() == 0
    assert IssueLabel.objects.count() == 0
    assert ProcrastinateJob.objects.get(pk=queue_id(job)).status == "doing"
    assert JobFileChunk.objects.filter(job=job, kind="upload").exists(), "kept for the retry"

    # What tasks.retry_stalled_jobs does once the dead worker's heartbeat is old enough.
    app.job_manager.retry_job_by_id(queue_id(job), retry_at=timezone.now())
    with running_worker(name="second"):
        wait_until(lambda: Job.objects.get(pk=job.pk).status == "succeeded", timeout=180)
    job.refresh_from_db()
    assert job.attempts == 2
    assert result(job)["created"] == rows
    assert Issue.objects.count() == rows
    assert Issue.objects.values("title").distinct().count() == rows, "each row exactly once"
    assert IssueEvent.objects.count() == rows
    assert JobFileChunk.objects.filter(job=job).count() == 0
