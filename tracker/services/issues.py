from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.models import F, Model
from django.utils import timezone

from issuetracker.postgresql.base import prepared_cursor
from tracker.errors import IssueNotFound, RuleViolation, VersionConflict
from tracker.models import Issue, IssueEvent, IssueLabel, Label, User
from tracker.rules import (
    ISSUE_EDITABLE_FIELDS,
    clean_description,
    clean_due_date,
    clean_label_names,
    clean_priority,
    clean_status,
    clean_title,
    invalid,
    invalid_assignee,
    is_id,
    merge_label_names,
    resolved_at_for,
)

from . import events
from .events import Change, Event
from .labels import labels_get_or_create
from .watchers import mentioned_user_ids, with_mentions

Status = Issue.Status
Source = IssueEvent.Source
Kind = IssueEvent.Kind
Priority = Issue.Priority

BULK_STATUS_MAX_IDS = 10_000
# Fields whose change is recorded as {"from", "to"}, each with its event.
FIELD_EVENTS = {
    "title": Kind.TITLE_CHANGED,
    "description": Kind.DESCRIPTION_CHANGED,
    "priority": Kind.PRIORITY_CHANGED,
}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


# The hot writes' statements are written out rather than built by the ORM for every request:
# building one costs more Python time than PostgreSQL takes to run it.
ISSUE_COLUMNS = {field.attname: str(field.column) for field in Issue._meta.concrete_fields}
LOCK_ISSUE_SQL = (
    "SELECT "
    + ", ".join(f"issues.{column}" for column in ISSUE_COLUMNS.values())
    + ", ARRAY(SELECT labels.name FROM labels"
    " JOIN issue_labels ON labels.id = issue_labels.label_id"
    " WHERE issue_labels.issue_id = issues.id ORDER BY 1)"
    " FROM issues WHERE issues.id = %s FOR UPDATE OF issues"
)
# Inserts the issue only if its assignee (when it has one) exists, and gives back the
# assignee's name for the timeline: one statement for the check and the write. No row back
# means no such assignee.
INSERT_ISSUE_SQL = """
WITH assignee AS (SELECT id, name FROM users WHERE id = %(assignee_id)s::bigint)
INSERT INTO issues
    (title, description, status, assignee_id, priority, due_date, version, created_at,
     updated_at, resolved_at)
SELECT %(title)s::text, %(description)s::text, %(status)s::text, %(assignee_id)s::bigint,
    %(priority)s::text, %(due_date)s::date, 1, %(now)s::timestamptz, %(now)s::timestamptz,
    %(resolved_at)s::timestamptz
WHERE %(assignee_id)s::bigint IS NULL OR EXISTS (SELECT FROM assignee)
RETURNING id, (SELECT name FROM assignee)
"""


M = TypeVar("M", bound=Model)


def as_loaded(instance: M) -> M:
    """`instance`, built from a row written or read with SQL, marked as loaded from the
    database (as the ORM would have)."""
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


def _lock_issue(issue_id: int) -> Issue:
    """Lock one issue row until the transaction ends, with its `label_names` read in the
    same query (the order of GET /issues/{id}). Call inside `transaction.atomic`."""
    row = None
    if is_id(issue_id):
        with prepared_cursor() as cursor:
            cursor.execute(LOCK_ISSUE_SQL, [issue_id])
            row = cursor.fetchone()
    if row is None:
        raise IssueNotFound()
    issue = Issue.from_db(connection.alias, list(ISSUE_COLUMNS), row[:-1])
    issue.label_names = row[-1]
    return issue


def assignee_or_none(assignee_id: int | None) -> User | None:
    if assignee_id is None:
        return None
    user = User.objects.filter(pk=assignee_id).first() if is_id(assignee_id) else None
    if user is None:
        raise invalid_assignee()
    return user


def _check_version(issue: Issue, version: int | None) -> None:
    if version is not None and issue.version != version:
        raise VersionConflict(current_version=issue.version)


def _bump(issue: Issue, now: datetime, **fields: Any) -> None:
    """Write `fields` (issue columns, named by the code) and the next version of a locked
    issue."""
    assignments = "".join(f", {ISSUE_COLUMNS[name]} = %s" for name in fields)
    with prepared_cursor() as cursor:
        cursor.execute(
            f"UPDATE issues SET version = version + 1, updated_at = %s{assignments} WHERE id = %s",
            [now, *fields.values(), issue.pk],
        )
    issue.version += 1
    issue.updated_at = now


