"""A signed-in person's pages: My issues, the inbox, saved views, watching an issue."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tracker import selectors
from tracker.actors import actor_of
from tracker.errors import DomainError, error_message
from tracker.models import Issue, Notification, User
from tracker.pagination import clean_per_page, keyset_page
from tracker.rules import parse_id
from tracker.services import notifications, saved_views, watchers

from .access import safe_next

MY_TABS = (
    ("assigned", "Assigned to me"),
    ("created", "Created by me"),
    ("watched", "Watched by me"),
)
INBOX_PER_PAGE = 50


def _me(request: HttpRequest) -> User:
    user = actor_of(request)
    assert user is not None  # login_required
    return user


@require_GET
@login_required
def my_issues(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    tab = request.GET.get("tab") or "assigned"
    if tab not in dict(MY_TABS):
        tab = "assigned"
    issues = {
        "assigned": lambda: selectors.issues_assigned_to(user_id=me.pk),
        "created": lambda: selectors.issues_created_by(user_id=me.pk),
        "watched": lambda: selectors.issues_watched_by(user_id=me.pk),
    }[tab]()
    page = keyset_page(
        issues.select_related("assignee"),
        order="-updated_at",
        cursor=request.GET.get("cursor") or None,
        per_page=clean_per_page(request.GET.get("per_page") or INBOX_PER_PAGE),
    )
    return render(
        request,
        "tracker/my_issues.html",
        {"nav": "mine", "tabs": MY_TABS, "tab": tab, "page": page},
    )


@require_GET
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    me = _me(request)
    unread_only = request.GET.get("unread") == "true"
    page = keyset_page(
        selectors.notification_list(recipient_id=me.pk, unread=True if unread_only else None),
        order="-id",
        cursor=request.GET.get("cursor") or None,
        per_page=clean_per_page(request.GET.get("per_page") or INBOX_PER_PAGE),
    )
    return render(
        request,
        "tracker/inbox.html",
        {
            "nav": "inbox",
            "page": page,
            "threads": _threads(cast(list[Notification], page.items)),
            "unread_only": unread_only,
        },
    )


@dataclass
class Thread:
    """One issue's notifications on an inbox page, newest first: the page shows one entry
    per issue, as a mail client shows a conversation."""

    issue: Issue
    items: list[Notification] = field(default_factory=list)

    @property
    def unread_ids(self) -> list[int]:
        return [n.pk for n in self.items if n.read_at is None]


def _threads(notifications: list[Notification]) -> list[Thread]:
    reasons = dict(Notification.Reason.choices)
    threads: dict[int, Thread] = {}
    for notification in notifications:
        notification.reason_label = reasons.get(notification.reason, notification.reason)  # type: ignore[attr-defined]
        thread = threads.setdefault(notification.issue_id, Thread(notification.issue))
        thread.items.append(notification)
    return list(threads.values())


@require_POST
@login_required
def inbox_read(request: HttpRequest) -> HttpResponse:
    ids = [pk for pk in (parse_id(value) for value in request.POST.getlist("id")) if pk]
    everything = request.POST.get("all") == "true"
    marked = notifications.notifications_mark_read(
        recipient=_me(request), ids=ids, everything=everything
    )
    messages.success(request, f"{marked} marked read.")
    return redirect(safe_next(request, request.POST.get("next"), reverse("ui:inbox")))


@require_POST
@login_required
def issue_watch(request: HttpRequest, issue_id: int) -> HttpResponse:
    me = _me(request)
    back = reverse("ui:issue-detail", args=[issue_id])
    try:
        if request.POST.get("watch") == "false":
            watchers.watch_remove(issue_id=issue_id, user_id=me.pk, actor=me)
            messages.success(request, "You no longer watch this issue.")
        else:
            watchers.watch_add(issue_id=issue_id, user_id=me.pk, actor=me)
            messages.success(request, "You watch this issue now.")
    except DomainError as exc:
        messages.error(request, error_message(exc))
        back = reverse("ui:issue-list")
    return redirect(back)


@login_required
def saved_view_list(request: HttpRequest) -> HttpResponse:
    views = selectors.saved_view_list(owner_id=_me(request).pk)
    return render(request, "tracker/saved_views.html", {"nav": "views", "views": views})


@require_POST
@login_required
def saved_view_create(request: HttpRequest) -> HttpResponse:
    query = request.POST.get("query", "")
    try:
        view = saved_views.saved_view_create(
            owner=_me(request), name=request.POST.get("name", ""), query=query
        )
    except ValidationError as exc:
        messages.error(request, f"The view was not saved: {error_message(exc)}")
        return redirect(reverse("ui:issue-list") + (f"?{query}" if query else ""))
    messages.success(request, f"View “{view.name}” saved.")
    return redirect("ui:saved-view", view_id=view.pk)


@require_GET
def saved_view_open(request: HttpRequest, view_id: int) -> HttpResponse:
    """A view's stable address: the list with its query string (for anyone with the link)."""
    view = selectors.saved_view_get(view_id=view_id)
    url = reverse("ui:issue-list")
    return redirect(f"{url}?{view.query}" if view.query else url)


@require_POST
@login_required
def saved_view_change(request: HttpRequest, view_id: int) -> HttpResponse:
    me = _me(request)
    try:
        if request.POST.get("action") == "delete":
            saved_views.saved_view_delete(view_id=view_id, owner=me)
            messages.success(request, "View deleted.")
        else:
            view = saved_views.saved_view_rename(
                view_id=view_id, owner=me, name=request.POST.get("name", "")
            )
            messages.success(request, f"View renamed to “{view.name}”.")
    except (DomainError, ValidationError) as exc:
        messages.error(request, error_message(exc))
    return redirect("ui:saved-views")
