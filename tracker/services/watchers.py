"""Who watches an issue: a person who hears of its every change (services/notifications.py).

Creating, commenting on, being assigned to or being mentioned in an issue makes a person a
watcher. That is written by the outbox registered here, in the very statement that writes the
change's events (events.py), so it costs no round trip and never outlives a rolled-back
change. Mentions are resolved by the service that saves the text (`mentioned_user_ids`) and
travel in the event's details as `mentions` (user ids), where this outbox and the
notifications outbox read them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from tracker import markdown, selectors
from tracker.errors import IssueNotFound, NotAllowed, UserNotFound
from tracker.models import Issue, IssueEvent, User, Watch
from tracker.rules import is_id

from . import events

Kind = IssueEvent.Kind

# Who a change makes a watcher: the actor of a creation or a comment, the assignee it sets,
# the people its text mentions. ON CONFLICT: watching twice is watching.
OUTBOX_SQL = f"""
    INSERT INTO watches (issue_id, user_id, created_at)
    SELECT DISTINCT w.issue_id, w.user_id, %(at)s
    FROM (
        SELECT ev.issue_id, %(actor_id)s::bigint AS user_id FROM ev
            WHERE ev.event IN ('{Kind.ISSUE_CREATED}', '{Kind.COMMENT_ADDED}')
        UNION ALL
        SELECT ev.issue_id, (ev.details ->> 'assignee_id')::bigint FROM ev
            WHERE ev.event = '{Kind.ISSUE_CREATED}'
        UNION ALL
        SELECT ev.issue_id, (ev.details ->> 'to')::bigint FROM ev
            WHERE ev.event = '{Kind.ASSIGNEE_CHANGED}'
        UNION ALL
        SELECT ev.issue_id, m.user_id::bigint FROM ev,
            jsonb_array_elements_text(COALESCE(ev.details -> 'mentions', '[]')) AS m(user_id)
    ) w
    WHERE w.user_id IS NOT NULL
    ON CONFLICT (issue_id, user_id) DO NOTHING
    RETURNING issue_id
"""


def _after(change: events.Change, rows: list[dict[str, Any]]) -> None:
    """Nothing to defer: the rows are the work."""


OUTBOX = events.add_outbox(events.Outbox("watchers", OUTBOX_SQL, _after))


def mentioned_user_ids(text: str, *, before: str = "") -> list[int]:
    """The ids of the people `text` mentions (`@username`, outside code and links) that
    `before` (the text it replaces) did not: editing a description notifies only the newly
    mentioned. One query, none when the text mentions nobody new."""
    if "@" not in text:  # the usual text: no parsing at all
        return []
    names = markdown.mentions(text) - markdown.mentions(before)
    if not names:
        return []
    return sorted(selectors.user_ids_by_username(usernames=names).values())


def with_mentions(details: dict[str, Any], user_ids: list[int]) -> dict[str, Any]:
    """An event's details with the people it mentions (the key only when there are some)."""
    if user_ids:
        details["mentions"] = user_ids
    return details


def _check(issue_id: int, user_id: int, actor: User | None) -> None:
    if not (is_id(issue_id) and Issue.objects.filter(pk=issue_id).exists()):
        raise IssueNotFound()
    if not (is_id(user_id) and User.objects.filter(pk=user_id, is_active=True).exists()):
        raise UserNotFound()
    if settings.TRACKER_REQUIRE_AUTH and not (
        actor is not None and (actor.pk == user_id or actor.is_staff)
    ):
        raise NotAllowed("You can only watch or unwatch an issue yourself", code="not_yourself")


def watch_add(*, issue_id: int, user_id: int, actor: User | None = None) -> bool:
    """Make `user_id` watch `issue_id`; True if they did not already. With
    TRACKER_REQUIRE_AUTH on, only the person themselves or staff. Raises IssueNotFound,
    UserNotFound or NotAllowed (nothing written)."""
    _check(issue_id, user_id, actor)
    _, created = Watch.objects.get_or_create(issue_id=issue_id, user_id=user_id)
    return created


def watch_remove(*, issue_id: int, user_id: int, actor: User | None = None) -> bool:
    """Stop `user_id` watching `issue_id`; True if they did. Same rules as `watch_add`."""
    _check(issue_id, user_id, actor)
    deleted, _ = Watch.objects.filter(issue_id=issue_id, user_id=user_id).delete()
    return bool(deleted)
