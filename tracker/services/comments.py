from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from issuetracker.postgresql.base import prepared_cursor
from tracker.errors import IssueNotFound
from tracker.models import Comment, Issue, IssueEvent, User
from tracker.rules import clean_comment_body, invalid, is_id

from . import events
from .issues import as_loaded, issue_update
from .watchers import mentioned_user_ids, with_mentions

Source = IssueEvent.Source
Kind = IssueEvent.Kind

# Whether the issue and the author exist, and the comment inserted only if both do: the checks
# and the write in one statement, written out (the ORM would build it anew for each request).
# The issue is locked FOR KEY SHARE first: comments on it do not wait for each other, while a
# change to the issue (which locks it FOR UPDATE) waits for the comment's commit, and vice
# versa, before either makes anyone a watcher. Without it, a comment mentioning someone and
# an assignment of that person could each hold what the other waits for (the foreign keys
# are checked only at commit, and the search document is written at commit: migration 0013).
INSERT_COMMENT_SQL = """
WITH issue AS (
    SELECT id FROM issues WHERE id = %(issue_id)s::bigint FOR KEY SHARE
), facts AS (
    SELECT EXISTS (SELECT FROM issue) AS issue_found,
        (SELECT name FROM users WHERE id = %(author_id)s::bigint) AS author_name
), inserted AS (
    INSERT INTO comments (body, issue_id, author_id, created_at)
    SELECT %(body)s::text, %(issue_id)s::bigint, %(author_id)s::bigint, %(now)s::timestamptz
    FROM facts
    WHERE issue_found AND author_name IS NOT NULL
    RETURNING id
)
SELECT facts.issue_found, facts.author_name, inserted.id FROM facts LEFT JOIN inserted ON true
"""


def comment_add(
    *,
    issue_id: int,
    body: str,
    author_id: int | None = None,
    actor: User | None = None,
    source: str = Source.API,
) -> Comment:
    """Add a comment. Comments do not change the issue's version.

    The author is `author_id`, or the actor when it is left out. A signed-in actor comments
    only as themselves (an `author_id` other than theirs is refused), so the author of a
    comment is always the actor its timeline entry names. Anonymous comments (open mode
    only) name their author, who is then the event's actor.
    """
    body = clean_comment_body(body)
    if not body:
        raise invalid("body", "Empty comment", "empty_comment")
    if not is_id(issue_id):
        raise IssueNotFound()
    actor = events.recorded_actor(actor)
    if actor is not None and author_id is not None and author_id != actor.pk:
        if not Issue.objects.filter(pk=issue_id).exists():
            raise IssueNotFound()
        raise invalid("author_id", "You can only comment as yourself", "not_yourself")
    if author_id is None and actor is not None:
        author_id = actor.pk
    mentioned = mentioned_user_ids(body)
    now = timezone.now()
    with transaction.atomic():
        with prepared_cursor() as cursor:
            cursor.execute(
                INSERT_COMMENT_SQL,
                {
                    "issue_id": issue_id,
                    "author_id": author_id if author_id and is_id(author_id) else None,
                    "body": body,
                    "now": now,
                },
            )
            issue_found, author_name, comment_id = cursor.fetchone()
        if not issue_found:
            raise IssueNotFound()
        if author_name is None:
            raise invalid("author_id", "Invalid author_id", "invalid_author")
        author = as_loaded(User(pk=author_id, name=author_name))
        comment = as_loaded(
            Comment(pk=comment_id, issue_id=issue_id, author=author, body=body, created_at=now)
        )
        details = with_mentions(
            {
                "comment_id": comment.pk,
                "author_id": author.pk,
                "author_name": author.name,
                "body": body,
            },
            mentioned,
        )
        events.record(
            events.Change(actor or author, source, now),
            [events.Event(issue_id, Kind.COMMENT_ADDED, None, details)],
        )
    return comment


def comment_add_setting_status(
    *,
    issue_id: int,
    body: str,
    status: str,
    version: int,
    author_id: int | None = None,
    actor: User | None = None,
    source: str = Source.API,
) -> Comment:
    """Add a comment and set the issue's status ("Close with comment"): both or neither.
    The status change is the actor's, or, for an anonymous comment (open mode), its named
    author's, as the comment is. Raises what comment_add and issue_update raise."""
    with transaction.atomic():
        comment = comment_add(
            issue_id=issue_id, body=body, author_id=author_id, actor=actor, source=source
        )
        issue_update(
            issue_id=issue_id,
            version=version,
            status=status,
            actor=actor or comment.author,
            source=source,
        )
    return comment
