"""The API's hot reads as JSON text built by PostgreSQL, one statement each: no model
instances, no serializer, no per-field Python work.

Each object has exactly the fields, order and values of the API's output serializers
(test_selectors_json.py holds the two together for the same rows), so the documented shape
and the fast path cannot drift. Timestamps are written by `tracker_isoformat` (migration
0003) as DRF writes them in the current time zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet, TextField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from issuetracker.postgresql.base import prepared_cursor

from .models import Issue, User
from .rules import is_id

# The fields of an issue as the API shows it, in order: (name, SQL over `issues`).
ISSUE_FIELDS_SQL = (
    ("id", "issues.id"),
    ("title", "issues.title"),
    ("description", "issues.description"),
    ("status", "issues.status"),
    ("version", "issues.version"),
    ("assignee_id", "issues.assignee_id"),
    ("priority", "issues.priority"),
    # As a date's isoformat() whatever the session's DateStyle.
    ("due_date", "to_char(issues.due_date, 'YYYY-MM-DD')"),
    (
        "labels",
        "COALESCE((SELECT json_agg(labels.name ORDER BY labels.name) FROM issue_labels"
        " JOIN labels ON labels.id = issue_labels.label_id"
        " WHERE issue_labels.issue_id = issues.id), '[]'::json)",
    ),
    ("created_at", "tracker_isoformat(issues.created_at, %(tz)s)"),
    ("updated_at", "tracker_isoformat(issues.updated_at, %(tz)s)"),
    ("resolved_at", "tracker_isoformat(issues.resolved_at, %(tz)s)"),
)
COMMENT_FIELDS_SQL = (
    ("id", "comments.id"),
    ("body", "comments.body"),
    ("issue_id", "comments.issue_id"),
    ("author_id", "comments.author_id"),
    ("created_at", "tracker_isoformat(comments.created_at, %(tz)s)"),
)
USER_FIELDS_SQL = (("id", "users.id"), ("name", "users.name"))


def _object(fields: tuple[tuple[str, str], ...]) -> str:
    return "json_build_object(" + ", ".join(f"'{name}', {sql}" for name, sql in fields) + ")"


ISSUE_SQL = _object(ISSUE_FIELDS_SQL)
USER_SQL = _object(USER_FIELDS_SQL)
ISSUE_DETAIL_SQL = _object(
    (
        *ISSUE_FIELDS_SQL,
        (
            "comments",
            f"COALESCE((SELECT json_agg({_object(COMMENT_FIELDS_SQL)}"
            " ORDER BY comments.created_at, comments.id) FROM comments"
            " WHERE comments.issue_id = issues.id), '[]'::json)",
        ),
    )
)


def _params() -> dict[str, str]:
    return {"tz": timezone.get_current_timezone_name()}


def _positional(sql: str) -> tuple[str, list[str]]:
    """`sql` with its %(tz)s placeholders made positional, for RawSQL."""
    count = sql.count("%(tz)s")
    return sql.replace("%(tz)s", "%s"), [timezone.get_current_timezone_name()] * count


def issue_detail_json(*, issue_id: int) -> str | None:
    """The issue with its labels and comments, as GET /issues/{id} shows it; None when
    there is no such issue."""
    if not is_id(issue_id):
        return None
    with prepared_cursor() as cursor:
        cursor.execute(
            f"SELECT {ISSUE_DETAIL_SQL}::text FROM issues WHERE issues.id = %(id)s",
            {**_params(), "id": issue_id},
        )
        row = cursor.fetchone()
    return row[0] if row else None


def with_issue_json(queryset: QuerySet[Issue]) -> QuerySet[Any]:
    """`queryset` (already filtered) read as rows `{"id": ..., "json": ...}`, the issue's
    JSON built by PostgreSQL: no model is built for a row (the keyset pagination adds the
    key it sorts by to each row itself)."""
    sql, params = _positional(ISSUE_SQL)
    return (
        queryset.prefetch_related(None)
        .annotate(json=RawSQL(f"{sql}::text", params, output_field=TextField()))
        .values("id", "json")
    )


def with_user_json(queryset: QuerySet[User]) -> QuerySet[Any]:
    sql, params = _positional(USER_SQL)
    return queryset.annotate(json=RawSQL(f"{sql}::text", params, output_field=TextField())).values(
        "id", "json"
    )


def json_shape(name: str) -> tuple[str, str]:
    """keyset_page's `shape` for the unfiltered `name` read through with_issue_json or
    with_user_json: its rows' JSON depends on the time zone, and on nothing else of the
    request (no private field: a row that showed one to some viewers would need the viewer
    in its shape)."""
    return (name, timezone.get_current_timezone_name())


def json_array(rows: Iterable[dict[str, Any]]) -> str:
    """The JSON array of rows read through with_issue_json or with_user_json."""
    return "[" + ",".join(row["json"] for row in rows) + "]"
