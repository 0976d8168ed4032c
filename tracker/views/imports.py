"""The CSV import page: upload -> preview (a dry run) -> confirm -> result.

Between the preview and the confirmation the upload waits on disk as a StoredUpload, named
by a random token that only the session which uploaded it knows; the rows that failed are
kept beside it as a ready-made CSV for the download. One import per session: a new upload,
a cancel or a finished import removes the files of the previous one.

A file larger than TRACKER_IMPORT_JOB_BYTES is imported, once confirmed, as a background
job (services/import_jobs.py): the page shows its progress (static/js/import-progress.js
polls GET /jobs/{id}) and then its result; its failed rows are kept with the job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from issuetracker.long_requests import long_request
from tracker import services
from tracker.actors import actor_of
from tracker.errors import ImportFileError, JobNotFound
from tracker.imports.rows import FailedRowsReport, ImportResult
from tracker.imports.uploads import StoredUpload, check_upload
from tracker.models import IssueEvent, Job, User
from tracker.rules import csv_columns_help
from tracker.services import import_jobs, jobs

from .access import writes_need_login

SESSION_KEY = "csv_import"
SHOWN_ERRORS = 100


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8 CSV with a header row: {csv_columns_help()}.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


def _run(stored: StoredUpload, *, dry_run: bool, actor: User | None) -> ImportResult:
    """Import (or check) the stored upload, writing its report of failed rows as it reads."""
    with (
        stored.path.open("rb") as binary,
        stored.report_path.open("w", encoding="utf-8", newline="") as report,
    ):
        result = services.issues_import(
            binary,
            dry_run=dry_run,
            actor=actor,
            source=IssueEvent.Source.IMPORT,
            failed_rows=FailedRowsReport(report),
        )
    if not result.errors:
        stored.report_path.unlink()
    return result


# --- Session state.


def _pending(request: HttpRequest) -> dict | None:
    return request.session.get(SESSION_KEY)


def _forget(request: HttpRequest) -> None:
    state = request.session.pop(SESSION_KEY, None)
    if state:
        StoredUpload(state["token"]).remove()


def _remember(
    request: HttpRequest,
    stored: StoredUpload,
    name: str,
    result: ImportResult | dict,
    stage: str,
    *,
    job_id: int | None = None,
) -> None:
    summary = dict(result) if isinstance(result, dict) else result.as_dict()
    summary["shown_errors"] = summary["errors"][:SHOWN_ERRORS]
    summary["error_count"] = len(summary.pop("errors"))
    request.session[SESSION_KEY] = {
        "token": stored.token,
        "name": name,
        "stage": stage,
        "job_id": job_id,
        **summary,
    }


# --- Views.


@long_request("POST")
@require_http_methods(["GET", "POST"])
@writes_need_login(fallback="ui:import")
def import_upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if getattr(request, "upload_too_large", False):
        # The file was not received at all (uploads.UploadSizeLimit): say why.
        form = UploadForm()
        try:
            check_upload(None, request=request)
        except ImportFileError as exc:
            form.errors["file"] = form.error_class([exc.message])
    elif request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            check_upload(upload)
            _forget(request)
            stored = StoredUpload.save(upload)
            try:
                result = _run(stored, dry_run=True, actor=actor_of(request))
            except ImportFileError:
                stored.remove()
                raise
        except ImportFileError as exc:
            form.add_error("file", forms.ValidationError(exc.message, code=exc.code))
        else:
            _remember(request, stored, upload.name, result, stage="preview")
            messages.info(
                request,
                f"Checked {result.total_rows:,} rows of {upload.name}: nothing is imported "
                "until you confirm.",
            )
            return redirect("ui:import-preview")
    return render(
        request, "tracker/imports/upload.html", {"form": form, "nav": "import", **_limits()}
    )


def _limits() -> dict[str, Any]:
    return {"max_bytes": settings.TRACKER_IMPORT_MAX_BYTES}


@require_GET
@writes_need_login(fallback="ui:import")
def import_preview(request: HttpRequest) -> HttpResponse:
    state = _pending(request)
    if not state or state["stage"] != "preview":
        messages.warning(request, "There is no import waiting for confirmation.")
        return redirect("ui:import")
    return render(request, "tracker/imports/preview.html", {"state": state, "nav": "import"})


@long_request("POST")
@require_POST
@writes_need_login(fallback="ui:import")
def import_confirm(request: HttpRequest) -> HttpResponse:
    state = _pending(request)
    if not state or state["stage"] != "preview" or request.POST.get("token") != state["token"]:
        messages.error(request, "This import is no longer waiting; upload the file again.")
        return redirect("ui:import")
    stored = StoredUpload(state["token"])
    if stored.path.exists() and stored.path.stat().st_size > settings.TRACKER_IMPORT_JOB_BYTES:
        return _start_job(request, state, stored)
    try:
        result = _run(stored, dry_run=False, actor=actor_of(request))
    except ImportFileError as exc:
        _forget(request)
        messages.error(request, exc.message)
        return redirect("ui:import")
    stored.path.unlink(missing_ok=True)
    _remember(request, stored, state["name"], result, stage="done")
    messages.success(
        request, f"Imported {result.created:,} issues; {result.failed:,} rows were not imported."
    )
    return redirect("ui:import-result")


def _start_job(request: HttpRequest, state: dict, stored: StoredUpload) -> HttpResponse:
    """Queue the confirmed import as a job (its upload now kept in the database) and show
    its progress."""
    try:
        with stored.path.open("rb") as binary:
            job = import_jobs.import_job_create(
                binary, actor=actor_of(request), keep_failed_rows=True
            )
    except ImportFileError as exc:
        _forget(request)
        messages.error(request, exc.message)
        return redirect("ui:import")
    stored.remove()
    request.session[SESSION_KEY] = {
        "token": stored.token,
        "name": state["name"],
        "stage": "running",
        "job_id": job.pk,
    }
    return redirect("ui:import-progress")


@require_GET
@writes_need_login(fallback="ui:import")
def import_progress(request: HttpRequest) -> HttpResponse:
    """The running import's progress; once it has ended, its result (or why it failed)."""
    state = _pending(request)
    if not state or state["stage"] != "running":
        return redirect("ui:import")
    try:
        job = jobs.job_get(state["job_id"], viewer=actor_of(request))
    except JobNotFound:
        request.session.pop(SESSION_KEY, None)
        messages.error(request, "This import is no longer known; upload the file again.")
        return redirect("ui:import")
    if job.status == Job.Status.SUCCEEDED:
        result: dict = job.result or {}
        stored = StoredUpload(state["token"])
        _remember(request, stored, state["name"], result, stage="done", job_id=job.pk)
        messages.success(
            request,
            f"Imported {result['created']:,} issues; {result['failed']:,} rows were not imported.",
        )
        return redirect("ui:import-result")
    if job.status == Job.Status.FAILED:
        request.session.pop(SESSION_KEY, None)
        messages.error(request, f"The import failed: {job.error}")
        return redirect("ui:import")
    return render(
        request, "tracker/imports/progress.html", {"state": state, "job": job, "nav": "import"}
    )


