"""Notifications: who hears of a change, and the e-mails that tell them.

A change's events leave through events.py; the outbox registered here turns them, in the
statement that writes them, into one `Notification` row per person who should hear of each
event: the issue's assignee (also the one just unassigned), the people the event's text
mentions and the issue's watchers (services/watchers.py; its creator among them, told as the
creator), never the actor of the change, and only active people. The rows are the inbox
(`GET /notifications`, /ui/inbox/); e-mail goes to people with an address and e-mail on.
When that statement returns such recipients, `_after` defers the e-mail job for each of them
who has none waiting yet,
scheduled TRACKER_EMAIL_DELAY_SECONDS later: changes inside that window join the waiting
job, so one e-mail covers them all (and a bulk change or an import sends each person one
summary per window, not one e-mail per issue).

The job (`notifications_email_send`) takes the person's notifications not yet e-mailed
under row locks that other workers skip, sends one e-mail, and marks them e-mailed in the
same transaction: two workers never send one notification twice. If the mail server fails,
nothing is marked and the queue retries with backoff (tasks.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from tracker.errors import InvalidLink
from tracker.models import Issue, IssueEvent, Notification, User
from tracker.rules import is_id

from . import events, jobs
from .users import user_email_off

logger = logging.getLogger(__name__)

Kind = IssueEvent.Kind
Reason = Notification.Reason
SEND_TASK = "tracker.tasks.send_notification_emails"
UNSUBSCRIBE_SALT = "tracker.notifications.unsubscribe"
# An e-mail about news older than this is noise (and the inbox keeps it anyway).
EMAIL_MAX_AGE = timedelta(days=1)
# A summary describes this many issues in full; it counts the rest and links to them.
EMAIL_MAX_ISSUES = 50
COMMENT_EXCERPT_MAX = 2_000

# The outbox. `r` lists who may hear of each event and why; DISTINCT ON keeps one row per
# person per event, with the first reason (an assignee who created the issue is told as
# the assignee). Everyone active gets the row (the inbox); `mails` says whether the person
# gets e-mail. RETURNING says whether an e-mail job is already waiting for the person:
# FOR SHARE keeps a worker from taking that job until this change commits (the worker's
# fetch skips locked jobs), so a waiting job never starts without this change's rows.
# Watchers are read as they were before the statement: a change's new watchers (written by
# the watchers outbox in the same statement) hear of the next change, and the assignee and
# the mentioned of this one are told through their own reasons.
OUTBOX_SQL = f"""
    INSERT INTO notifications
        (recipient_id, issue_id, event, version, details, actor_id, reason, created_at)
    SELECT DISTINCT ON (r.issue_id, r.event, r.version, r.details, r.user_id)
        r.user_id, r.issue_id, r.event, r.version, r.details, %(actor_id)s, r.reason, %(at)s
    FROM (
        SELECT ev.*, i.assignee_id AS user_id, '{Reason.ASSIGNEE}' AS reason, 1 AS rank
            FROM ev JOIN issues i ON i.id = ev.issue_id
        UNION ALL
        SELECT ev.*, (ev.details ->> 'from')::bigint, '{Reason.UNASSIGNED}', 2
            FROM ev WHERE ev.event = '{Kind.ASSIGNEE_CHANGED}'
        UNION ALL
        SELECT ev.*, m.user_id::bigint, '{Reason.MENTION}', 3
            FROM ev, jsonb_array_elements_text(COALESCE(ev.details -> 'mentions', '[]'))
                AS m(user_id)
        UNION ALL
        SELECT ev.*, c.actor_id, '{Reason.CREATOR}', 4
            FROM ev JOIN issue_events c
                ON c.issue_id = ev.issue_id AND c.event = '{Kind.ISSUE_CREATED}'
            JOIN watches cw ON cw.issue_id = c.issue_id AND cw.user_id = c.actor_id
        UNION ALL
        SELECT ev.*, w.user_id, '{Reason.WATCHER}', 5
            FROM ev JOIN watches w ON w.issue_id = ev.issue_id
    ) r
    JOIN users u ON u.id = r.user_id
    WHERE r.user_id IS DISTINCT FROM %(actor_id)s AND u.is_active
    ORDER BY r.issue_id, r.event, r.version, r.details, r.user_id, r.rank
    RETURNING recipient_id, (
        SELECT u.email IS NOT NULL AND u.email_notifications FROM users u
        WHERE u.id = recipient_id
    ) AS mails, EXISTS (
        SELECT 1 FROM procrastinate_jobs j
        WHERE j.task_name = '{SEND_TASK}' AND j.status = 'todo'
            AND j.args ->> 'recipient_id' = recipient_id::text
        FOR SHARE
    ) AS waiting
