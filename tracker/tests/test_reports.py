from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import environ
import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from tracker import reports, services
from tracker.models import Issue

from .factories import IssueFactory, UserFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday


def codes(exc_info) -> dict[str, list[str]]:
    return {field: [e.code for e in errors] for field, errors in exc_info.value.error_dict.items()}


def closed(created: datetime, took: timedelta, **fields) -> Issue:
    return IssueFactory.create(
        status="closed", created_at=created, resolved_at=created + took, **fields
    )


def percentile_cont(values: Sequence[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


# --- top_assignees


def test_top_assignees_orders_by_total_then_id_and_splits_statuses():
    alice, bob, carol = (
        UserFactory.create(name="Alice"),
        UserFactory.create(name="Bob"),
        UserFactory.create(name="C"),
    )
    IssueFactory.create_batch(2, assignee=carol)
    IssueFactory.create(assignee=bob, status="in_progress")
    closed(T0, timedelta(hours=1), assignee=bob)
    IssueFactory.create(assignee=alice)
    IssueFactory.create_batch(3, assignee=None)  # unassigned: never counted

    rows = reports.top_assignees()

    assert rows == [
        {
            "assignee_id": bob.pk,
            "name": "Bob",
            "total": 2,
            "open": 0,
            "in_progress": 1,
            "closed": 1,
            "overdue": 0,
        },
        {
            "assignee_id": carol.pk,
            "name": "C",
            "total": 2,
            "open": 2,
            "in_progress": 0,
            "closed": 0,
            "overdue": 0,
        },
        {
            "assignee_id": alice.pk,
            "name": "Alice",
            "total": 1,
            "open": 1,
            "in_progress": 0,
            "closed": 0,
            "overdue": 0,
        },
    ]


def test_top_assignees_limit_and_status_filter():
    alice, bob = UserFactory.create(name="Alice"), UserFactory.create(name="Bob")
    IssueFactory.create_batch(3, assignee=alice)
    closed(T0, timedelta(hours=1), assignee=bob)
    closed(T0, timedelta(hours=2), assignee=bob)

    assert [r["assignee_id"] for r in reports.top_assignees(limit=1)] == [alice.pk]
    only_closed = reports.top_assignees(status="closed")
    assert [(r["assignee_id"], r["total"], r["closed"]) for r in only_closed] == [(bob.pk, 2, 2)]
    assert reports.top_assignees(status="in_progress") == []


def test_top_assignees_leaves_out_users_without_issues():
    UserFactory.create()
    assert reports.top_assignees() == []


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"limit": 0}, "limit", "invalid_limit"),
        ({"status": "done"}, "status", "invalid_status"),
    ],
)
def test_top_assignees_refuses_bad_arguments(kwargs, field, code):
    with pytest.raises(ValidationError) as exc:
        reports.top_assignees(**kwargs)
    assert codes(exc) == {field: [code]}


# --- status_counts and people_summary


def test_status_counts_include_zeros():
    assert reports.status_counts() == {"open": 0, "in_progress": 0, "closed": 0}
    IssueFactory.create_batch(2)
    closed(T0, timedelta(minutes=5))
    assert reports.status_counts() == {"open": 2, "in_progress": 0, "closed": 1}


def test_people_summary_lists_every_user_by_name_with_counts():
    zed, amy, idle = (
        UserFactory.create(name="zed"),
        UserFactory.create(name="Amy"),
        UserFactory.create(name="Idle"),
    )
    IssueFactory.create(assignee=zed)
    IssueFactory.create(assignee=zed, status="in_progress")
    closed(T0, timedelta(hours=1), assignee=amy)
    IssueFactory.create(assignee=None)

    assert reports.people_summary() == [
        {"id": amy.pk, "name": "Amy", "open": 0, "in_progress": 0, "closed": 1, "total": 1},
        {"id": idle.pk, "name": "Idle", "open": 0, "in_progress": 0, "closed": 0, "total": 0},
        {"id": zed.pk, "name": "zed", "open": 1, "in_progress": 1, "closed": 0, "total": 2},
    ]


# --- resolution_latency


def test_latency_is_none_when_nothing_resolved():
    IssueFactory.create()
    assert reports.resolution_latency() == {
        "average_resolution_time": None,
        "resolved_count": 0,
        "average_seconds": None,
        "median_seconds": None,
        "p90_seconds": None,
    }