@require_GET
@writes_need_login(fallback="ui:import")
def import_result(request: HttpRequest) -> HttpResponse:
    state = _pending(request)
    if not state or state["stage"] != "done":
        return redirect("ui:import")
    return render(request, "tracker/imports/result.html", {"state": state, "nav": "import"})


@require_POST
@writes_need_login(fallback="ui:import")
def import_cancel(request: HttpRequest) -> HttpResponse:
    if _pending(request):
        _forget(request)
        messages.info(request, "Import cancelled: nothing was imported.")
    return redirect("ui:import")


@long_request("GET")
@require_GET
@writes_need_login(fallback="ui:import")
def import_errors_csv(request: HttpRequest) -> HttpResponseBase:
    state = _pending(request)
    if state and state.get("job_id"):
        return _job_errors_csv(request, state)
    path = StoredUpload(state["token"]).report_path if state else None
    if state is None or path is None or not path.exists():
        raise Http404("No error report")
    name = Path(state["name"]).stem or "import"
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"{name}-errors.csv",
        content_type="text/csv; charset=utf-8",
    )


def _job_errors_csv(request: HttpRequest, state: dict) -> HttpResponseBase:
    try:
        job = jobs.job_get(state["job_id"], viewer=actor_of(request))
    except JobNotFound as exc:
        raise Http404("No error report") from exc
    chunks = import_jobs.import_job_failed_rows(job)
    if chunks is None:
        raise Http404("No error report")
    name = Path(state["name"]).stem or "import"
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"{name}-errors.csv"
    )
    return response
