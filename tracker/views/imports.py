"""The CSV import page: upload -> preview (a dry run) -> confirm -> result.

Between the preview and the confirmation the upload waits in a temporary file, named by a
random token that only the session which uploaded it knows; the rows that failed are kept
beside it as a ready-made CSV for the download. One import per session: a new upload, a
cancel or a finished import removes the files of the previous one, and files left by
abandoned sessions are swept after a day.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tracker import csv_import
from tracker.models import IssueEvent

from .access import actor_of, writes_need_login

IMPORT_DIR = Path(tempfile.gettempdir()) / "tracker-imports"
SESSION_KEY = "csv_import"
SHOWN_ERRORS = 100
STALE_SECONDS = 24 * 3600


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 CSV with a header row: title (required), assignee_id, status, "
        "description, labels (separated by ;).",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


# --- Temporary files.


def _upload_path(token: str) -> Path:
    return IMPORT_DIR / f"{token}.csv"


def _report_path(token: str) -> Path:
    return IMPORT_DIR / f"{token}.errors.csv"


def _remove_files(token: str) -> None:
    _upload_path(token).unlink(missing_ok=True)
    _report_path(token).unlink(missing_ok=True)


def _sweep_stale_files() -> None:
    cutoff = time.time() - STALE_SECONDS
    for path in IMPORT_DIR.glob("*.csv"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def _save_upload(upload) -> str:
    IMPORT_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    _sweep_stale_files()
    token = secrets.token_urlsafe(24)
    with _upload_path(token).open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return token


def _run(token: str, *, dry_run: bool, actor) -> csv_import.ImportResult:
    """Import (or check) the stored upload and refresh its error report."""
    with _upload_path(token).open("rb") as binary:
        result = csv_import.import_issues(
            binary, dry_run=dry_run, actor=actor, source=IssueEvent.Source.IMPORT
        )
        _report_path(token).unlink(missing_ok=True)
        if result.errors:
            with _report_path(token).open("w", encoding="utf-8", newline="") as out:
                csv_import.write_error_report(binary, result.errors, out)
    return result


# --- Session state.


def _pending(request: HttpRequest) -> dict | None:
    return request.session.get(SESSION_KEY)


def _forget(request: HttpRequest) -> None:
    state = request.session.pop(SESSION_KEY, None)
    if state:
        _remove_files(state["token"])


def _remember(request: HttpRequest, token: str, name: str, result, stage: str) -> None:
    summary = result.as_dict()
    summary["shown_errors"] = summary["errors"][:SHOWN_ERRORS]
    summary["error_count"] = len(summary.pop("errors"))
    request.session[SESSION_KEY] = {"token": token, "name": name, "stage": stage, **summary}


# --- Views.


@require_http_methods(["GET", "POST"])
@writes_need_login(fallback="ui:import")
def import_upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if getattr(request, "upload_too_large", False):
        # The file was not received at all (uploads.UploadSizeLimit): say why.
        form = UploadForm()
        try:
            csv_import.check_upload(None, request=request)
        except csv_import.ImportFileError as exc:
            form.errors["file"] = form.error_class([exc.message])
    elif request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            csv_import.check_upload(upload)
            _forget(request)
            token = _save_upload(upload)
            try:
                result = _run(token, dry_run=True, actor=actor_of(request))
            except csv_import.ImportFileError:
                _remove_files(token)
                raise
        except csv_import.ImportFileError as exc:
            form.add_error("file", forms.ValidationError(exc.message, code=exc.code))
        else:
            _remember(request, token, upload.name, result, stage="preview")
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


@require_POST
@writes_need_login(fallback="ui:import")
def import_confirm(request: HttpRequest) -> HttpResponse:
    state = _pending(request)
    if not state or state["stage"] != "preview" or request.POST.get("token") != state["token"]:
        messages.error(request, "This import is no longer waiting; upload the file again.")
        return redirect("ui:import")
    token = state["token"]
    try:
        result = _run(token, dry_run=False, actor=actor_of(request))
    except csv_import.ImportFileError as exc:
        _forget(request)
        messages.error(request, exc.message)
        return redirect("ui:import")
    _upload_path(token).unlink(missing_ok=True)
    _remember(request, token, state["name"], result, stage="done")
    messages.success(
        request, f"Imported {result.created:,} issues; {result.failed:,} rows were not imported."
    )
    return redirect("ui:import-result")


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


@require_GET
@writes_need_login(fallback="ui:import")
def import_errors_csv(request: HttpRequest) -> FileResponse:
    state = _pending(request)
    path = _report_path(state["token"]) if state else None
    if path is None or not path.exists():
        raise Http404("No error report")
    name = Path(state["name"]).stem or "import"
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"{name}-errors.csv",
        content_type="text/csv; charset=utf-8",
    )
