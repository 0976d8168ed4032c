"""`manage.py check_integrity`: each invariant, broken with raw SQL the way only a bypassed
constraint, a bad restore or a hand edit could break it, is reported by name with the rows
that break it, and the command exits with status 1."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tracker import integrity, services

pytestmark = [pytest.mark.django_db, pytest.mark.breaks_integrity]


def sql(statement: str, params: list | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def drop_constraints(table: str, kind: str) -> None:
    """Drop `table`'s constraints of `kind` ('f' foreign key, 'c' check) for the rest of the
    test (its transaction is rolled back): the state a bypassed constraint leaves behind."""
    sql("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks may stand in the way of ALTER
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = %s",
            [table, kind],
        )
        names = [name for (name,) in cursor.fetchall()]
    quote = connection.ops.quote_name
    for name in names:
        sql(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")


def check_integrity(*args: str) -> tuple[int, str]:
    """The command's exit status and what it printed."""
    out = StringIO()
    try:
        call_command("check_integrity", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, f"{out.getvalue()}{exc}"
    return 0, out.getvalue()


@pytest.fixture
def issue():
    return services.issue_create(title="Checkout fails", labels=["bug"])


def test_a_database_written_by_the_services_passes(issue):
    closed = services.issue_create(title="Old", status="closed")
    services.issue_update(issue_id=closed.pk, actor=None, version=1, status="open")
    author = services.user_create(name="Author")
    services.comment_add(issue_id=issue.pk, body="Seen", author_id=author.pk)
    status, output = check_integrity()
    assert status == 0
    assert "FAIL" not in output
    assert output.rstrip().endswith("All invariants hold.")


def test_an_issue_without_its_issue_created_event(issue):
    sql("DELETE FROM issue_events WHERE issue_id = %s AND event = 'issue_created'", [issue.pk])
    status, output = check_integrity()
    assert status == 1
    assert "FAIL  Every issue has exactly one issue_created event: 1 found" in output
    assert f"issue {issue.pk} has 0 issue_created events (expected 1)" in output


def test_an_issue_with_two_issue_created_events(issue):
    sql(
        "INSERT INTO issue_events (issue_id, event, version, created_at, details, source) "
        "VALUES (%s, 'issue_created', 1, now(), '{}', 'api')",
        [issue.pk],
    )
    status, output = check_integrity()
    assert status == 1
    assert f"issue {issue.pk} has 2 issue_created events (expected 1)" in output
    assert "invariant violated" in output


@pytest.mark.parametrize("status", ["closed", "open"])
def test_closed_without_resolved_at_and_resolved_while_open(status):
    issue = services.issue_create(title="Half closed", status="open")
    drop_constraints("issues", "c")
    if status == "closed":
        sql("UPDATE issues SET status = 'closed' WHERE id = %s", [issue.pk])
        expected = f"issue {issue.pk} is closed but resolved_at is empty"
    else:
        sql("UPDATE issues SET resolved_at = '2026-01-02T03:04:05Z' WHERE id = %s", [issue.pk])
        expected = f"issue {issue.pk} is open but resolved_at is 2026-01-02 03:04:05+00:00"
    exit_status, output = check_integrity()
    assert exit_status == 1
    assert "FAIL  An issue is closed exactly when resolved_at is set: 1 found" in output
    assert expected in output


def test_a_version_that_no_event_carries(issue):
    sql("UPDATE issues SET version = version + 1 WHERE id = %s", [issue.pk])
    status, output = check_integrity()
    assert status == 1
    assert "FAIL  An issue's version is the highest version among its events: 1 found" in output
    assert f"issue {issue.pk} has version 2 but its latest event carries version 1" in output


def test_a_label_link_to_a_missing_label_or_issue(issue):
    drop_constraints("issue_labels", "f")
    sql("INSERT INTO issue_labels (issue_id, label_id) VALUES (%s, 987654)", [issue.pk])
    sql(
        "INSERT INTO issue_labels (issue_id, label_id) SELECT 876543, id FROM labels "
        "WHERE name = 'bug'"
    )
    status, output = check_integrity()
    assert status == 1
    assert "FAIL  No row points to a missing one" in output
    assert "label_id = 987654 points to no row of labels" in output
    assert "issue_id = 876543 points to no row of issues" in output


def test_a_comment_of_a_missing_issue():
    author = services.user_create(name="Author")
    drop_constraints("comments", "f")
    sql(
        "INSERT INTO comments (issue_id, author_id, body, created_at) "
        "VALUES (765432, %s, 'orphan', now())",
        [author.pk],
    )
    status, output = check_integrity()
    assert status == 1
    assert "comments row" in output and "issue_id = 765432 points to no row of issues" in output


def test_a_label_on_no_issue_is_a_warning_only(issue):
    services.label_save(name="wontfix", color="#ffffff")
    status, output = check_integrity()
    assert status == 0
    assert "WARN  Every label is on some issue" in output
    assert "'wontfix' is on no issue" in output
    assert output.rstrip().endswith("All invariants hold.")


def test_the_examples_are_limited_but_the_count_is_exact():
    issues = [services.issue_create(title=f"Issue {n}") for n in range(4)]
    sql("UPDATE issues SET version = 9")
    status, output = check_integrity("--limit", "2")
    assert status == 1
    assert "highest version among its events: 4 found" in output
    assert f"issue {issues[0].pk} has version 9" in output
    assert f"issue {issues[2].pk} has version 9" not in output
    assert "... and 2 more" in output


def test_every_violation_is_reported_in_one_run(issue):
    sql("UPDATE issues SET version = 5")
    sql("DELETE FROM issue_events WHERE event = 'issue_created'")
    status, output = check_integrity()
    assert status == 1
    assert output.count("FAIL") == 2
    assert output.rstrip().endswith("2 invariants violated.")


def test_violations_leave_out_the_warnings(issue):
    services.label_save(name="unused", color="#ffffff")
    assert integrity.violations() == []
    sql("UPDATE issues SET version = 3")
    assert [f.check.code for f in integrity.violations()] == ["version_matches_events"]


def test_the_foreign_key_check_covers_every_tracker_table():
    links = integrity.checks()[3].sql
    for table, column in [
        ("issue_labels", "issue_id"),
        ("issue_labels", "label_id"),
        ("comments", "issue_id"),
        ("comments", "author_id"),
        ("issue_events", "issue_id"),
        ("issue_events", "actor_id"),
        ("issues", "assignee_id"),
    ]:
        assert f"'{table}' AS table_name" in links and f"'{column}' AS column_name" in links
