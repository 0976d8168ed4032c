"""Uploads: the size limit every form and endpoint that takes a file shares, and the uploads
kept between the import page's preview and its confirmation."""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from tracker.errors import FileTooLarge, ImportFileError

STALE_SECONDS = 24 * 3600


class UploadSizeLimit(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: stops receiving a file as soon as it passes
    TRACKER_IMPORT_MAX_BYTES, so an oversized upload never fills the disk. The rest of the
    body is read and dropped; the view finds no file and `request.upload_too_large` set."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > settings.TRACKER_IMPORT_MAX_BYTES:
            self.request.upload_too_large = True  # type: ignore[union-attr]
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def _too_large(limit: int) -> FileTooLarge:
    return FileTooLarge(
        f"The file is larger than the limit of {limit:,} bytes; split it into smaller files"
    )


def check_upload(upload: Any, *, request: Any = None, max_bytes: int | None = None) -> None:
    """Refuse a missing or oversized upload before reading it (`request`: the one it came
    with, whose oversized file UploadSizeLimit stopped receiving)."""
    limit = settings.TRACKER_IMPORT_MAX_BYTES if max_bytes is None else max_bytes
    if getattr(request, "upload_too_large", False):
        raise _too_large(limit)
    if upload is None:
        raise ImportFileError(
            "No file uploaded: send the CSV in the multipart field 'file'", code="no_file"
        )
    if upload.size > limit:
        raise _too_large(limit)


class StoredUpload:
    """An upload kept on disk between requests, with the report of its failed rows beside
    it, named by a random token that only its owner knows. Files older than a day are
    swept whenever a new upload is stored."""

    directory = Path(tempfile.gettempdir()) / "tracker-imports"

    def __init__(self, token: str) -> None:
        self.token = token

    @classmethod
    def save(cls, upload: UploadedFile) -> StoredUpload:
        cls.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        cls.sweep_stale()
        stored = cls(secrets.token_urlsafe(24))
        with stored.path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        return stored

    @classmethod
    def sweep_stale(cls) -> None:
        cutoff = time.time() - STALE_SECONDS
        for path in cls.directory.glob("*.csv"):
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)

    @property
    def path(self) -> Path:
        return self.directory / f"{self.token}.csv"

    @property
    def report_path(self) -> Path:
        return self.directory / f"{self.token}.errors.csv"

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self.report_path.unlink(missing_ok=True)
