"""The server-rendered pages, under /ui/."""

from django.urls import path

from .views import (
    imports,
    issue_page,
    issues,
    markdown_preview,
    people,
    personal,
    profile,
    reports,
)

app_name = "ui"

urlpatterns = [
    path("issues/", issues.issue_list, name="issue-list"),
    path("issues/new/", issues.issue_new, name="issue-new"),
    path("issues/bulk-status/", issues.issue_bulk_status, name="issue-bulk-status"),
    path("issues/<int:issue_id>/", issue_page.issue_detail, name="issue-detail"),
    path("issues/<int:issue_id>/edit/", issue_page.issue_edit, name="issue-edit"),
    path("issues/<int:issue_id>/labels/", issue_page.issue_labels, name="issue-labels"),
    path("issues/<int:issue_id>/comments/", issue_page.issue_comment_add, name="issue-comment-add"),
    path("issues/<int:issue_id>/watch/", personal.issue_watch, name="issue-watch"),
    path("my/", personal.my_issues, name="my-issues"),
    path("inbox/", personal.inbox, name="inbox"),
    path("inbox/read/", personal.inbox_read, name="inbox-read"),
    path("views/", personal.saved_view_list, name="saved-views"),
    path("views/new/", personal.saved_view_create, name="saved-view-create"),
    path("views/<int:view_id>/", personal.saved_view_open, name="saved-view"),
    path("views/<int:view_id>/change/", personal.saved_view_change, name="saved-view-change"),
    path("markdown/preview/", markdown_preview.markdown_preview, name="markdown-preview"),
    path("import/", imports.import_upload, name="import"),
    path("import/preview/", imports.import_preview, name="import-preview"),
    path("import/confirm/", imports.import_confirm, name="import-confirm"),
    path("import/cancel/", imports.import_cancel, name="import-cancel"),
    path("import/progress/", imports.import_progress, name="import-progress"),
    path("import/result/", imports.import_result, name="import-result"),
    path("import/errors.csv", imports.import_errors_csv, name="import-errors"),
    path("reports/", reports.dashboard, name="reports"),
    path("people/", people.people, name="people"),
    path("me/", profile.me, name="me"),
    path("unsubscribe/<str:token>/", profile.unsubscribe, name="unsubscribe"),
]
