"""The database invariants that the constraints alone do not hold, checked with set-based SQL
(a few scans, whatever the number of issues). `manage.py check_integrity` reports them, and
every test that uses the database ends by checking them (tracker/tests/conftest.py).

Each check returns at most `limit` examples and the total count of rows that break it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.db import connection, models


@dataclass(frozen=True)
class Check:
    code: str
    description: str
    sql: str
    describe: Callable[[dict], str]
    # A warning is worth a look but not a failure.
    warning: bool = False


@dataclass
class Finding:
    check: Check
    total: int
    examples: list[str] = field(default_factory=list)


def _one_created_event(row: dict) -> str:
    return f"issue {row['issue_id']} has {row['created']} issue_created events (expected 1)"


def _closed_iff_resolved(row: dict) -> str:
    if row["status"] == "closed":
        return f"issue {row['issue_id']} is closed but resolved_at is empty"
    return f"issue {row['issue_id']} is {row['status']} but resolved_at is {row['resolved_at']}"


def _version_matches_events(row: dict) -> str:
    latest = row["latest"]
    if latest is None:
        return f"issue {row['issue_id']} has version {row['version']} but no event carries one"
    return (
        f"issue {row['issue_id']} has version {row['version']} but its latest event "
        f"carries version {latest}"
    )


def _missing_target(row: dict) -> str:
    return (
        f"{row['table_name']} row {row['row_id']}: {row['column_name']} = {row['target_id']} "
        f"points to no row of {row['target_table']}"
    )


def _unused_label(row: dict) -> str:
    return f"label {row['label_id']} {row['name']!r} is on no issue"


def _links_to_missing_rows_sql() -> str:
    """One anti-join per foreign key of the tracker's tables. The foreign keys are deferred
    constraints, so a row can only point nowhere if they were bypassed (disabled triggers,
    session_replication_role = replica during a restore, a hand edit)."""
    quote = connection.ops.quote_name
    parts = []
    for model in apps.get_app_config("tracker").get_models():
        for fk in model._meta.concrete_fields:
            if not isinstance(fk, models.ForeignKey):
                continue
            table, column = model._meta.db_table, str(fk.column)
            target = fk.related_model._meta
            target_pk = str(fk.target_field.column)
            row_pk = str(model._meta.pk.column) if model._meta.pk else "id"
            parts.append(
                f"SELECT '{table}' AS table_name, t.{quote(row_pk)} AS row_id,"
                f" '{column}' AS column_name, t.{quote(column)} AS target_id,"
                f" '{target.db_table}' AS target_table"
                f" FROM {quote(table)} t"
                f" WHERE t.{quote(column)} IS NOT NULL AND NOT EXISTS"
                f" (SELECT 1 FROM {quote(target.db_table)} x"
                f" WHERE x.{quote(target_pk)} = t.{quote(column)})"
            )
    return " UNION ALL ".join(parts)


@functools.cache
def checks() -> tuple[Check, ...]:
    return (
        Check(
            code="one_issue_created_event",
            description="Every issue has exactly one issue_created event",
            sql="""
                SELECT i.id AS issue_id, coalesce(e.created, 0) AS created
                  FROM issues i
                  LEFT JOIN (SELECT issue_id, count(*) AS created
                               FROM issue_events
                              WHERE event = 'issue_created'
                              GROUP BY issue_id) e ON e.issue_id = i.id
                 WHERE coalesce(e.created, 0) <> 1
            """,
            describe=_one_created_event,
        ),
        Check(
            code="closed_iff_resolved",
            description="An issue is closed exactly when resolved_at is set",
            sql="""
                SELECT id AS issue_id, status, resolved_at
                  FROM issues
                 WHERE (status = 'closed') <> (resolved_at IS NOT NULL)
            """,
            describe=_closed_iff_resolved,
        ),
        Check(
            code="version_matches_events",
            description="An issue's version is the highest version among its events",
            sql="""
                SELECT i.id AS issue_id, i.version, e.latest
                  FROM issues i
                  LEFT JOIN (SELECT issue_id, max(version) AS latest
                               FROM issue_events
                              GROUP BY issue_id) e ON e.issue_id = i.id
                 WHERE e.latest IS DISTINCT FROM i.version
            """,
            describe=_version_matches_events,
        ),
        Check(
            code="links_to_missing_rows",
            description="No row points to a missing one (label links, comments, events, assignees)",
            sql=_links_to_missing_rows_sql(),
            describe=_missing_target,
        ),
        Check(
            code="unused_labels",
            description="Every label is on some issue (a warning only: labels may come before use)",
            sql="""
                SELECT l.id AS label_id, l.name
                  FROM labels l
                 WHERE NOT EXISTS (SELECT 1 FROM issue_labels il WHERE il.label_id = l.id)
            """,
            describe=_unused_label,
            warning=True,
        ),
    )


def run_check(check: Check, *, limit: int = 20) -> Finding:
    """The rows that break `check`: their total and the first `limit` of them, described."""
    sql = f"SELECT v.*, count(*) OVER () AS total FROM ({check.sql}) v ORDER BY 1, 2 LIMIT %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [limit])
        columns = [column.name for column in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return Finding(
        check=check,
        total=rows[0]["total"] if rows else 0,
        examples=[check.describe(row) for row in rows],
    )


def violations(*, limit: int = 20) -> list[Finding]:
    """Findings of the checks that must hold (warnings left out), only those with rows."""
    found = (run_check(check, limit=limit) for check in checks() if not check.warning)
    return [finding for finding in found if finding.total]
