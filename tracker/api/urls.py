"""The REST API at the original system's paths, each with and without a trailing slash
(no redirects: a redirected POST loses its body)."""

from django.urls import path

from . import exports, jobs, reports, views, watchers, webhooks


def both(route: str, view, name: str) -> list:
    return [path(route, view, name=name), path(f"{route}/", view)]


urlpatterns = [
    *both("users", views.UserListCreateView.as_view(), "api-users"),
    *both("users/<int:user_id>", views.UserDetailView.as_view(), "api-user"),
    *both("issues", views.IssueListCreateView.as_view(), "api-issues"),
    *both("issues/bulk-status", views.IssuesBulkStatusView.as_view(), "api-issues-bulk-status"),
    *both("issues/import", views.IssuesImportView.as_view(), "api-issues-import"),
    *both("issues/export", exports.IssuesExportView.as_view(), "api-issues-export"),
    *both("issues/<int:issue_id>", views.IssueDetailView.as_view(), "api-issue"),
    *both("issues/<int:issue_id>/labels", views.IssueLabelsView.as_view(), "api-issue-labels"),
    *both(
        "issues/<int:issue_id>/comments", views.IssueCommentsView.as_view(), "api-issue-comments"
    ),
    *both(
        "issues/<int:issue_id>/timeline", views.IssueTimelineView.as_view(), "api-issue-timeline"
    ),
    *both(
        "issues/<int:issue_id>/watchers",
        watchers.WatcherListView.as_view(),
        "api-issue-watchers",
    ),
    *both(
        "issues/<int:issue_id>/watchers/<int:user_id>",
        watchers.WatcherDetailView.as_view(),
        "api-issue-watcher",
    ),
    *both("notifications", watchers.NotificationListView.as_view(), "api-notifications"),
    *both("notifications/read", watchers.NotificationReadView.as_view(), "api-notifications-read"),
    *both("jobs/<int:job_id>", jobs.JobDetailView.as_view(), "api-job"),
    *both("webhooks", webhooks.WebhookListView.as_view(), "api-webhooks"),
    *both("webhooks/<int:webhook_id>", webhooks.WebhookDetailView.as_view(), "api-webhook"),
    *both(
        "webhooks/<int:webhook_id>/deliveries",
        webhooks.DeliveryListView.as_view(),
        "api-webhook-deliveries",
    ),
    *both(
        "webhooks/<int:webhook_id>/deliveries/<uuid:delivery_id>/redeliver",
        webhooks.DeliveryRedeliverView.as_view(),
        "api-webhook-redeliver",
    ),
    *both("reports/top-assignees", reports.TopAssigneesView.as_view(), "api-report-top-assignees"),
    *both("reports/latency", reports.LatencyView.as_view(), "api-report-latency"),
    *both(
        "reports/created-vs-resolved",
        reports.CreatedVsResolvedView.as_view(),
        "api-report-created-vs-resolved",
    ),
]
