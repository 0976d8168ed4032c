"""The issue page (details, labels, comments, timeline) and its edit form, with the
conflict page shown when someone else changed the issue since it was read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tracker import selectors, services
from tracker.actors import actor_of
from tracker.errors import VersionConflict
from tracker.forms import CommentForm, IssueEditForm, IssueLabelsForm, add_service_errors
from tracker.markdown import MarkdownBatch
from tracker.models import Issue, IssueEvent, User
from tracker.rules import is_overdue, merge_label_names
from tracker.templatetags.issue_ui import priority_label, status_label

from .access import can_write, safe_next, writes_need_login

WEB = IssueEvent.Source.WEB
Status = Issue.Status
# The one-click status changes offered beside the title, by current status (looked up by
# the issue's stored value, a str equal to its member).
STATUS_ACTIONS: dict[str, list[tuple[Status, str]]] = {
    Status.OPEN: [(Status.IN_PROGRESS, "Start progress"), (Status.CLOSED, "Close issue")],
    Status.IN_PROGRESS: [(Status.OPEN, "Stop progress"), (Status.CLOSED, "Close issue")],
    Status.CLOSED: [(Status.OPEN, "Reopen issue")],
}


# The comment form's second button: the status it sets along with the comment, by the
# issue's current status (closed issues are reopened, the others closed).
COMMENT_STATUS_ACTIONS: dict[str, tuple[Status, str]] = {
    Status.OPEN: (Status.CLOSED, "Close with comment"),
    Status.IN_PROGRESS: (Status.CLOSED, "Close with comment"),
    Status.CLOSED: (Status.OPEN, "Reopen with comment"),
}


def list_back(request: HttpRequest, candidate: str | None) -> str:
    """The issue list as the visitor left it (filters, sort, search, page), from the `back`
    parameter the list's links carry; the plain list when it is missing or is anything but
    the issue list on this site (never an open redirect)."""
    default = reverse("ui:issue-list")
    back = safe_next(request, candidate, default)
    return back if back.split("?", 1)[0] == default else default


def _back(request: HttpRequest) -> str:
    return list_back(request, request.POST.get("back") or request.GET.get("back"))


def _back_context(request: HttpRequest) -> dict[str, Any]:
    """`back` for the "All issues" link, and whether the forms must carry it along."""
    back = _back(request)
    return {"back": back, "back_is_list": back != reverse("ui:issue-list")}


def issue_url(request: HttpRequest, issue_id: int, *, anchor: str = "", **params: str) -> str:
    """The issue page's address, keeping its way back to the list."""
    query = QueryDict(mutable=True)
    back = _back(request)
    if back != reverse("ui:issue-list"):
        query["back"] = back
    query.update(params)
    url = reverse("ui:issue-detail", kwargs={"issue_id": issue_id})
    return url + (f"?{query.urlencode(safe='/')}" if query else "") + anchor


@dataclass(frozen=True)
class ConflictRow:
    field: str
    yours: str
    theirs: str


def _comment_form(request: HttpRequest, data: Any = None) -> CommentForm:
    # A signed-in person comments as themselves (the service's rule); an anonymous visitor
    # in open mode picks the author, as in the original system.
    if actor_of(request) is not None or settings.TRACKER_REQUIRE_AUTH:
        return CommentForm(data, users=None)
    return CommentForm(data, users=selectors.users_to_pick())