def issue_create(
    *,
    title: str,
    description: str = "",
    status: str = Status.OPEN,
    assignee_id: int | None = None,
    labels: Sequence[str] = (),
    priority: str = Priority.NONE,
    due_date: date | str | None = None,
    actor: User | None = None,
    source: str = Source.API,
) -> Issue:
    """Raises ValidationError (nothing written). Empty status or priority: the default."""
    title = clean_title(title)
    description = clean_description(description)
    status = clean_status(status or Status.OPEN)
    priority = clean_priority(priority or Priority.NONE)
    due_date = clean_due_date(due_date)
    label_names = clean_label_names(labels)
    if assignee_id is not None and not is_id(assignee_id):
        raise invalid_assignee()
    actor = events.recorded_actor(actor)
    mentioned = mentioned_user_ids(description)
    now = timezone.now()
    issue = Issue(
        title=title,
        description=description,
        status=status,
        assignee_id=assignee_id,
        priority=priority,
        due_date=due_date,
        version=1,
        created_at=now,
        updated_at=now,
        resolved_at=resolved_at_for(status, now),
    )
    with transaction.atomic():
        with prepared_cursor() as cursor:
            cursor.execute(
                INSERT_ISSUE_SQL,
                {
                    "title": title,
                    "description": description,
                    "status": status,
                    "assignee_id": assignee_id,
                    "priority": priority,
                    "due_date": due_date,
                    "now": now,
                    "resolved_at": issue.resolved_at,
                },
            )
            row = cursor.fetchone()
        if row is None:
            raise invalid_assignee()
        issue.pk, assignee_name = row
        as_loaded(issue)
        labels_by_name = labels_get_or_create(label_names)
        if labels_by_name:
            IssueLabel.objects.bulk_create(
                IssueLabel(issue=issue, label=label) for label in labels_by_name.values()
            )
        # In the order GET /issues/{id} gives (labels_get_or_create reads them by name).
        issue.label_names = [label.name for label in labels_by_name.values()]
        created = events.created_event(
            issue.pk,
            title=title,
            status=status,
            assignee_id=assignee_id,
            assignee_name=assignee_name,
            labels=issue.label_names,
            priority=priority,
            due_date=due_date,
        )
        with_mentions(created.details, mentioned)
        events.record(Change(actor, source, now), [created])
    return issue


def issue_update(
    *,
    issue_id: int,
    version: int,
    actor: User | None = None,
    source: str = Source.API,
    **changes: Any,
) -> Issue:
    """Apply `changes` (any of rules.ISSUE_EDITABLE_FIELDS) if `version` is current.

    Returns the issue as written, with its `label_names`. Raises IssueNotFound,
    VersionConflict (nothing written) or ValidationError. A change that sets every field to
    the value it already has writes nothing and keeps the version.
    """
    unknown = set(changes) - set(ISSUE_EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"issue_update() got unknown fields: {sorted(unknown)}")
    if "title" in changes:
        changes["title"] = clean_title(changes["title"])
    if "description" in changes:
        changes["description"] = clean_description(changes["description"])
    if "status" in changes:
        changes["status"] = clean_status(changes["status"])
    if "priority" in changes:
        changes["priority"] = clean_priority(changes["priority"])
    if "due_date" in changes:
        changes["due_date"] = clean_due_date(changes["due_date"])
    new_assignee = assignee_or_none(changes.get("assignee_id"))
    actor = events.recorded_actor(actor)

    with transaction.atomic():
        issue = _lock_issue(issue_id)
        _check_version(issue, version)
        now = timezone.now()
        fields: dict[str, Any] = {}
        version = issue.version + 1
        recorded: list[Event] = []

        for name, kind in FIELD_EVENTS.items():
            if name in changes and changes[name] != getattr(issue, name):
                details = {"from": getattr(issue, name), "to": changes[name]}
                if name == "description":
                    with_mentions(
                        details, mentioned_user_ids(changes[name], before=issue.description)
                    )
                recorded.append(Event(issue.pk, kind, version, details))
                fields[name] = changes[name]
        if "status" in changes and changes["status"] != issue.status:
            recorded.append(
                events.status_event(issue.pk, issue.status, changes["status"], version=version)
            )
            fields["status"] = changes["status"]
            fields["resolved_at"] = resolved_at_for(changes["status"], now)
        if "assignee_id" in changes and changes["assignee_id"] != issue.assignee_id:
            old_assignee = issue.assignee
            details = {
                "from": issue.assignee_id,
                "to": changes["assignee_id"],
                "from_name": old_assignee.name if old_assignee else None,
                "to_name": new_assignee.name if new_assignee else None,
            }
            recorded.append(Event(issue.pk, Kind.ASSIGNEE_CHANGED, version, details))
            fields["assignee_id"] = changes["assignee_id"]
        if "due_date" in changes and changes["due_date"] != issue.due_date:
            details = {"from": _iso(issue.due_date), "to": _iso(changes["due_date"])}
            recorded.append(Event(issue.pk, Kind.DUE_DATE_CHANGED, version, details))
            fields["due_date"] = changes["due_date"]

        if fields:
            _bump(issue, now, **fields)
            for name, value in fields.items():
                setattr(issue, name, value)
            events.record(Change(actor, source, now), recorded)
    return issue


