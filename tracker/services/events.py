"""Timeline events: built by the services in the transaction of the change they record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tracker.models import Issue, IssueEvent, User

Status = Issue.Status
Kind = IssueEvent.Kind


def new_event(
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
    return new_event(
        issue_id,
        kind,
        version=version,
        actor=actor,
        source=source,
        now=now,
        status=new,
        **{"from": old, "to": new},
    )


def recorded_actor(actor: User | None) -> User | None:
    """Anonymous requests have no actor; only saved users are recorded."""
    return actor if actor is not None and getattr(actor, "pk", None) else None
