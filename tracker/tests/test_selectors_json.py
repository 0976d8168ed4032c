"""The hot reads' JSON, built by PostgreSQL, is exactly what the output serializers give for
the same rows: field names, order, values and timestamp format."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from tracker import selectors, selectors_json, services
from tracker.api import serializers as s
from tracker.models import Comment, Issue, User

from .factories import UserFactory

pytestmark = pytest.mark.django_db

ZONES = ["UTC", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham"]


def ordered(text: str) -> list:
    """JSON with its objects as lists of pairs, so that key order is compared too."""
    return json.loads(text, object_pairs_hook=list)


def same_as_serializer(data: object) -> list:
    return ordered(json.dumps(data))


@pytest.fixture
def issues() -> list[Issue]:
    alice = UserFactory.create(name='Alice «ü» "quoted"')
    tricky = 'Line one\nline "two"\ttab \\ backslash \u2028 😀 <script>'
    first = services.issue_create(
        title="Crash",
        description=tricky,
        labels=["urgent", "Bug", "İstanbul"],
        assignee_id=alice.pk,
    )
    services.comment_add(issue_id=first.pk, body=tricky, author_id=alice.pk)
    services.comment_add(issue_id=first.pk, body="second", author_id=alice.pk)
    # Whole-second timestamps are written without microseconds.
    Comment.objects.filter(body="second").update(
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    )
    second = services.issue_create(title="Closed", status="closed")
    third = services.issue_create(title="Bare")
    Issue.objects.filter(pk=third.pk).update(created_at=datetime(2025, 12, 31, 23, 0, tzinfo=UTC))
    return [first, second, third]


@pytest.mark.parametrize("zone", ZONES)
def test_issue_detail_json_is_the_serializers_output(issues, settings, zone):
    settings.TIME_ZONE = zone
    timezone.activate(zone)
    try:
        for issue in issues:
            expected = s.IssueDetailOutput(selectors.issue_detail(issue_id=issue.pk)).data
            fast = selectors_json.issue_detail_json(issue_id=issue.pk)
            assert fast is not None
            assert ordered(fast) == same_as_serializer(expected)
    finally:
        timezone.deactivate()


@pytest.mark.parametrize("zone", ZONES[:2])
def test_issue_list_json_is_the_serializers_output(issues, zone):
    timezone.activate(zone)
    try:
        queryset = selectors.issue_list().order_by("id")
        expected = s.IssueOutput(queryset, many=True).data
        fast = selectors_json.json_array(selectors_json.with_issue_json(queryset))
        assert ordered(fast) == same_as_serializer(expected)
    finally:
        timezone.deactivate()


def test_user_list_json_is_the_serializers_output(issues):
    queryset = User.objects.order_by("id")
    fast = selectors_json.json_array(selectors_json.with_user_json(queryset))
    assert ordered(fast) == same_as_serializer(s.UserOutput(queryset, many=True).data)


def test_a_missing_or_impossible_issue_is_none():
    assert selectors_json.issue_detail_json(issue_id=999_999) is None
    assert selectors_json.issue_detail_json(issue_id=2**70) is None


def test_the_api_answers_the_same_with_and_without_the_fast_path(api, issues):
    for path in ("/issues", f"/issues/{issues[0].pk}", "/users", "/issues?label=bug&per_page=1"):
        fast = api.get(path)
        # The browsable API (HTML) goes through the serializers.
        slow = api.get(path, HTTP_ACCEPT="text/html")
        assert fast.status_code == slow.status_code == 200
        assert fast["Content-Type"] == "application/json"
        assert ordered(fast.content) == same_as_serializer(slow.data)
        assert fast.get("Link") == slow.get("Link")


def test_hot_reads_take_one_query(api, issues, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert api.get(f"/issues/{issues[0].pk}").status_code == 200
    with django_assert_num_queries(1):
        assert api.get("/issues?per_page=100").status_code == 200
    with django_assert_num_queries(1):
        assert api.get("/users").status_code == 200
