from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tracker import services
from tracker.errors import IssueNotFound, RuleViolation, VersionConflict
from tracker.models import Comment, Issue, IssueEvent, Label, User

from .factories import IssueFactory, LabelFactory, UserFactory

pytestmark = pytest.mark.django_db


def codes(exc_info) -> dict[str, list[str]]:
    return {field: [e.code for e in errors] for field, errors in exc_info.value.error_dict.items()}


def events(issue_id: int) -> list[str]:
    return list(
        IssueEvent.objects.filter(issue_id=issue_id).order_by("id").values_list("event", flat=True)
    )


# --- Users


def test_user_create_trims_name_and_cannot_log_in():
    user = services.user_create(name="  Alice  ")
    assert user.name == "Alice"
    assert user.username is None
    assert not user.has_usable_password()


@pytest.mark.parametrize("name", ["", "   ", None, "x" * 101])
def test_user_create_refuses_blank_or_long_names(name):
    with pytest.raises(ValidationError) as exc:
        services.user_create(name=name)
    assert "name" in codes(exc)


def test_user_create_refuses_a_twin_only_when_asked_to():
    alice = services.user_create(name="Alice")
    with pytest.raises(ValidationError) as exc:
        services.user_create(name=" ALICE ", allow_same_name=False)
    assert codes(exc) == {"name": ["same_name"]}
    assert exc.value.messages == ["Someone named 'Alice' already exists"]
    assert list(User.objects.all()) == [alice]
    # The API's way (and a confirmed twin on the pages): created.
    twin = services.user_create(name="alice")
    assert list(User.objects.order_by("id")) == [alice, twin]
    assert services.user_create(name="Alicia", allow_same_name=False).name == "Alicia"


def test_database_refuses_blank_user_name_as_last_line():
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory.create(name="  ")


# --- Issue creation


def test_issue_create_records_event_and_defaults():
    alice = UserFactory.create(name="Alice")
    issue = services.issue_create(title="  Login bug ", assignee_id=alice.pk, actor=None)
    issue.refresh_from_db()
    assert (issue.title, issue.status, issue.version, issue.resolved_at) == (
        "Login bug",
        "open",
        1,
        None,
    )
    event = IssueEvent.objects.get(issue=issue)
    assert event.event == "issue_created"
    assert event.details == {
        "title": "Login bug",
        "status": "open",
        "assignee_id": alice.pk,
        "assignee_name": "Alice",
        "labels": [],
        "priority": "none",
        "due_date": None,
    }


def test_issue_create_closed_sets_resolved_at():
    issue = services.issue_create(title="Done already", status="closed")
    assert issue.resolved_at is not None


@pytest.mark.parametrize(
    ("fields", "field", "code", "message"),
    [
        ({"title": ""}, "title", "required", "Title is required"),
        ({"title": "   "}, "title", "required", "Title is required"),
        ({"title": "x" * 256}, "title", "max_length", "Title is too long (max 255)"),
        ({"title": "ok", "status": "done"}, "status", "invalid_status", "Invalid status 'done'"),
        (
            {"title": "ok", "assignee_id": 999999},
            "assignee_id",
            "invalid_assignee",
            "Invalid assignee_id",
        ),
        ({"title": "ok", "labels": [" "]}, "labels", "blank_label", "Label names cannot be blank"),
    ],
)
def test_issue_create_rejects_bad_input(fields, field, code, message):
    with pytest.raises(ValidationError) as exc:
        services.issue_create(**fields)
    assert codes(exc) == {field: [code]}
    assert exc.value.message_dict[field] == [message]
    assert not Issue.objects.exists()


def test_issue_create_with_labels_reuses_existing_label_case_insensitively():
    LabelFactory.create(name="Bug")
    issue = services.issue_create(title="x", labels=["bug", "new"])
    assert sorted(issue.labels.values_list("name", flat=True)) == ["Bug", "new"]
    assert Label.objects.count() == 2


# --- Issue update


def test_issue_update_changes_fields_bumps_version_once_and_records_each_change():
    alice, bob = UserFactory.create(name="Alice"), UserFactory.create(name="Bob")
    issue = services.issue_create(title="Old", assignee_id=alice.pk)
    updated = services.issue_update(
        issue_id=issue.pk,
        version=1,
        title="New",
        status="in_progress",
        assignee_id=bob.pk,
        description="More",
        actor=bob,
        source="web",
    )
    assert updated.version == 2
    issue.refresh_from_db()
    assert (issue.title, issue.status, issue.assignee_id, issue.description, issue.version) == (
        "New",
        "in_progress",
        bob.pk,
        "More",
        2,
    )
    assert events(issue.pk) == [
        "issue_created",
        "title_changed",
        "description_changed",
        "status_changed",
        "assignee_changed",
    ]
    changed = IssueEvent.objects.get(issue=issue, event="assignee_changed")
    assert changed.actor == bob
    assert changed.source == "web"
    assert changed.details == {
        "from": alice.pk,
        "to": bob.pk,
        "from_name": "Alice",
        "to_name": "Bob",
    }


