"""Every read that is more than a `get`. Each returns what its callers render, with the
related rows it needs fetched in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import Lower
from django.http import QueryDict

from .errors import IssueNotFound, UserNotFound
from .filters import IssueFilter
from .models import Comment, Issue, IssueEvent, Label, User
from .rules import is_id, name_key


def _with_labels(queryset: QuerySet[Issue]) -> QuerySet[Issue]:
    return queryset.prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("name")))


def issue_list(*, filters: dict[str, Any] | None = None) -> QuerySet[Issue]:
    """Issues matching the list filters (see filters.IssueFilter), labels prefetched.

    Without `filters`, all issues (the API's filter backend applies the same IssueFilter).
    Raises ValidationError for filter values that do not parse.
    """
    queryset = _with_labels(Issue.objects.all())
    if filters is None:
        return queryset
    filterset = IssueFilter(filters, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationError(
            {
                field: [ValidationError(str(message), code="invalid") for message in messages]
                for field, messages in filterset.errors.items()
            }
        )
    return cast(QuerySet[Issue], filterset.qs)


def _check_issue_exists(issue_id: int) -> None:
    if not (is_id(issue_id) and Issue.objects.filter(pk=issue_id).exists()):
        raise IssueNotFound()


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
        if is_id(issue_id)
        else None
    )
    if issue is None:
        raise IssueNotFound()
    return issue


def issue_timeline(*, issue_id: int) -> list[IssueEvent]:
    """Every event of the issue in (timestamp, id) order. Raises IssueNotFound."""
    _check_issue_exists(issue_id)
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
    """The timeline events of the changes made after `version`, oldest first (comments
    carry no version: they do not change the issue). Raises IssueNotFound."""
    _check_issue_exists(issue_id)
    return list(
        IssueEvent.objects.filter(issue_id=issue_id, version__gt=version)
        .select_related("actor")
        .order_by("created_at", "id")
    )


def label_list() -> QuerySet[Label]:
    return Label.objects.order_by("name")


def comment_list(*, issue_id: int) -> QuerySet[Comment]:
    """The issue's comments, oldest first. Raises IssueNotFound."""
    _check_issue_exists(issue_id)
    return Comment.objects.filter(issue_id=issue_id).order_by("id")


def user_get(*, user_id: int) -> User:
    """Raises UserNotFound."""
    user = User.objects.filter(pk=user_id).first() if is_id(user_id) else None
    if user is None:
        raise UserNotFound()
    return user


def user_list() -> QuerySet[User]:
    return User.objects.order_by("id")


def users_to_pick(
    *, keep_id: int | None = None, among: QuerySet[User] | None = None
) -> QuerySet[User]:
    """The people a picker offers (assignee, comment author, the list's assignee filter):
    active users by name without regard to case, then id, as the People page lists them.

    `keep_id` is a user to offer even when deactivated: the value the picker already holds
    (an issue's assignee, the filter in use), so that showing and saving the form never
    silently drops it. `among` narrows a queryset instead of all users (the admin's search).
    """
    wanted = Q(is_active=True) if keep_id is None else Q(is_active=True) | Q(pk=keep_id)
    return (
        (among if among is not None else User.objects.all())
        .filter(wanted)
        .order_by(Lower("name"), "id")
    )


def user_named(*, name: str) -> User | None:
    """The first user (by id) whose name is `name` as rules.name_key compares names, or
    None. Compared here in Python, since the database has no casefold: a check made when
    someone adds a person, over a team's list of people."""
    key = name_key(name.strip())
    for user in User.objects.order_by("id").only("id", "name").iterator():
        if name_key(user.name.strip()) == key:
            return user
    return None


def existing_issue_ids(*, ids: Iterable[int]) -> frozenset[int]:
    """Which of `ids` name an issue, in one query."""
    wanted = [issue_id for issue_id in ids if is_id(issue_id)]
    if not wanted:
        return frozenset()
    return frozenset(Issue.objects.filter(pk__in=wanted).values_list("pk", flat=True))