def issue_labels_replace(
    *,
    issue_id: int,
    labels: Sequence[str],
    version: int | None = None,
    read: Sequence[str] | None = None,
    actor: User | None = None,
    source: str = Source.API,
) -> tuple[Issue, list[Label]]:
    """Replace an issue's labels as a whole, creating missing labels. With `read` (the
    labels the person saw when they chose `labels`), only what they added and removed is
    applied to the current labels (rules.merge_label_names).

    Returns the issue and its labels sorted by name. Raises IssueNotFound, VersionConflict
    (when `version` is given and stale) or ValidationError; on any error nothing changes.
    """
    names = clean_label_names(labels)
    actor = events.recorded_actor(actor)
    with transaction.atomic():
        issue = _lock_issue(issue_id)
        _check_version(issue, version)
        if read is not None:
            names = merge_label_names(issue.label_names, read, names)
        wanted = labels_get_or_create(names)
        current = {label.key: label for label in issue.labels.all()}
        issue.label_names = [label.name for label in wanted.values()]
        added = [wanted[key] for key in wanted if key not in current]
        removed = [current[key] for key in current if key not in wanted]
        if added or removed:
            now = timezone.now()
            IssueLabel.objects.filter(issue=issue, label__in=removed).delete()
            IssueLabel.objects.bulk_create(IssueLabel(issue=issue, label=label) for label in added)
            _bump(issue, now)
            events.record(
                Change(actor, source, now),
                [
                    events.labels_event(
                        issue.pk,
                        version=issue.version,
                        added=[label.name for label in added],
                        removed=[label.name for label in removed],
                        labels=[label.name for label in wanted.values()],
                    )
                ],
            )
    return issue, sorted(wanted.values(), key=lambda label: label.name.lower())


def issues_bulk_set_status(
    *,
    issue_ids: Sequence[int],
    status: str,
    actor: User | None = None,
    source: str = Source.BULK,
) -> list[int]:
    """Move every listed issue to `status`, all or nothing.

    Locks the rows in id order (so concurrent bulk changes cannot deadlock) and runs a
    constant number of queries whatever the number of issues. Issues already in `status`
    are left as they are (no new version, no event). Returns the ids, without duplicates,
    in the order given. Raises ValidationError or RuleViolation; on any error nothing changes.
    """
    status = clean_status(status)
    ids = list(dict.fromkeys(issue_ids))
    if not ids:
        raise invalid("issue_ids", "issue_ids must not be empty", "empty")
    if len(ids) > BULK_STATUS_MAX_IDS:
        raise invalid("issue_ids", f"At most {BULK_STATUS_MAX_IDS} issues per request", "too_many")
    actor = events.recorded_actor(actor)

    with transaction.atomic():
        current = {
            pk: (old_status, old_version)
            for pk, old_status, old_version in Issue.objects.select_for_update()
            .filter(pk__in=[pk for pk in ids if is_id(pk)])
            .order_by("id")
            .values_list("id", "status", "version")
        }
        if len(current) != len(ids):
            raise RuleViolation("One or more issues not found", code="issues_not_found")
        if status == Status.CLOSED:
            already = sorted(pk for pk, (old, _) in current.items() if old == Status.CLOSED)
            if already:
                raise RuleViolation(f"Issue {already[0]} already closed", code="already_closed")

        changing = sorted(pk for pk, (old, _) in current.items() if old != status)
        if changing:
            now = timezone.now()
            Issue.objects.filter(pk__in=changing).update(
                status=status,
                resolved_at=resolved_at_for(status, now),
                updated_at=now,
                version=F("version") + 1,
            )
            events.record(
                Change(actor, source, now),
                [
                    events.status_event(pk, current[pk][0], status, version=current[pk][1] + 1)
                    for pk in changing
                ],
            )
    return ids
