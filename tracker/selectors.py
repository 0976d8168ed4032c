"""Every read that is more than a `get`. Each returns what its callers render, with the
related rows it needs fetched in a fixed number of queries."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Count, Prefetch, Q, QuerySet
from django.db.models.functions import Lower
from django.http import QueryDict

from .errors import IssueNotFound, NotFound, UserNotFound
from .filters import IssueFilter
from .models import Comment, Issue, IssueEvent, Label, Notification, SavedView, User, Watch
from .rules import is_id, name_key


def _with_labels(queryset: QuerySet[Issue]) -> QuerySet[Issue]:
    return queryset.prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("name")))


def issue_list(*, filters: dict[str, Any] | None = None, request: Any = None) -> QuerySet[Issue]:
    """Issues matching the list filters (see filters.IssueFilter), labels prefetched.

    Without `filters`, all issues (the API's filter backend applies the same IssueFilter).
    Raises ValidationError for filter values that do not parse. `request` says who `me`
    (`assignee_id=me`) is.
    """
    queryset = _with_labels(Issue.objects.all())
    if filters is None:
        return queryset
    filterset = IssueFilter(filters, queryset=queryset, request=request)
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


def issue_status_counts(
    *, filters: QueryDict | None = None, request: Any = None, cap: int | None = None
) -> dict[str, int]:
    """Issues per status among those matching `filters` (their own status filter left out,
    so the counts say what each status would show), in one query. Every status is present,
    zero when no issue has it. Raises ValidationError as issue_list does.

    With `cap`, each status is counted up to `cap + 1` only (a count above `cap` means "more
    than cap"): a search that matches a third of a million issues then costs what its first
    pages cost, not a count of all its matches."""
    data = filters.copy() if filters is not None else QueryDict(mutable=True)
    data.pop("status", None)
    matching = issue_list(filters=data, request=request).prefetch_related(None).order_by()
    counts = dict.fromkeys(Issue.Status.values, 0)
    if cap is None:
        counts.update(dict(matching.values_list("status").annotate(count=Count("id"))))
        return counts
    parts: list[str] = []
    params: list[Any] = []
    for status in counts:
        sql, part_params = (
            matching.filter(status=status).values("id")[: cap + 1].query.sql_with_params()
        )
        parts.append(f"(SELECT count(*) FROM ({sql}) AS matches)")
        params += part_params
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        row = cursor.fetchone()
    return dict(zip(counts, row or (0,) * len(counts), strict=True))


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


def user_ids_by_username(*, usernames: Iterable[str]) -> dict[str, int]:
    """{username: id} of the active people with one of `usernames` (exact spelling), in one
    query: who an `@username` mentions."""
    wanted = sorted(set(usernames))
    if not wanted:
        return {}
    found = User.objects.filter(username__in=wanted, is_active=True).values_list("username", "pk")
    return {username: pk for username, pk in found if username}


def existing_issue_ids(*, ids: Iterable[int]) -> frozenset[int]:
    """Which of `ids` name an issue, in one query."""
    wanted = [issue_id for issue_id in ids if is_id(issue_id)]
    if not wanted:
        return frozenset()
    return frozenset(Issue.objects.filter(pk__in=wanted).values_list("pk", flat=True))


def watcher_list(*, issue_id: int) -> QuerySet[User]:
    """The people who watch an issue, in id order; raises IssueNotFound."""
    if not (is_id(issue_id) and Issue.objects.filter(pk=issue_id).exists()):
        raise IssueNotFound()
    return User.objects.filter(
        pk__in=Watch.objects.filter(issue_id=issue_id).values("user_id")
    ).order_by("id")


def notification_list(*, recipient_id: int, unread: bool | None = None) -> QuerySet[Notification]:
    """A person's notifications (sort them with the keyset pages), with issue and actor."""
    notifications = Notification.objects.filter(recipient_id=recipient_id).select_related(
        "issue", "actor"
    )
    if unread is not None:
        notifications = notifications.filter(read_at__isnull=unread)
    return notifications


def issues_assigned_to(*, user_id: int) -> QuerySet[Issue]:
    return Issue.objects.filter(assignee_id=user_id)


def issues_created_by(*, user_id: int) -> QuerySet[Issue]:
    return Issue.objects.filter(
        pk__in=IssueEvent.objects.filter(
            event=IssueEvent.Kind.ISSUE_CREATED, actor_id=user_id
        ).values("issue_id")
    )


def issues_watched_by(*, user_id: int) -> QuerySet[Issue]:
    return Issue.objects.filter(pk__in=Watch.objects.filter(user_id=user_id).values("issue_id"))


def saved_view_list(*, owner_id: int) -> QuerySet[SavedView]:
    return SavedView.objects.filter(owner_id=owner_id).order_by(Lower("name"), "id")


def saved_view_get(*, view_id: int) -> SavedView:
    """Raises NotFound (code `view_not_found`)."""
    view = SavedView.objects.filter(pk=view_id).first() if is_id(view_id) else None
    if view is None:
        raise NotFound("View not found", code="view_not_found")
    return view


def nav_counts(*, user_id: int) -> tuple[int, list[tuple[int, str]]]:
    """What the navigation shows a signed-in person, in one query: how many issues have
    unread notifications for them (the inbox shows one entry per issue, as threads) and
    their saved views (id, name)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT
                (SELECT count(DISTINCT issue_id) FROM notifications
                    WHERE recipient_id = %(user)s AND read_at IS NULL),
                (SELECT coalesce(json_agg(json_build_array(id, name)
                    ORDER BY lower(name), id), '[]') FROM saved_views WHERE owner_id = %(user)s)
            """,
            {"user": user_id},
        )
        unread, views = cursor.fetchone()
    if isinstance(views, str):
        views = json.loads(views)
    return unread, [(view_id, name) for view_id, name in views]


def watch_summary(*, issue_id: int, user_id: int | None) -> tuple[int, bool]:
    """How many watch an issue and whether `user_id` is one of them, in one query."""
    found = Watch.objects.filter(issue_id=issue_id).aggregate(
        count=Count("pk"), mine=Count("pk", filter=Q(user_id=user_id))
    )
    return found["count"], bool(user_id is not None and found["mine"])
