"""Every write of the tracker. The API, the pages, the admin, the CSV import and the
management commands all come through here, so a rule lives in exactly one place.

Each public function runs in one transaction and records the timeline events of the change
it makes in that same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone

from .errors import IssueNotFound, RuleViolation, VersionConflict
from .models import (
    ISSUE_TITLE_MAX,
    LABEL_NAME_MAX,
    USER_NAME_MAX,
    Comment,
    Issue,
    IssueEvent,
    IssueLabel,
    Label,
    User,
)

Status = Issue.Status
Source = IssueEvent.Source
Kind = IssueEvent.Kind

# Status.values builds a new list on each access; the CSV import checks a million rows.
STATUS_VALUES = frozenset(Status.values)
BULK_STATUS_MAX_IDS = 10_000
MAX_ID = 2**63 - 1  # bigint: a larger number names no row and must not reach a query
UPDATABLE_ISSUE_FIELDS = frozenset({"title", "description", "status", "assignee_id"})


# --- Field rules: pure checks shared by every write path (the CSV import calls them per row).


def invalid(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def clean_title(value: str | None) -> str:
    title = (value or "").strip()
    if not title:
        raise invalid("title", "Title is required", "required")
    if len(title) > ISSUE_TITLE_MAX:
        raise invalid("title", f"Title is too long (max {ISSUE_TITLE_MAX})", "max_length")
    return title


def clean_status(value: str | None) -> str:
    if value not in STATUS_VALUES:
        raise invalid("status", f"Invalid status '{value}'", "invalid_status")
    return value


def clean_text(value: str | None) -> str:
    """Multi-line text as stored: trimmed, with one kind of line ending whatever the client."""
    return (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def clean_description(value: str | None) -> str:
    return clean_text(value)


def is_id(value: int) -> bool:
    return 1 <= value <= MAX_ID


def parse_id(text: str) -> int | None:
    """A row id written as plain decimal digits, or None."""
    text = text.strip()
    if text.isascii() and text.isdigit() and is_id(int(text)):
        return int(text)
    return None


def invalid_assignee() -> ValidationError:
    """An assignee_id that names no user (the CSV import also uses it for ids that do not
    parse as integers)."""
    return invalid("assignee_id", "Invalid assignee_id", "invalid_assignee")


def clean_user_name(value: str | None) -> str:
    name = (value or "").strip()
    if not name:
        raise invalid("name", "Name is required", "required")
    if len(name) > USER_NAME_MAX:
        raise invalid("name", f"Name is too long (max {USER_NAME_MAX})", "max_length")
    return name


def clean_label_names(names: Iterable[str]) -> list[str]:
    """Trim, refuse blank or over-long names, and drop case-insensitive duplicates
    (the first spelling wins)."""
    cleaned: dict[str, str] = {}
    for raw in names:
        name = (raw or "").strip() if isinstance(raw, str) else ""
        if not name:
            raise invalid("labels", "Label names cannot be blank", "blank_label")
        if len(name) > LABEL_NAME_MAX:
            raise invalid(
                "labels", f"Label '{name}' is too long (max {LABEL_NAME_MAX})", "max_length"
            )
        cleaned.setdefault(name.lower(), name)
    return list(cleaned.values())


def clean_label_color(value: str | None) -> str:
    color = (value or "").strip()
    if color and not (
        len(color) == 7
        and color[0] == "#"
        and all(c in "0123456789abcdefABCDEF" for c in color[1:])
    ):
        raise invalid("color", "Color must look like #1a2b3c", "invalid_color")
    return color.lower()


def _assignee_or_none(assignee_id: int | None) -> User | None:
    if assignee_id is None:
        return None
    user = User.objects.filter(pk=assignee_id).first() if is_id(assignee_id) else None
    if user is None:
        raise invalid_assignee()
    return user


def resolved_at_for(status: str, now) -> Any:
    """Entering `closed` stamps resolved_at; any other status clears it."""
    return now if status == Status.CLOSED else None


# --- Timeline helpers.


def _event(
    issue_id: int,
    kind: str,
    *,
    version: int | None,
    actor: User | None,
    source: str,
    now,
    **details: Any,
) -> IssueEvent:
    return IssueEvent(
        issue_id=issue_id,
        event=kind,
        version=version,
        actor=actor,
        source=source,
        created_at=now,
        details=details,
    )


def created_details(
    *,
    title: str,
    status: str,
    assignee_id: int | None,
    assignee_name: str | None,
    labels: Sequence[str] = (),
) -> dict[str, Any]:
    """The details of an `issue_created` event (issue_create and the CSV import share them)."""
    return {
        "title": title,
        "status": status,
        "assignee_id": assignee_id,
        "assignee_name": assignee_name,
        "labels": sorted(labels, key=str.lower),
    }


def status_event(
    issue_id: int, old: str, new: str, *, version: int, actor: User | None, source: str, now
) -> IssueEvent:
    if new == Status.CLOSED:
        kind = Kind.ISSUE_CLOSED
    elif old == Status.CLOSED:
        kind = Kind.ISSUE_REOPENED
    else:
        kind = Kind.STATUS_CHANGED
    return _event(
        issue_id,
        kind,
        version=version,
        actor=actor,
        source=source,
        now=now,
        status=new,
        **{"from": old, "to": new},
    )


def _actor(actor: User | None) -> User | None:
    """Anonymous requests have no actor; only saved users are recorded."""
    return actor if actor is not None and getattr(actor, "pk", None) else None


# --- Users and labels.


def user_create(*, name: str) -> User:
    return User.objects.create_user(name=clean_user_name(name))


def label_save(
    *, label: Label | None = None, name: str, color: str = "", description: str = ""
) -> Label:
    """Create a label, or rename and recolour an existing one."""
    [clean_name] = clean_label_names([name])
    label = label or Label()
    label.name = clean_name
    label.color = clean_label_color(color)
    label.description = (description or "").strip()
    label.validate_constraints()
    label.save()
    return label


def label_delete(*, label_id: int, actor: User | None = None, source: str = Source.ADMIN) -> None:
    """Delete a label. Every issue that carried it gets a new version and a
    `labels_changed` event, so the timelines stay complete."""
    actor = _actor(actor)
    with transaction.atomic():
        label = Label.objects.select_for_update().filter(pk=label_id).first()
        if label is None:
            return
        versions = dict(
            Issue.objects.select_for_update()
            .filter(labels=label)
            .order_by("id")
            .values_list("id", "version")
        )
        issue_ids = list(versions)
        if issue_ids:
            now = timezone.now()
            remaining: dict[int, list[str]] = {pk: [] for pk in issue_ids}
            for issue_id, name in (
                IssueLabel.objects.filter(issue_id__in=issue_ids)
                .exclude(label=label)
                .values_list("issue_id", "label__name")
            ):
                remaining[issue_id].append(name)
            Issue.objects.filter(pk__in=issue_ids).update(version=F("version") + 1, updated_at=now)
            IssueEvent.objects.bulk_create(
                _event(
                    pk,
                    Kind.LABELS_CHANGED,
                    version=versions[pk] + 1,
                    actor=actor,
                    source=source,
                    now=now,
                    added=[],
                    removed=[label.name],
                    labels=sorted(remaining[pk], key=str.lower),
                )
                for pk in issue_ids
            )
        label.delete()


def labels_get_or_create(names: Sequence[str]) -> dict[str, Label]:
    """Labels for already-cleaned names, keyed by lower-cased name; missing ones are created.

    Safe under concurrency: two transactions creating the same name meet at the unique
    index, the second waits for the first and then finds its row.
    """
    wanted = {name.lower(): name for name in names}
    if not wanted:
        return {}

    def existing() -> dict[str, Label]:
        found = Label.objects.annotate(lname=Lower("name")).filter(lname__in=list(wanted))
        return {label.lname: label for label in found}

    labels = existing()
    # Inserted in one fixed order (by lower-cased name), so that two transactions creating
    # overlapping sets wait for each other instead of deadlocking.
    missing = [Label(name=wanted[key]) for key in sorted(wanted) if key not in labels]
    if missing:
        Label.objects.bulk_create(missing, ignore_conflicts=True)
        labels = existing()
    return labels


# --- Issues.


def _lock_issue(issue_id: int) -> Issue:
    """Lock one issue row until the transaction ends. Call inside `transaction.atomic`."""
    issue = (
        Issue.objects.select_for_update().filter(pk=issue_id).first() if is_id(issue_id) else None
    )
    if issue is None:
        raise IssueNotFound()
    return issue


def _check_version(issue: Issue, version: int | None) -> None:
    if version is not None and issue.version != version:
        raise VersionConflict(current_version=issue.version)


def _bump(issue: Issue, now, **fields: Any) -> None:
    """Write `fields` and the next version of a locked issue."""
    Issue.objects.filter(pk=issue.pk).update(version=F("version") + 1, updated_at=now, **fields)
    issue.version += 1
    issue.updated_at = now


def issue_create(
    *,
    title: str,
    description: str = "",
    status: str = Status.OPEN,
    assignee_id: int | None = None,
    labels: Sequence[str] = (),
    actor: User | None = None,
    source: str = Source.API,
) -> Issue:
    title = clean_title(title)
    status = clean_status(status or Status.OPEN)
    label_names = clean_label_names(labels)
    assignee = _assignee_or_none(assignee_id)
    actor = _actor(actor)
    now = timezone.now()
    with transaction.atomic():
        issue = Issue.objects.create(
            title=title,
            description=clean_description(description),
            status=status,
            assignee=assignee,
            created_at=now,
            updated_at=now,
            resolved_at=resolved_at_for(status, now),
        )
        labels_by_name = labels_get_or_create(label_names)
        IssueLabel.objects.bulk_create(
            IssueLabel(issue=issue, label=label) for label in labels_by_name.values()
        )
        _event(
            issue.pk,
            Kind.ISSUE_CREATED,
            version=1,
            actor=actor,
            source=source,
            now=now,
            **created_details(
                title=title,
                status=status,
                assignee_id=assignee_id,
                assignee_name=assignee.name if assignee else None,
                labels=[label.name for label in labels_by_name.values()],
            ),
        ).save()
    return issue


def issue_update(
    *,
    issue_id: int,
    version: int,
    actor: User | None = None,
    source: str = Source.API,
    **changes: Any,
) -> Issue:
    """Apply `changes` (title, description, status, assignee_id) if `version` is current.

    Raises IssueNotFound, VersionConflict (nothing written) or ValidationError. A change that
    sets every field to the value it already has writes nothing and keeps the version.
    """
    unknown = set(changes) - UPDATABLE_ISSUE_FIELDS
    if unknown:
        raise TypeError(f"issue_update() got unknown fields: {sorted(unknown)}")
    if "title" in changes:
        changes["title"] = clean_title(changes["title"])
    if "description" in changes:
        changes["description"] = clean_description(changes["description"])
    if "status" in changes:
        changes["status"] = clean_status(changes["status"])
    new_assignee = _assignee_or_none(changes.get("assignee_id"))
    actor = _actor(actor)

    with transaction.atomic():
        issue = _lock_issue(issue_id)
        _check_version(issue, version)
        now = timezone.now()
        fields: dict[str, Any] = {}
        events: list[IssueEvent] = []
        meta = {"version": issue.version + 1, "actor": actor, "source": source, "now": now}

        if "title" in changes and changes["title"] != issue.title:
            events.append(
                _event(
                    issue.pk,
                    Kind.TITLE_CHANGED,
                    **meta,
                    **{"from": issue.title, "to": changes["title"]},
                )
            )
            fields["title"] = changes["title"]
        if "description" in changes and changes["description"] != issue.description:
            events.append(
                _event(
                    issue.pk,
                    Kind.DESCRIPTION_CHANGED,
                    **meta,
                    **{"from": issue.description, "to": changes["description"]},
                )
            )
            fields["description"] = changes["description"]
        if "status" in changes and changes["status"] != issue.status:
            events.append(status_event(issue.pk, issue.status, changes["status"], **meta))
            fields["status"] = changes["status"]
            fields["resolved_at"] = resolved_at_for(changes["status"], now)
        if "assignee_id" in changes and changes["assignee_id"] != issue.assignee_id:
            old_assignee = issue.assignee
            events.append(
                _event(
                    issue.pk,
                    Kind.ASSIGNEE_CHANGED,
                    **meta,
                    **{
                        "from": issue.assignee_id,
                        "to": changes["assignee_id"],
                        "from_name": old_assignee.name if old_assignee else None,
                        "to_name": new_assignee.name if new_assignee else None,
                    },
                )
            )
            fields["assignee_id"] = changes["assignee_id"]

        if fields:
            _bump(issue, now, **fields)
            for name, value in fields.items():
                setattr(issue, name, value)
            IssueEvent.objects.bulk_create(events)
    return issue


def issue_labels_replace(
    *,
    issue_id: int,
    labels: Sequence[str],
    version: int | None = None,
    actor: User | None = None,
    source: str = Source.API,
) -> tuple[Issue, list[Label]]:
    """Replace an issue's labels as a whole, creating missing labels.

    Returns the issue and its labels sorted by name. Raises IssueNotFound, VersionConflict
    (when `version` is given and stale) or ValidationError; on any error nothing changes.
    """
    names = clean_label_names(labels)
    actor = _actor(actor)
    with transaction.atomic():
        issue = _lock_issue(issue_id)
        _check_version(issue, version)
        wanted = labels_get_or_create(names)
        current = {label.name.lower(): label for label in issue.labels.all()}
        added = [wanted[key] for key in wanted if key not in current]
        removed = [current[key] for key in current if key not in wanted]
        if added or removed:
            now = timezone.now()
            IssueLabel.objects.filter(issue=issue, label__in=removed).delete()
            IssueLabel.objects.bulk_create(IssueLabel(issue=issue, label=label) for label in added)
            _bump(issue, now)
            _event(
                issue.pk,
                Kind.LABELS_CHANGED,
                version=issue.version,
                actor=actor,
                source=source,
                now=now,
                added=sorted((label.name for label in added), key=str.lower),
                removed=sorted((label.name for label in removed), key=str.lower),
                labels=sorted((label.name for label in wanted.values()), key=str.lower),
            ).save()
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
    actor = _actor(actor)

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
            IssueEvent.objects.bulk_create(
                status_event(
                    pk,
                    current[pk][0],
                    status,
                    version=current[pk][1] + 1,
                    actor=actor,
                    source=source,
                    now=now,
                )
                for pk in changing
            )
    return ids


# --- Comments.


def comment_add(
    *,
    issue_id: int,
    body: str,
    author_id: int | None = None,
    actor: User | None = None,
    source: str = Source.API,
) -> Comment:
    """Add a comment. Comments do not change the issue's version.

    The author is `author_id`, or the actor when it is left out. While TRACKER_REQUIRE_AUTH
    is on, people comment only as themselves: an `author_id` other than the actor's is
    refused. The actor of the event is the actor when there is one, else the author.
    """
    body = clean_text(body)
    if not body:
        raise invalid("body", "Empty comment", "empty_comment")
    if not (is_id(issue_id) and Issue.objects.filter(pk=issue_id).exists()):
        raise IssueNotFound()
    actor = _actor(actor)
    if settings.TRACKER_REQUIRE_AUTH and author_id is not None and actor and author_id != actor.pk:
        raise invalid("author_id", "You can only comment as yourself", "not_yourself")
    if author_id is None and actor is not None:
        author_id = actor.pk
    author = User.objects.filter(pk=author_id).first() if author_id and is_id(author_id) else None
    if author is None:
        raise invalid("author_id", "Invalid author_id", "invalid_author")
    now = timezone.now()
    with transaction.atomic():
        comment = Comment.objects.create(
            issue_id=issue_id, author=author, body=body, created_at=now
        )
        _event(
            issue_id,
            Kind.COMMENT_ADDED,
            version=None,
            actor=actor or author,
            source=source,
            now=now,
            comment_id=comment.pk,
            author_id=author.pk,
            author_name=author.name,
            body=body,
        ).save()
    return comment
