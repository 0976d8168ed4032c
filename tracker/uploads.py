"""Upload handling shared by every form and endpoint that takes a file."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class UploadSizeLimit(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: stops receiving a file as soon as it passes
    TRACKER_IMPORT_MAX_BYTES, so an oversized upload never fills the disk. The rest of the
    body is read and dropped; the view finds no file and `request.upload_too_large` set."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > settings.TRACKER_IMPORT_MAX_BYTES:
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
