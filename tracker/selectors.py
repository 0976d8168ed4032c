"""Every read that is more than a `get`. Each returns what its callers render, with the
related rows it needs fetched in a fixed number of queries."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, QuerySet
from django.http import QueryDict

from .errors import IssueNotFound
from .filters import IssueFilter
from .models import Comment, Issue, IssueEvent, Label, User


def _with_labels(queryset: QuerySet[Issue]) -> QuerySet[Issue]:
    return queryset.prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("name")))


def issue_list(*, filters: dict[str, Any] | None = None) -> QuerySet[Issue]:
    """Issues matching the list filters (see filters.IssueFilter), labels prefetched.

    Raises ValidationError for filter values that do not parse.
    """
    filterset = IssueFilter(filters or {}, queryset=_with_labels(Issue.objects.all()))
    if not filterset.is_valid():
        raise ValidationError(
            {
                field: [ValidationError(str(message), code="invalid") for message in messages]
                for field, messages in filterset.errors.items()
            }
        )
    return filterset.qs


def issue_detail(*, issue_id: int) -> Issue:
    """The issue with its labels, comments and assignee. Raises IssueNotFound."""
    issue = (
        _with_labels(Issue.objects.select_related("assignee"))
        .prefetch_related(
            Prefetch(
                "comments",
                queryset=Comment.objects.select_related("author").order_by("created_at", "id"),
            )
        )
        .filter(pk=issue_id)
        .first()
    )
    if issue is None:
        raise IssueNotFound()
    return issue


def issue_timeline(*, issue_id: int) -> list[IssueEvent]:
    """Every event of the issue in (timestamp, id) order. Raises IssueNotFound."""
    if not Issue.objects.filter(pk=issue_id).exists():
        raise IssueNotFound()
    return list(
        IssueEvent.objects.filter(issue_id=issue_id)
        .select_related("actor")
        .order_by("created_at", "id")
    )


def issue_status_counts(*, filters: QueryDict | None = None) -> dict[str, int]:
    """Issues per status among those matching `filters` (their own status filter left out,
    so the counts say what each status would show), in one GROUP BY query. Every status
    is present, zero when no issue has it. Raises ValidationError as issue_list does."""
    data = filters.copy() if filters is not None else QueryDict(mutable=True)
    data.pop("status", None)
    rows = (
        issue_list(filters=data)
        .prefetch_related(None)
        .order_by()
        .values_list("status")
        .annotate(count=Count("id"))
    )
    counts = dict.fromkeys(Issue.Status.values, 0)
    counts.update(dict(rows))
    return counts


def issue_events_since(*, issue_id: int, version: int) -> list[IssueEvent]:
    """The timeline events of the changes made after `version`, oldest first (comments left
    out: they do not change the version).

    Events carry no version number, but every change that bumps the version records all its
    events with that change's single timestamp. So the last (current version - `version`)
    distinct timestamps are exactly the changes since `version`; unlike a comparison of
    clocks, this holds whichever server made the change.
    """
    current = Issue.objects.filter(pk=issue_id).values_list("version", flat=True).first()
    if current is None:
        raise IssueNotFound()
    missed = current - version
    if missed <= 0:
        return []
    changes = IssueEvent.objects.filter(issue_id=issue_id).exclude(
        event=IssueEvent.Kind.COMMENT_ADDED
    )
    stamps = list(
        changes.order_by("-created_at").values_list("created_at", flat=True).distinct()[:missed]
    )
    if not stamps:
        return []
    return list(
        changes.filter(created_at__gte=stamps[-1])
        .select_related("actor")
        .order_by("created_at", "id")
    )


def label_list() -> QuerySet[Label]:
    return Label.objects.order_by("name")


def user_list() -> QuerySet[User]:
    return User.objects.order_by("id")