"""


def _after(change: events.Change, rows: list[dict[str, Any]]) -> None:
    """Defer the e-mail job of each recipient who has none waiting (one round trip)."""
    if not settings.TRACKER_EMAIL_ENABLED:
        return
    waiting = {row["recipient_id"] for row in rows if row["waiting"]}
    new = sorted({row["recipient_id"] for row in rows if row["mails"]} - waiting)
    if new:
        jobs.defer_batch(
            SEND_TASK,
            [{"recipient_id": recipient_id} for recipient_id in new],
            schedule_in=settings.TRACKER_EMAIL_DELAY_SECONDS,
        )


OUTBOX = events.add_outbox(events.Outbox("notifications", OUTBOX_SQL, _after))


# --- The e-mail.


@dataclass
class IssueNews:
    """What one e-mail says about one issue: its notifications, oldest first."""

    issue: Issue
    url: str
    entries: list[tuple[str, str]]  # (what happened, a comment's text or "")


def notifications_email_send(*, recipient_id: int) -> int:
    """Send `recipient_id` one e-mail with every notification of theirs not yet e-mailed;
    returns how many it covered. Notifications another worker holds are skipped (that
    worker sends them). Raises what the mail backend raises: nothing is marked then, so a
    retry sends them."""
    with transaction.atomic():
        user = User.objects.filter(pk=recipient_id).first()
        if user is None or not (user.email and user.email_notifications and user.is_active):
            return 0
        since = timezone.now() - EMAIL_MAX_AGE
        locked = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(recipient_id=recipient_id, emailed_at__isnull=True, created_at__gte=since)
            .order_by("id")
            .values_list("id", "issue_id")
        )
        if not locked:
            return 0
        issue_ids = list(dict.fromkeys(issue_id for _, issue_id in locked))
        shown = set(issue_ids[:EMAIL_MAX_ISSUES])
        detail = (
            Notification.objects.filter(pk__in=[pk for pk, issue_id in locked if issue_id in shown])
            .select_related("issue", "actor")
            .order_by("id")
        )
        news: dict[int, IssueNews] = {}
        for notification in detail:
            item = news.get(notification.issue_id)
            if item is None:
                item = news[notification.issue_id] = IssueNews(
                    notification.issue, issue_url(notification.issue_id), []
                )
            _describe(notification, user, item)
        ordered = [news[issue_id] for issue_id in issue_ids if issue_id in news]
        _message(user, ordered, more=len(issue_ids) - len(ordered)).send()
        Notification.objects.filter(pk__in=[pk for pk, _ in locked]).update(
            emailed_at=timezone.now()
        )
    return len(locked)


def issue_url(issue_id: int) -> str:
    return absolute_url(reverse("ui:issue-detail", args=[issue_id]))


def absolute_url(path: str) -> str:
    return str(settings.TRACKER_BASE_URL).rstrip("/") + path


def unsubscribe_token(user: User) -> str:
    return str(signing.dumps({"user": user.pk}, salt=UNSUBSCRIBE_SALT, compress=True))


def unsubscribe_url(user: User) -> str:
    return absolute_url(reverse("ui:unsubscribe", args=[unsubscribe_token(user)]))


def user_for_unsubscribe(*, token: str) -> User:
    """The person an unsubscribe link names; raises InvalidLink."""
    try:
        user_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)["user"]
    except (signing.BadSignature, KeyError, TypeError):
        raise InvalidLink() from None
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise InvalidLink()
    return user


def unsubscribe(*, token: str) -> User:
    """Turn e-mail off for the person an unsubscribe link names (no login: the signature
    is the permission, as one-click unsubscribe requires). Raises InvalidLink."""
    return user_email_off(user_id=user_for_unsubscribe(token=token).pk)


def _message(user: User, news: Sequence[IssueNews], *, more: int) -> EmailMultiAlternatives:
    if len(news) == 1 and not more:
        subject = f"#{news[0].issue.pk} {news[0].issue.title}"
    else:
        count = len(news) + more
        names = ", ".join(f"#{item.issue.pk} {item.issue.title}" for item in news[:3])
        subject = f"{count} issues changed: {names}" + (", …" if count > 3 else "")
    unsubscribe_link = unsubscribe_url(user)
    context = {
        "user": user,
        "news": news,
        "more": more,
        "more_url": absolute_url(reverse("ui:issue-list")),
        "profile_url": absolute_url(reverse("ui:me")),
        "unsubscribe_url": unsubscribe_link,
    }
    message = EmailMultiAlternatives(
        subject=f"[Tracker] {subject}"[:200],
        body=render_to_string("tracker/email/notifications.txt", context),
        to=[user.email or ""],
        headers={
            "List-Unsubscribe": f"<{unsubscribe_link}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    message.attach_alternative(
        render_to_string("tracker/email/notifications.html", context), "text/html"
    )
    return message


def _describe(notification: Notification, user: User, news: IssueNews) -> None:
    """One line of the e-mail per notification (a comment adds its text)."""
    who = notification.actor.name if notification.actor else "Someone"
    details = notification.details or {}
    kind = notification.event
    quote = ""
    if kind == Kind.ISSUE_CREATED:
        line = f"{who} created the issue"
        if details.get("assignee_id") == user.pk:
            line += " and assigned it to you"
    elif kind == Kind.ASSIGNEE_CHANGED:
        if details.get("to") == user.pk:
            line = f"{who} assigned it to you"
        elif details.get("from") == user.pk:
            line = f"{who} unassigned you" + (
                f" and assigned {details['to_name']}" if details.get("to_name") else ""
            )
        else:
            line = (
                f"{who} changed the assignee from {details.get('from_name') or 'nobody'}"
                f" to {details.get('to_name') or 'nobody'}"
            )
    elif kind == Kind.ISSUE_CLOSED:
        line = f"{who} closed the issue"
    elif kind == Kind.ISSUE_REOPENED:
        line = f"{who} reopened the issue"
    elif kind == Kind.STATUS_CHANGED:
        line = f"{who} changed the status from {_status(details.get('from'))} to " + _status(
            details.get("to")
        )
    elif kind == Kind.TITLE_CHANGED:
        line = f"{who} renamed it (it was “{details.get('from', '')}”)"
    elif kind == Kind.DESCRIPTION_CHANGED:
        line = f"{who} edited the description"
    elif kind == Kind.LABELS_CHANGED:
        parts = []
        if details.get("added"):
            parts.append("added " + ", ".join(details["added"]))
        if details.get("removed"):
            parts.append("removed " + ", ".join(details["removed"]))
        line = f"{who} {' and '.join(parts) or 'changed the labels'}"
    elif kind == Kind.COMMENT_ADDED:
        body = str(details.get("body", ""))
        if len(body) > COMMENT_EXCERPT_MAX:
            body = body[:COMMENT_EXCERPT_MAX] + "…"
        quote = body
        line = f"{who} commented"
    else:
        line = f"{who} changed the issue"
    if notification.reason == Reason.MENTION:
        line += " and mentioned you"
    news.entries.append((line, quote))


def _status(value: Any) -> str:
    try:
        return str(Issue.Status(value).label).lower()
    except ValueError:
        return str(value)


# --- The inbox.


def notifications_mark_read(
    *, recipient: User, ids: Sequence[int] | None = None, everything: bool = False
) -> int:
    """Mark `recipient`'s notifications `ids` (or all of them with `everything`) read;
    returns how many were unread. Ids of other people's notifications, or of none, are
    ignored: a person can only ever touch their own inbox."""
    notifications = Notification.objects.filter(recipient=recipient, read_at__isnull=True)
    if not everything:
        notifications = notifications.filter(pk__in=[pk for pk in ids or () if is_id(pk)])
    return notifications.update(read_at=timezone.now())