def _issue_page(
    request: HttpRequest,
    issue_id: int,
    *,
    comment_form: CommentForm | None = None,
    labels_form: IssueLabelsForm | None = None,
) -> HttpResponse:
    issue = selectors.issue_detail(issue_id=issue_id)
    newest_first = request.GET.get("order") == "newest"
    events = selectors.issue_timeline(issue_id=issue_id)
    if newest_first:
        events.reverse()
    if labels_form is None:
        names = [label.name for label in issue.labels.all()]
        labels_form = IssueLabelsForm(
            initial={"version": issue.version, "labels": names, "read": names}
        )
        labels_form.set_label_choices(selectors.label_list())
    texts = [issue.description, *(comment.body for comment in issue.comments.all())]
    me = actor_of(request)
    watch_count, watching = selectors.watch_summary(
        issue_id=issue.pk, user_id=me.pk if me is not None else None
    )
    context = {
        "watch_count": watch_count,
        "watching": watching,
        "nav": "issues",
        "issue": issue,
        "markdown": MarkdownBatch(texts),
        "events": events,
        "newest_first": newest_first,
        "can_write": can_write(request),
        "comment_form": comment_form or _comment_form(request),
        "labels_form": labels_form,
        "status_actions": STATUS_ACTIONS[issue.status],
        "overdue": is_overdue(issue.status, issue.due_date),
    }
    context.update(_back_context(request))
    context["comment_status_action"] = COMMENT_STATUS_ACTIONS[issue.status]
    context["order_urls"] = {
        order: issue_url(request, issue_id, anchor="#history", order=order)
        for order in ("oldest", "newest")
    }
    failed = (comment_form and comment_form.errors) or labels_form.errors
    return render(request, "tracker/issue_detail.html", context, status=400 if failed else 200)


@require_GET
def issue_detail(request: HttpRequest, issue_id: int) -> HttpResponse:
    return _issue_page(request, issue_id)


@writes_need_login
def issue_edit(request: HttpRequest, issue_id: int) -> HttpResponse:
    issue = selectors.issue_detail(issue_id=issue_id)
    # A deactivated assignee stays on offer: without it the picker would show "Nobody" and
    # saving any other change would unassign the issue unasked.
    users = list(selectors.users_to_pick(keep_id=issue.assignee_id))
    if request.method != "POST":
        form = IssueEditForm(initial=IssueEditForm.initial_for(issue), users=users)
    else:
        form = IssueEditForm(request.POST, users=users)
        if form.is_valid():
            changes = form.changes()
            if not changes:
                messages.info(request, "Nothing to save: no field was changed.")
                return redirect(issue_url(request, issue_id))
            try:
                services.issue_update(
                    issue_id=issue_id,
                    version=form.cleaned_data["version"],
                    actor=actor_of(request),
                    source=WEB,
                    **changes,
                )
            except VersionConflict:
                return _edit_conflict(request, issue_id, form, changes, users)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Issue #{issue_id} updated.")
                return redirect(issue_url(request, issue_id))
    return render(
        request,
        "tracker/issue_edit.html",
        {
            "nav": "issues",
            "issue": issue,
            "form": form,
            "issue_url": issue_url(request, issue_id),
            **_back_context(request),
        },
        status=400 if form.errors else 200,
    )


def _edit_conflict(
    request: HttpRequest,
    issue_id: int,
    form: IssueEditForm,
    changes: dict[str, Any],
    users: list[User],
) -> HttpResponse:
    """Nothing was written. Show what the others changed since the version this person read,
    their values beside the current ones, and a form that re-sends only this person's
    changes against the current version (so the fields they did not touch stay as they are)."""
    current = selectors.issue_detail(issue_id=issue_id)
    names = {user.pk: user.name for user in users}
    if current.assignee is not None:  # theirs may be someone the picker does not offer
        names[current.assignee.pk] = current.assignee.name

    def shown(field: str, value: Any) -> str:
        if field == "status":
            return status_label(value)
        if field == "priority":
            return priority_label(value)
        if field == "assignee_id":
            return names.get(value, f"user {value}") if value else "Nobody"
        return value or ""

    rows = [
        ConflictRow(
            str(form[field].label), shown(field, value), shown(field, getattr(current, field))
        )
        for field, value in changes.items()
    ]
    hidden: list[tuple[str, Any]] = [("version", current.version)]
    for field, value in changes.items():
        hidden.append((field, "" if value is None else value))
        theirs = getattr(current, field)
        hidden.append((form[field].html_initial_name, "" if theirs is None else theirs))
    return _conflict_page(request, current, form.cleaned_data["version"], rows, hidden, "edit")