def test_closing_sets_resolved_at_and_reopening_clears_it():
    issue = services.issue_create(title="x")
    closed = services.issue_update(issue_id=issue.pk, version=1, status="closed")
    assert closed.resolved_at is not None
    reopened = services.issue_update(issue_id=issue.pk, version=2, status="open")
    reopened.refresh_from_db()
    assert reopened.resolved_at is None
    assert events(issue.pk) == ["issue_created", "issue_closed", "issue_reopened"]


def test_issue_update_with_stale_version_changes_nothing():
    issue = services.issue_create(title="x")
    services.issue_update(issue_id=issue.pk, version=1, title="y")
    with pytest.raises(VersionConflict) as exc:
        services.issue_update(issue_id=issue.pk, version=1, title="z")
    assert exc.value.current_version == 2
    issue.refresh_from_db()
    assert (issue.title, issue.version) == ("y", 2)
    assert events(issue.pk) == ["issue_created", "title_changed"]


def test_issue_update_without_real_change_keeps_version():
    issue = services.issue_create(title="same")
    result = services.issue_update(issue_id=issue.pk, version=1, title="same")
    assert result.version == 1
    assert events(issue.pk) == ["issue_created"]


def test_issue_update_missing_issue():
    with pytest.raises(IssueNotFound):
        services.issue_update(issue_id=424242, version=1, title="x")


def test_issue_update_invalid_value_changes_nothing():
    issue = services.issue_create(title="x")
    with pytest.raises(ValidationError):
        services.issue_update(issue_id=issue.pk, version=1, title="ok", status="nope")
    issue.refresh_from_db()
    assert (issue.title, issue.version) == ("x", 1)


def test_database_keeps_resolved_at_in_step_with_status():
    with pytest.raises(IntegrityError), transaction.atomic():
        IssueFactory.create(status="closed", resolved_at=None)


# --- Labels


def test_labels_replace_trims_dedupes_and_records_added_and_removed():
    issue = services.issue_create(title="x", labels=["old"])
    issue, labels = services.issue_labels_replace(
        issue_id=issue.pk, labels=[" bug", "urgent", "BUG", "urgent "]
    )
    assert [label.name for label in labels] == ["bug", "urgent"]
    assert issue.version == 2
    event = IssueEvent.objects.get(issue=issue, event="labels_changed")
    assert event.details == {
        "added": ["bug", "urgent"],
        "removed": ["old"],
        "labels": ["bug", "urgent"],
    }


def test_labels_replace_with_same_set_writes_nothing():
    issue = services.issue_create(title="x", labels=["a", "b"])
    issue, _ = services.issue_labels_replace(issue_id=issue.pk, labels=["B", "a"])
    assert issue.version == 1
    assert events(issue.pk) == ["issue_created"]


@pytest.mark.parametrize("names", [["ok", ""], ["ok", "x" * 51]])
def test_labels_replace_rejects_whole_request(names):
    issue = services.issue_create(title="x", labels=["keep"])
    with pytest.raises(ValidationError):
        services.issue_labels_replace(issue_id=issue.pk, labels=names)
    assert list(issue.labels.values_list("name", flat=True)) == ["keep"]
    assert not Label.objects.filter(name="ok").exists()


def test_labels_replace_with_stale_version():
    issue = services.issue_create(title="x")
    services.issue_update(issue_id=issue.pk, version=1, title="y")
    with pytest.raises(VersionConflict):
        services.issue_labels_replace(issue_id=issue.pk, labels=["a"], version=1)
    assert not issue.labels.exists()


def test_label_delete_records_the_removal_on_each_issue():
    first = services.issue_create(title="a", labels=["gone", "stays"])
    second = services.issue_create(title="b", labels=["gone"])
    services.label_delete(label_id=Label.objects.get(name="gone").pk)
    for issue, remaining in ((first, ["stays"]), (second, [])):
        issue.refresh_from_db()
        assert issue.version == 2
        event = IssueEvent.objects.get(issue=issue, event="labels_changed")
        assert event.details == {"added": [], "removed": ["gone"], "labels": remaining}


def test_label_save_refuses_duplicate_name_in_other_case():
    services.label_save(name="Bug")
    with pytest.raises(ValidationError):
        services.label_save(name="bug ")


# --- Comments


