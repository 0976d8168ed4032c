"""The server-rendered pages, under /ui/."""

from django.urls import path

from .views import imports

app_name = "ui"

urlpatterns: list = [
    path("import/", imports.import_upload, name="import"),
    path("import/preview/", imports.import_preview, name="import-preview"),
    path("import/confirm/", imports.import_confirm, name="import-confirm"),
    path("import/cancel/", imports.import_cancel, name="import-cancel"),
    path("import/result/", imports.import_result, name="import-result"),
    path("import/errors.csv", imports.import_errors_csv, name="import-errors"),
]