def _conflict_page(
    request: HttpRequest,
    issue: Issue,
    read_version: int,
    rows: list[ConflictRow],
    hidden: list[tuple[str, Any]],
    what: str,
) -> HttpResponse:
    action = "ui:issue-edit" if what == "edit" else "ui:issue-labels"
    restart = "ui:issue-edit" if what == "edit" else "ui:issue-detail"
    context = {
        "nav": "issues",
        "issue": issue,
        "read_version": read_version,
        "rows": rows,
        "hidden": hidden,
        "events": selectors.issue_events_since(issue_id=issue.pk, version=read_version),
        "apply_url": reverse(action, kwargs={"issue_id": issue.pk}),
        "restart_url": _with_back(request, reverse(restart, kwargs={"issue_id": issue.pk})),
        "issue_url": issue_url(request, issue.pk),
        **_back_context(request),
    }
    return render(request, "tracker/issue_conflict.html", context, status=409)


@require_POST
@writes_need_login
def issue_labels(request: HttpRequest, issue_id: int) -> HttpResponse:
    form = IssueLabelsForm(request.POST)
    form.set_label_choices(selectors.label_list())
    if form.is_valid():
        names = form.label_names()
        read = form.cleaned_data["read"]
        try:
            _issue, labels = services.issue_labels_replace(
                issue_id=issue_id,
                labels=names,
                version=form.cleaned_data["version"],
                read=read,
                actor=actor_of(request),
                source=WEB,
            )
        except VersionConflict:
            return _labels_conflict(request, issue_id, form.cleaned_data["version"], names, read)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            shown = ", ".join(label.name for label in labels) or "none"
            messages.success(request, f"Labels saved: {shown}.")
            return redirect(issue_url(request, issue_id))
    return _issue_page(request, issue_id, labels_form=form)


def _labels_conflict(
    request: HttpRequest,
    issue_id: int,
    read_version: int,
    names: list[str],
    read: list[str] | None,
) -> HttpResponse:
    """ "Yours" is the current labels with this person's additions and removals applied
    applied (without `read`, their whole set), which is what applying sends."""
    current = selectors.issue_detail(issue_id=issue_id)
    theirs = [label.name for label in current.labels.all()]
    if read is not None:
        names = merge_label_names(theirs, read, names)
    rows = [ConflictRow("Labels", ", ".join(names) or "none", ", ".join(theirs) or "none")]
    hidden: list[tuple[str, Any]] = [("version", current.version)]
    hidden += [("labels", name) for name in names]
    if read is not None:
        hidden.append(("read", json.dumps(theirs)))
    return _conflict_page(request, current, read_version, rows, hidden, "labels")


@require_POST
@writes_need_login
def issue_comment_add(request: HttpRequest, issue_id: int) -> HttpResponse:
    """Add a comment; with the form's second button ("Close with comment", "Reopen with
    comment") also set the status, both in one transaction: either both happen or neither."""
    form = _comment_form(request, request.POST)
    set_status = request.POST.get("set_status") or None
    if form.is_valid():
        actor = actor_of(request)
        try:
            if set_status is None:
                services.comment_add(
                    issue_id=issue_id,
                    author_id=form.cleaned_data.get("author_id"),
                    body=form.cleaned_data["body"],
                    actor=actor,
                    source=WEB,
                )
            else:
                services.comment_add_setting_status(
                    issue_id=issue_id,
                    author_id=form.cleaned_data.get("author_id"),
                    body=form.cleaned_data["body"],
                    status=set_status,
                    version=_posted_version(request),
                    actor=actor,
                    source=WEB,
                )
        except VersionConflict:
            form.add_error(
                None,
                "Someone changed this issue since you opened it, so nothing was saved. "
                "Look at the change below, then send your comment again.",
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            if set_status is None:
                messages.success(request, "Comment added.")
            else:
                label = status_label(set_status)
                messages.success(request, f"Comment added and issue set to {label}.")
            return redirect(issue_url(request, issue_id, anchor="#comments"))
    return _issue_page(request, issue_id, comment_form=form)


def _posted_version(request: HttpRequest) -> int:
    """The version the page showed; a missing or garbled one is the service's to refuse."""
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return -1


def _with_back(request: HttpRequest, url: str) -> str:
    back = _back(request)
    if back == reverse("ui:issue-list"):
        return url
    return f"{url}?{QueryDict.fromkeys(['back'], back).urlencode(safe='/')}"
