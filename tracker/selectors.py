"""Every read that is more than a `get`. Each returns what its callers render, with the
related rows it needs fetched in a fixed number of queries."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet

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


def user_list() -> QuerySet[User]:
    return User.objects.order_by("id")
