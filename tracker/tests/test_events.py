"""services/events.py: the one door every change leaves through, and its hooks."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence

import pytest
from django.db import transaction
from django.utils import timezone

from tracker import services
from tracker.models import Issue, IssueEvent
from tracker.services import events
from tracker.services.events import Change, Event

from .factories import UserFactory

pytestmark = pytest.mark.django_db


class FakeHook:
    """Records each call with whether it ran inside a transaction."""

    def __init__(self) -> None:
        self.calls: list[tuple[Change, list[Event], bool]] = []

    def __call__(self, change: Change, recorded: Sequence[Event]) -> None:
        self.calls.append((change, list(recorded), transaction.get_connection().in_atomic_block))

    def kinds(self) -> list[list[str]]:
        return [[event.kind for event in recorded] for _, recorded, _ in self.calls]


@pytest.fixture
def hook() -> Iterator[FakeHook]:
    fake = FakeHook()
    events.on_record(fake)
    yield fake
    events.remove_hook(fake)


def test_every_write_calls_the_hooks_once_with_its_events(hook):
    alice = UserFactory.create(name="Alice")
    issue = services.issue_create(title="Crash", labels=["bug"], actor=alice)
    services.issue_update(issue_id=issue.pk, version=1, title="Crash on save", status="closed")
    services.issue_labels_replace(issue_id=issue.pk, labels=["bug", "ui"])
    services.comment_add(issue_id=issue.pk, body="Seen it", author_id=alice.pk)
    other = services.issue_create(title="Other")
    services.issues_bulk_set_status(issue_ids=[issue.pk, other.pk], status="in_progress")
    services.label_delete(label_id=issue.labels.get(name="ui").pk)
    assert hook.kinds() == [
        ["issue_created"],
        ["title_changed", "issue_closed"],
        ["labels_changed"],
        ["comment_added"],
        ["issue_created"],
        ["issue_reopened", "status_changed"],
        ["labels_changed"],
    ]
    first_change, first_events, in_transaction = hook.calls[0]
    assert (first_change.actor, first_change.source, in_transaction) == (alice, "api", True)
    assert first_events[0].details["labels"] == ["bug"]
    # What the hooks saw is what the timeline holds.
    assert IssueEvent.objects.count() == sum(len(recorded) for _, recorded, _ in hook.calls)


def test_an_import_calls_the_hooks_once_per_batch(hook):
    text = "title\n" + "".join(f"issue {n}\n" for n in range(25))
    services.issues_import(io.BytesIO(text.encode()), batch_size=10)
    assert [len(recorded) for _, recorded, _ in hook.calls] == [10, 10, 5]
    assert {change.source for change, _, _ in hook.calls} == {"import"}
    assert IssueEvent.objects.filter(event="issue_created").count() == 25


def test_a_dry_run_records_nothing(hook):
    services.issues_import(io.BytesIO(b"title\nx\n"), dry_run=True)
    assert hook.calls == []


def test_a_failing_hook_rolls_the_change_back():
    def failing(change: Change, recorded: Sequence[Event]) -> None:
        raise RuntimeError("the follow-up could not be scheduled")

    events.on_record(failing)
    try:
        with pytest.raises(RuntimeError):
            services.issue_create(title="Never written")
    finally:
        events.remove_hook(failing)
    assert not IssueEvent.objects.exists()
    assert not Issue.objects.exists()


def test_record_outside_a_transaction_is_refused(hook, monkeypatch):
    connection = transaction.get_connection()
    monkeypatch.setattr(connection, "in_atomic_block", False)
    issue_event = Event(1, IssueEvent.Kind.COMMENT_ADDED, None)
    with pytest.raises(RuntimeError, match="inside the change's transaction"):
        events.record(Change(None, "api", timezone.now()), [issue_event])
    assert hook.calls == []


class FakeOutbox:
    """An outbox writing into a temporary table: what the issue looked like in the change's
    transaction, and the calls of its `after`."""

    SQL = (
        "INSERT INTO outbox_seen (issue_id, event, version, title, actor_id)"
        " SELECT ev.issue_id, ev.event, ev.version, i.title, %(actor_id)s"
        " FROM ev JOIN issues i ON i.id = ev.issue_id"
        " RETURNING issue_id, event, version, title"
    )

    def __init__(self) -> None:
        self.calls: list[tuple[Change, list[dict]]] = []

    def after(self, change: Change, rows: list[dict]) -> None:
        assert transaction.get_connection().in_atomic_block
        self.calls.append((change, rows))


@pytest.fixture
def outbox() -> Iterator[FakeOutbox]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE outbox_seen"
            " (issue_id bigint, event text, version int, title text, actor_id bigint)"
        )
    fake = FakeOutbox()
    events.add_outbox(events.Outbox("fake", FakeOutbox.SQL, fake.after))
    yield fake
    events.remove_outbox("fake")


def seen() -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT issue_id, event, version, title, actor_id FROM outbox_seen")
        return cursor.fetchall()


def test_an_outbox_is_filled_in_the_statement_that_writes_the_events(outbox):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    alice = UserFactory.create(name="Alice")
    issue = services.issue_create(title="Crash", actor=alice)
    with CaptureQueriesContext(connection) as queries:
        services.issue_update(issue_id=issue.pk, version=1, title="Crash on save")
    writing = [q["sql"] for q in queries.captured_queries if "issue_events" in q["sql"]]
    assert len(writing) == 1 and "outbox_seen" in writing[0]
    assert not [q for q in queries.captured_queries if q["sql"].startswith("INSERT INTO outbox")]
    # The outbox sees the issue as the change left it, in the change's transaction.
    assert seen() == [
        (issue.pk, "issue_created", 1, "Crash", alice.pk),
        (issue.pk, "title_changed", 2, "Crash on save", None),
    ]
    assert [[row["event"] for row in rows] for _, rows in outbox.calls] == [
        ["issue_created"],
        ["title_changed"],
    ]


def test_an_outbox_of_a_rolled_back_change_keeps_nothing(outbox):
    issue = services.issue_create(title="Crash")
    with pytest.raises(RuntimeError), transaction.atomic():
        services.issue_update(issue_id=issue.pk, version=1, status="closed")
        raise RuntimeError("the request fails after the change")
    assert [event for _, event, *_ in seen()] == ["issue_created"]


def test_an_import_fills_an_outbox_once_per_batch(outbox):
    text = "title\n" + "".join(f"issue {n}\n" for n in range(25))
    services.issues_import(io.BytesIO(text.encode()), batch_size=10)
    assert [len(rows) for _, rows in outbox.calls] == [10, 10, 5]
    assert len(seen()) == 25


def test_after_is_not_called_when_the_outbox_wrote_nothing():
    calls = []
    events.add_outbox(
        events.Outbox(
            "nothing",
            "SELECT 1 AS never FROM ev WHERE false",
            lambda change, rows: calls.append(rows),
        )
    )
    try:
        services.issue_create(title="Crash")
    finally:
        events.remove_outbox("nothing")
    assert calls == []
    assert IssueEvent.objects.count() == 1
