from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict

from tracker import selectors, services
from tracker.errors import IssueNotFound

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_status_counts_leave_out_their_own_status_filter(django_assert_num_queries):
    services.issue_create(title="Alpha", status="closed")
    services.issue_create(title="Alpha again")
    services.issue_create(title="Beta", status="in_progress")
    with django_assert_num_queries(1):
        counts = selectors.issue_status_counts(filters=QueryDict("q=alpha&status=open"))
    assert counts == {"open": 1, "in_progress": 0, "closed": 1}
    assert selectors.issue_status_counts() == {"open": 1, "in_progress": 1, "closed": 1}


def test_status_counts_refuse_filters_that_do_not_parse():
    with pytest.raises(ValidationError):
        selectors.issue_status_counts(filters=QueryDict("assignee_id=abc"))


def test_events_since_a_version_are_the_changes_made_after_it():
    bob = UserFactory.create(name="Bob")
    issue = services.issue_create(title="T")
    services.issue_update(issue_id=issue.pk, version=1, title="T2", status="closed", actor=bob)
    services.comment_add(issue_id=issue.pk, author_id=bob.pk, body="Comments keep the version")
    services.issue_labels_replace(issue_id=issue.pk, labels=["bug"], version=2)

    def kinds(version: int) -> list[str]:
        events = selectors.issue_events_since(issue_id=issue.pk, version=version)
        return [event.event for event in events]

    assert kinds(1) == ["title_changed", "issue_closed", "labels_changed"]
    assert kinds(2) == ["labels_changed"]
    assert kinds(3) == []


def test_events_since_a_version_of_a_missing_issue():
    with pytest.raises(IssueNotFound):
        selectors.issue_events_since(issue_id=999_999, version=1)


def test_users_to_pick_are_the_active_people_by_name_without_regard_to_case():
    zed, amy = UserFactory.create(name="zed"), UserFactory.create(name="Amy")
    gone = UserFactory.create(name="Bob", is_active=False)
    ann, amy_two = UserFactory.create(name="ann"), UserFactory.create(name="amy")
    assert list(selectors.users_to_pick()) == [amy, amy_two, ann, zed]
    # The value a picker already holds stays on offer, in its place by name.
    assert list(selectors.users_to_pick(keep_id=gone.pk)) == [amy, amy_two, ann, gone, zed]
    assert list(selectors.users_to_pick(keep_id=zed.pk)) == [amy, amy_two, ann, zed]
    assert list(selectors.users_to_pick(keep_id=None)) == [amy, amy_two, ann, zed]


@pytest.mark.parametrize("asked", ["Amélie", "  AMÉLIE ", "Ame\u0301lie", "AME\u0301LIE"])
def test_user_named_compares_trimmed_names_by_name_key(asked):
    first = UserFactory.create(name="Ame\u0301lie")  # stored decomposed, found composed too
    UserFactory.create(name="amélie")
    UserFactory.create(name="Amelie")
    assert selectors.user_named(name=asked) == first


@pytest.mark.parametrize(("stored", "asked"), [("ΣΑΣ", "σας"), ("Straße", "STRASSE")])
def test_user_named_compares_by_casefold_where_lower_case_differs(stored, asked):
    person = UserFactory.create(name=stored)
    assert selectors.user_named(name=asked) == person


def test_user_named_finds_no_one_for_a_new_name():
    UserFactory.create(name="Amélie")
    assert selectors.user_named(name="Amelia") is None