def test_comment_add_records_event_without_changing_version():
    alice = UserFactory.create()
    issue = services.issue_create(title="x")
    comment = services.comment_add(issue_id=issue.pk, author_id=alice.pk, body="Seen it")
    issue.refresh_from_db()
    assert issue.version == 1
    event = IssueEvent.objects.get(issue=issue, event="comment_added")
    assert event.actor == alice
    assert event.details["comment_id"] == comment.pk


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"body": "  "}, ValidationError),
        ({"body": "x", "author_id": 999999}, ValidationError),
        ({"body": "x", "issue_id": 999999}, IssueNotFound),
    ],
)
def test_comment_add_errors(kwargs, error):
    alice = UserFactory.create()
    issue = services.issue_create(title="x")
    arguments = {"issue_id": issue.pk, "author_id": alice.pk, **kwargs}
    with pytest.raises(error):
        services.comment_add(**arguments)


def test_a_refused_create_or_comment_writes_nothing():
    issue = services.issue_create(title="x")
    with pytest.raises(ValidationError):
        services.issue_create(title="y", assignee_id=999999)
    with pytest.raises(ValidationError):
        services.comment_add(issue_id=issue.pk, body="c", author_id=999999)
    assert list(Issue.objects.values_list("title", flat=True)) == ["x"]
    assert not Comment.objects.exists()
    assert list(IssueEvent.objects.values_list("event", flat=True)) == ["issue_created"]


# --- Bulk status


def test_bulk_close_is_all_or_nothing_when_one_issue_is_missing():
    a = services.issue_create(title="a")
    with pytest.raises(RuleViolation) as exc:
        services.issues_bulk_set_status(issue_ids=[a.pk, 999999], status="closed")
    assert exc.value.message == "One or more issues not found"
    a.refresh_from_db()
    assert a.status == "open"


def test_bulk_close_refuses_an_already_closed_issue():
    a = services.issue_create(title="a")
    b = services.issue_create(title="b", status="closed")
    with pytest.raises(RuleViolation) as exc:
        services.issues_bulk_set_status(issue_ids=[a.pk, b.pk], status="closed")
    assert exc.value.message == f"Issue {b.pk} already closed"
    a.refresh_from_db()
    assert a.status == "open"


def test_bulk_status_changes_each_issue_with_its_own_event(django_assert_max_num_queries):
    issues = [services.issue_create(title=f"i{n}") for n in range(5)]
    ids = [issue.pk for issue in issues]
    with django_assert_max_num_queries(6):
        result = services.issues_bulk_set_status(issue_ids=[*ids, ids[0]], status="closed")
    assert result == ids
    for issue in Issue.objects.filter(pk__in=ids):
        assert (issue.status, issue.version) == ("closed", 2)
        assert issue.resolved_at is not None
    assert IssueEvent.objects.filter(event="issue_closed", source="bulk").count() == 5


# --- Event versions, labels at creation, text normalisation


def test_every_change_event_carries_the_version_it_produced():
    alice = UserFactory.create()
    issue = services.issue_create(title="x", labels=["a"])
    services.issue_update(issue_id=issue.pk, version=1, title="y", status="in_progress")
    services.issue_labels_replace(issue_id=issue.pk, labels=["b"])
    services.comment_add(issue_id=issue.pk, author_id=alice.pk, body="hi")
    services.issues_bulk_set_status(issue_ids=[issue.pk], status="closed")
    services.label_delete(label_id=Label.objects.get(name="b").pk)
    rows = list(
        IssueEvent.objects.filter(issue=issue).order_by("id").values_list("event", "version")
    )
    assert rows == [
        ("issue_created", 1),
        ("title_changed", 2),
        ("status_changed", 2),
        ("labels_changed", 3),
        ("comment_added", None),
        ("issue_closed", 4),
        ("labels_changed", 5),
    ]
    issue.refresh_from_db()
    assert issue.version == 5


def test_labels_given_at_creation_are_in_the_created_event():
    issue = services.issue_create(title="x", labels=["ui", "Bug"])
    assert IssueEvent.objects.get(issue=issue).details["labels"] == ["Bug", "ui"]


def test_line_endings_are_stored_one_way_whatever_the_client():
    alice = UserFactory.create()
    issue = services.issue_create(title="x", description="one\r\ntwo\rthree")
    comment = services.comment_add(issue_id=issue.pk, author_id=alice.pk, body=" a\r\nb ")
    issue.refresh_from_db()
    assert issue.description == "one\ntwo\nthree"
    assert comment.body == "a\nb"


def test_titles_stay_on_one_line():
    issue = services.issue_create(title=" Multi\r\nline\ttitle ")
    assert issue.title == "Multi line title"


def test_comment_author_defaults_to_the_actor():
    alice = UserFactory.create()
    issue = services.issue_create(title="x")
    comment = services.comment_add(issue_id=issue.pk, body="mine", actor=alice)
    assert comment.author == alice


def test_creating_labels_inserts_them_in_one_order(django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        services.labels_get_or_create(["zeta", "Alpha", "mid"])
    insert = next(q["sql"] for q in queries.captured_queries if q["sql"].startswith("INSERT"))
    names = insert[insert.index("Alpha") :]  # as VALUES rows or as UNNEST's arrays
    assert names.index("Alpha") < names.index("mid") < names.index("zeta")