def test_latency_formats_like_timedelta_under_a_day():
    closed(T0, timedelta(minutes=2, seconds=40))
    closed(T0, timedelta(minutes=2, seconds=50, microseconds=246912))
    result = reports.resolution_latency()
    assert result["average_resolution_time"] == "0:02:45.123456"
    assert result["resolved_count"] == 2
    assert result["average_seconds"] == pytest.approx(165.123456)


def test_latency_formats_days_beyond_one_day():
    closed(T0, timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500000))
    result = reports.resolution_latency()
    assert result["average_resolution_time"] == "1 day, 2:03:04.500000"
    assert result["average_seconds"] == pytest.approx(93784.5)


def test_latency_percentiles_match_percentile_cont():
    took = [30, 60, 61, 300, 900, 3600, 7200, 86400, 90000, 200000, 45]
    for seconds in took:
        closed(T0, timedelta(seconds=seconds))
    IssueFactory.create()  # open issues do not count

    result = reports.resolution_latency()

    assert result["resolved_count"] == len(took)
    assert result["average_seconds"] == pytest.approx(sum(took) / len(took))
    assert result["median_seconds"] == pytest.approx(percentile_cont(took, 0.5))
    assert result["p90_seconds"] == pytest.approx(percentile_cont(took, 0.9))
    assert result["average_resolution_time"] == str(timedelta(seconds=sum(took) / len(took)))


def test_latency_since_is_inclusive_and_until_exclusive_on_resolved_at():
    closed(T0, timedelta(hours=1))  # resolved 10:00
    closed(T0, timedelta(hours=3))  # resolved 12:00
    closed(T0, timedelta(hours=5))  # resolved 14:00
    at = T0.replace(hour=12)

    assert reports.resolution_latency(since=at)["resolved_count"] == 2
    assert reports.resolution_latency(until=at)["resolved_count"] == 1
    window = reports.resolution_latency(since=at, until=at + timedelta(hours=1))
    assert (window["resolved_count"], window["average_seconds"]) == (1, 3 * 3600)


def test_latency_refuses_a_reversed_range():
    with pytest.raises(ValidationError) as exc:
        reports.resolution_latency(since=T0, until=T0)
    assert codes(exc) == {"since": ["invalid_range"]}


# --- created_vs_resolved


def test_series_by_day_includes_empty_days():
    IssueFactory.create(created_at=T0)
    IssueFactory.create(created_at=T0 + timedelta(hours=3))
    closed(T0 + timedelta(days=2), timedelta(days=1))  # created the 7th, resolved the 8th
    IssueFactory.create(created_at=T0 + timedelta(days=30))  # outside the window

    series = reports.created_vs_resolved(since=date(2026, 1, 4), until=date(2026, 1, 9))

    assert series == [
        {"period": "2026-01-04", "created": 0, "resolved": 0},
        {"period": "2026-01-05", "created": 2, "resolved": 0},
        {"period": "2026-01-06", "created": 0, "resolved": 0},
        {"period": "2026-01-07", "created": 1, "resolved": 0},
        {"period": "2026-01-08", "created": 0, "resolved": 1},
        {"period": "2026-01-09", "created": 0, "resolved": 0},
    ]


def test_series_by_week_counts_whole_iso_weeks():
    IssueFactory.create(created_at=T0)  # Monday 5 January
    IssueFactory.create(created_at=T0 + timedelta(days=6, hours=14))  # Sunday 11th, 23:00
    closed(T0 - timedelta(days=3), timedelta(days=10))  # created Fri 2nd, resolved Mon 12th

    series = reports.created_vs_resolved(
        interval="week", since=date(2026, 1, 7), until=date(2026, 1, 20)
    )

    assert series == [
        {"period": "2026-01-05", "created": 2, "resolved": 0},
        {"period": "2026-01-12", "created": 0, "resolved": 1},
        {"period": "2026-01-19", "created": 0, "resolved": 0},
    ]


def test_series_days_follow_the_active_time_zone():
    IssueFactory.create(created_at=datetime(2026, 1, 5, 20, 0, tzinfo=UTC))
    with timezone.override("Pacific/Auckland"):  # UTC+13 in January: already the 6th
        series = reports.created_vs_resolved(since=date(2026, 1, 5), until=date(2026, 1, 6))
    assert [row["created"] for row in series] == [0, 1]


