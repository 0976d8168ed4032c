"""Timeline events: the one door through which every change leaves a record.

Only this module writes `issue_events` rows. A service describes its change as `Event`s and
hands them to `record()` inside the transaction of the change; `record()` writes them (COPY
for an import's batches, one INSERT otherwise) and then calls every hook registered with
`on_record`, still inside that transaction. Follow-up work (notifications, webhooks) plugs
in there: a hook that defers a job in the same transaction gets no job for a rolled-back
change and never loses one for a committed change. Hooks get one call per batch (a bulk
change or an import batch), never one per row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db import connection

from issuetracker.postgresql.base import prepared_cursor
from tracker.imports import pg_copy
from tracker.imports.pg_copy import NULL, escape
from tracker.models import Issue, IssueEvent, User

Status = Issue.Status
Kind = IssueEvent.Kind


@dataclass(frozen=True, slots=True)
class Change:
    """Who made a change, through which interface and when: shared by all its events."""

    actor: User | None
    source: str
    at: datetime

    @property
    def actor_id(self) -> int | None:
        return self.actor.pk if self.actor is not None else None


@dataclass(frozen=True, slots=True)
class Event:
    """One line of an issue's timeline. `version` is the issue's version after the change
    (None for comments, which do not change the issue)."""

    issue_id: int
    kind: str
    version: int | None
    details: dict[str, Any] = field(default_factory=dict)


Hook = Callable[[Change, Sequence[Event]], None]
_hooks: list[Hook] = []


def on_record(hook: Hook) -> Hook:
    """Register `hook(change, events)`, called by `record()` inside the change's transaction
    after its events are written. Usable as a decorator; returns the hook."""
    _hooks.append(hook)
    return hook


def remove_hook(hook: Hook) -> None:
    _hooks.remove(hook)


@dataclass(frozen=True, slots=True)
class Outbox:
    """Follow-up work written in the statement that writes the events.

    `sql` is a data-modifying query (an INSERT ... SELECT ... RETURNING) run as a common
    table expression of that statement: it reads the change's events from `ev(issue_id,
    event, version, details)` and the change from `%(actor_id)s`, `%(source)s` and
    `%(at)s`, and it sees every row the change wrote before. What it returns reaches
    `after(change, rows)` (each row a dict), which defers the jobs for it; `after` is not
    called when the query returned nothing. So a change that needs no follow-up costs no
    extra round trip, and one that does costs one (the defer), all in its transaction.
    """

    name: str
    sql: str
    after: Callable[[Change, list[dict[str, Any]]], None]


_outboxes: dict[str, Outbox] = {}


def add_outbox(outbox: Outbox) -> Outbox:
    """Register `outbox` (replacing one of the same name); returns it."""
    _outboxes[outbox.name] = outbox
    return outbox


def remove_outbox(name: str) -> None:
    _outboxes.pop(name, None)


def record(change: Change, events: Sequence[Event], *, bulk: bool = False) -> None:
    """Write `events`, fill the outboxes and call the hooks. Call inside
    `transaction.atomic`, in the transaction of the change the events describe.

    `bulk`: write with COPY (an import's batch of thousands); the outboxes then take one
    statement of their own for the batch.
    """
    if not events:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("events.record() must run inside the change's transaction")
    if bulk:
        _copy(change, events)
        _fill_outboxes(change, events, write_events=False)
    else:
        _fill_outboxes(change, events, write_events=True)
    for hook in _hooks:
        hook(change, events)


_WRITE_EVENTS = """
    written AS (
        INSERT INTO issue_events (issue_id, event, version, actor_id, created_at, details, source)
        SELECT issue_id, event, version, %(actor_id)s, %(at)s, details, %(source)s FROM ev
    )"""


# A change of a few events (a request's) passes each event's values as parameters of their
# own, in a statement prepared for that many (issuetracker/postgresql/base.py): its plan,
# made for that many rows, is kept and reused. A batch (a bulk change) passes arrays, and its
# statement is planned for each batch: a plan for a few rows would not suit ten thousand.
PREPARED_MAX_EVENTS = 8
_EVENT_COLUMNS = "AS ev(issue_id, event, version, details)"

_statements: dict[tuple[bool, tuple[str, ...], int | None], str] = {}


def _statement(outboxes: list[Outbox], *, write_events: bool, rows: int | None) -> str:
    """The one statement that writes the events (unless COPY did) and fills the outboxes;
    built once for each set of outboxes and number of `rows` (None: arrays)."""
    key = (write_events, tuple(outbox.name for outbox in outboxes), rows)
    if key not in _statements:
        if rows is None:
            source = (
                "unnest(%(issue_ids)s::bigint[], %(kinds)s::text[], %(versions)s::int[],"
                " %(details)s::jsonb[])"
            )
        else:
            source = "(VALUES {})".format(
                ", ".join(
                    f"(%(issue_id_{n})s::bigint, %(kind_{n})s::text, %(version_{n})s::int,"
                    f" %(details_{n})s::jsonb)"
                    for n in range(rows)
                )
            )
        parts = [f"ev AS (SELECT * FROM {source} {_EVENT_COLUMNS})"]
        if write_events:
            parts.append(_WRITE_EVENTS)
        parts += [f"outbox_{i} AS ({outbox.sql})" for i, outbox in enumerate(outboxes)]
        select = (
            " UNION ALL ".join(
                f"SELECT {i}, row_to_json(outbox_{i})::text FROM outbox_{i}"
                for i in range(len(outboxes))
            )
            or "SELECT NULL, NULL WHERE false"
        )
        # Without the indentation: psycopg keeps the parsed form of statements up to 4 kB.
        _statements[key] = re.sub(r"\n\s+", "\n", f"WITH {', '.join(parts)} {select}")
    return _statements[key]


def _fill_outboxes(change: Change, events: Sequence[Event], *, write_events: bool) -> None:
    outboxes = list(_outboxes.values())
    if not outboxes and not write_events:
        return
    params: dict[str, Any] = {
        "actor_id": change.actor_id,
        "source": change.source,
        "at": change.at,
    }
    few = len(events) <= PREPARED_MAX_EVENTS
    if few:
        for n, e in enumerate(events):
            params[f"issue_id_{n}"] = e.issue_id
            params[f"kind_{n}"] = str(e.kind)
            params[f"version_{n}"] = e.version
            params[f"details_{n}"] = json.dumps(e.details)
    else:
        params["issue_ids"] = [e.issue_id for e in events]
        params["kinds"] = [str(e.kind) for e in events]
        params["versions"] = [e.version for e in events]
        params["details"] = [json.dumps(e.details) for e in events]
    statement = _statement(outboxes, write_events=write_events, rows=len(events) if few else None)
    with prepared_cursor() if few else connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall() if outboxes else []
    by_outbox: dict[int, list[dict[str, Any]]] = {}
    for index, row in rows:
        by_outbox.setdefault(index, []).append(json.loads(row))
    for index, found in sorted(by_outbox.items()):
        outboxes[index].after(change, found)


def _copy(change: Change, events: Sequence[Event]) -> None:
    stamp = change.at.isoformat()
    actor = NULL if change.actor_id is None else change.actor_id
    pg_copy.copy_lines(
        IssueEvent._meta.db_table,
        ("issue_id", "event", "version", "actor_id", "created_at", "details", "source"),
        (
            f"{e.issue_id}\t{e.kind}\t{NULL if e.version is None else e.version}\t{actor}\t"
            f"{stamp}\t{escape(json.dumps(e.details))}\t{change.source}\n"
            for e in events
        ),
    )


def recorded_actor(actor: User | None) -> User | None:
    """Anonymous requests have no actor; only saved users are recorded."""
    return actor if actor is not None and getattr(actor, "pk", None) else None


# --- The events of each kind, as the services describe their changes.


def created_event(
    issue_id: int,
    *,
    title: str,
    status: str,
    assignee_id: int | None,
    assignee_name: str | None,
    labels: Sequence[str] = (),
    priority: str = Issue.Priority.NONE,
    due_date: date | None = None,
) -> Event:
    """`issue_created` (issue_create and the CSV import share it)."""
    return Event(
        issue_id,
        Kind.ISSUE_CREATED,
        1,
        {
            "title": title,
            "status": status,
            "assignee_id": assignee_id,
            "assignee_name": assignee_name,
            "labels": sorted(labels, key=str.lower),
            "priority": priority,
            "due_date": due_date.isoformat() if due_date else None,
        },
    )


def status_event(issue_id: int, old: str, new: str, *, version: int) -> Event:
    """`issue_closed`, `issue_reopened` or `status_changed`, by where the status went."""
    if new == Status.CLOSED:
        kind = Kind.ISSUE_CLOSED
    elif old == Status.CLOSED:
        kind = Kind.ISSUE_REOPENED
    else:
        kind = Kind.STATUS_CHANGED
    return Event(issue_id, kind, version, {"status": new, "from": old, "to": new})


def labels_event(
    issue_id: int,
    *,
    version: int,
    added: Sequence[str],
    removed: Sequence[str],
    labels: Sequence[str],
) -> Event:
    def ordered(names: Sequence[str]) -> list[str]:
        return sorted(names, key=str.lower)

    return Event(
        issue_id,
        Kind.LABELS_CHANGED,
        version,
        {"added": ordered(added), "removed": ordered(removed), "labels": ordered(labels)},
    )
