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