def test_series_default_windows_end_today():
    today = timezone.localdate()
    days = reports.created_vs_resolved()
    assert len(days) == reports.DEFAULT_PERIODS["day"]
    assert days[-1]["period"] == today.isoformat()
    weeks = reports.created_vs_resolved(interval="week")
    assert len(weeks) == reports.DEFAULT_PERIODS["week"]
    assert weeks[-1]["period"] == (today - timedelta(days=today.weekday())).isoformat()


@pytest.mark.parametrize(
    ("kwargs", "field", "code"),
    [
        ({"interval": "month"}, "interval", "invalid_interval"),
        ({"since": date(2026, 2, 1), "until": date(2026, 1, 1)}, "since", "invalid_range"),
        ({"since": date(2020, 1, 1), "until": date(2026, 1, 1)}, "since", "too_many_periods"),
    ],
)
def test_series_refuses_bad_arguments(kwargs, field, code):
    with pytest.raises(ValidationError) as exc:
        reports.created_vs_resolved(**kwargs)
    assert codes(exc) == {field: [code]}


def test_series_allows_the_cap_exactly():
    since = date(2026, 1, 1)
    until = since + timedelta(days=reports.MAX_PERIODS - 1)
    assert len(reports.created_vs_resolved(since=since, until=until)) == reports.MAX_PERIODS


# --- One query each, whatever the data.


@pytest.mark.parametrize(
    "call",
    [
        lambda: reports.top_assignees(),
        lambda: reports.top_assignees(limit=2, status="open"),
        lambda: reports.resolution_latency(since=T0, until=T0 + timedelta(days=90)),
        lambda: reports.created_vs_resolved(interval="week"),
        lambda: reports.status_counts(),
        lambda: reports.people_summary(),
    ],
    ids=["top", "top-filtered", "latency", "series", "status", "people"],
)
def test_each_report_is_one_query(call, django_assert_num_queries):
    for user in UserFactory.create_batch(3):
        IssueFactory.create_batch(2, assignee=user)
        closed(T0, timedelta(hours=2), assignee=user)
    # The report's one query, after the data generation its cache entry is keyed by.
    with django_assert_num_queries(2):
        call()
    with django_assert_num_queries(1):
        call()


# --- The cache.


def test_a_report_is_served_from_the_cache_until_anything_changes(django_assert_num_queries):
    alice = UserFactory.create(name="Alice")
    services.issue_create(title="One", assignee_id=alice.pk)
    first = reports.top_assignees()
    with django_assert_num_queries(1):  # the generation only
        assert reports.top_assignees() == first
    # Any change shows at once: a new issue, a status change, a comment.
    services.issue_create(title="Two", assignee_id=alice.pk)
    assert reports.top_assignees()[0]["total"] == 2
    issue = services.issue_create(title="Three", assignee_id=alice.pk)
    services.issue_update(issue_id=issue.pk, version=1, status="closed")
    assert reports.top_assignees()[0]["closed"] == 1
    assert reports.resolution_latency()["resolved_count"] == 1


def test_cached_reports_are_keyed_by_their_arguments_and_time_zone(django_assert_num_queries):
    alice = UserFactory.create(name="Alice")
    services.issue_create(title="One", assignee_id=alice.pk)
    assert reports.top_assignees(status="closed") == []
    assert len(reports.top_assignees(status="open")) == 1
    reports.created_vs_resolved(interval="day")
    with django_assert_num_queries(2):  # the generation, then the report: not the day's
        reports.created_vs_resolved(interval="week")
    with timezone.override("Pacific/Kiritimati"), django_assert_num_queries(2):
        reports.created_vs_resolved(interval="day")


def test_the_cache_can_be_redis_for_several_servers(settings, django_assert_num_queries):
    """CACHE_URL=redis://... as several app nodes share it (Redis runs beside PostgreSQL)."""
    settings.CACHES = {"default": environ.Env.cache_url_config("redis://127.0.0.1:6379/15")}
    cache.clear()
    alice = UserFactory.create(name="Alice")
    services.issue_create(title="One", assignee_id=alice.pk)
    first = reports.top_assignees()
    with django_assert_num_queries(1):
        assert reports.top_assignees() == first
    services.issue_create(title="Two", assignee_id=alice.pk)
    assert reports.top_assignees()[0]["total"] == 2
    cache.clear()
