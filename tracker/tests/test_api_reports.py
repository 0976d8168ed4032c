from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from drf_spectacular.generators import SchemaGenerator

from .factories import IssueFactory, UserFactory
from .test_openapi import assert_matches

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def closed(created: datetime, took: timedelta, **fields):
    return IssueFactory.create(
        status="closed", created_at=created, resolved_at=created + took, **fields
    )


@pytest.mark.parametrize("slash", ["", "/"])
def test_top_assignees_keeps_the_seed_shape(api, slash):
    alice, bob = UserFactory.create(name="Alice"), UserFactory.create(name="Bob")
    IssueFactory.create_batch(3, assignee=alice)
    IssueFactory.create(assignee=bob)
    IssueFactory.create(assignee=None)

    response = api.get(f"/reports/top-assignees{slash}")

    assert response.status_code == 200
    assert [(row["assignee_id"], row["total"]) for row in response.json()] == [
        (alice.pk, 3),
        (bob.pk, 1),
    ]
    assert set(response.json()[0]) == {
        "assignee_id",
        "name",
        "total",
        "open",
        "in_progress",
        "closed",
        "overdue",
    }


def test_top_assignees_passes_limit_and_status(api):
    alice, bob = UserFactory.create(name="Alice"), UserFactory.create(name="Bob")
    IssueFactory.create_batch(2, assignee=alice)
    closed(T0, timedelta(hours=1), assignee=bob)

    assert [r["name"] for r in api.get("/reports/top-assignees?limit=1").json()] == ["Alice"]
    rows = api.get("/reports/top-assignees", {"status": "closed"}).json()
    assert [(r["name"], r["total"]) for r in rows] == [("Bob", 1)]


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("limit=abc", "invalid", "limit"),
        ("limit=0", "invalid_limit", "limit"),
        ("status=done", "invalid_status", "status"),
    ],
)
def test_top_assignees_bad_params_are_400(api, query, code, field):
    response = api.get(f"/reports/top-assignees?{query}")
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], list(body["errors"])) == (code, [field])
    assert body["detail"]


def test_latency_keeps_the_seed_shape_when_nothing_is_resolved(api):
    response = api.get("/reports/latency")
    assert response.status_code == 200
    assert response.json()["average_resolution_time"] is None
    assert response.json()["resolved_count"] == 0


def test_latency_reports_text_and_seconds(api):
    closed(T0, timedelta(minutes=2, seconds=45, microseconds=123456))
    body = api.get("/reports/latency/").json()
    assert body == {
        "average_resolution_time": "0:02:45.123456",
        "resolved_count": 1,
        "average_seconds": 165.123456,
        "median_seconds": 165.123456,
        "p90_seconds": 165.123456,
    }


def test_latency_until_as_a_date_includes_that_day(api):
    closed(T0, timedelta(hours=10))  # resolved 5 January, 19:00
    closed(T0, timedelta(days=1, hours=1))  # resolved 6 January

    def count(query: str) -> int:
        response = api.get(f"/reports/latency?{query}")
        assert response.status_code == 200, response.json()
        return response.json()["resolved_count"]

    assert count("until=2026-01-05") == 1
    assert count("since=2026-01-06") == 1
    assert count("since=2026-01-05T19:00:00%2B00:00") == 2
    assert count("since=2026-01-05T19:00:01Z") == 1
    assert count("since=2026-01-01&until=2026-01-06") == 2


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("since=yesterday", "invalid", "since"),
        ("until=2026-02-30", "invalid", "until"),
        ("since=2026-01-06&until=2026-01-05", "invalid_range", "since"),
    ],
)
def test_latency_bad_params_are_400(api, query, code, field):
    response = api.get(f"/reports/latency?{query}")
    assert response.status_code == 400
    assert (response.json()["code"], list(response.json()["errors"])) == (code, [field])


def test_created_vs_resolved_series(api):
    IssueFactory.create(created_at=T0)
    closed(T0, timedelta(days=8))

    response = api.get(
        "/reports/created-vs-resolved",
        {"interval": "week", "since": "2026-01-05", "until": "2026-01-19"},
    )

    assert response.status_code == 200
    assert response.json() == [
        {"period": "2026-01-05", "created": 2, "resolved": 0},
        {"period": "2026-01-12", "created": 0, "resolved": 1},
        {"period": "2026-01-19", "created": 0, "resolved": 0},
    ]


def test_created_vs_resolved_defaults_to_thirty_days(api):
    response = api.get("/reports/created-vs-resolved/")
    assert response.status_code == 200
    assert len(response.json()) == 30


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ("interval=month", "invalid_interval", "interval"),
        ("since=2026-13-01", "invalid", "since"),
        ("since=2000-01-01&until=2026-01-01", "too_many_periods", "since"),
        ("since=2026-02-01&until=2026-01-01", "invalid_range", "since"),
    ],
)
def test_created_vs_resolved_bad_params_are_400(api, query, code, field):
    response = api.get(f"/reports/created-vs-resolved?{query}")
    assert response.status_code == 400
    assert (response.json()["code"], list(response.json()["errors"])) == (code, [field])


def test_reports_are_in_the_openapi_schema(api):
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/reports/top-assignees", "/reports/latency", "/reports/created-vs-resolved"):
        operation = paths[path]["get"]
        assert {"200", "400"} <= set(operation["responses"])
    names = {p["name"] for p in paths["/reports/latency"]["get"]["parameters"]}
    assert names == {"since", "until"}


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_report_responses_match_the_schema(api, schema):
    closed(T0, timedelta(hours=2), assignee=UserFactory.create())
    for path, query in [
        ("/reports/top-assignees", ""),
        ("/reports/top-assignees", "?limit=0"),
        ("/reports/latency", ""),
        ("/reports/latency", "?since=nope"),
        ("/reports/created-vs-resolved", "?interval=week"),
        ("/reports/created-vs-resolved", "?interval=month"),
    ]:
        assert_matches(schema, path, "get", api.get(path + query))
    with_nothing_resolved = api.get("/reports/latency?until=2000-01-01")
    assert with_nothing_resolved.json()["average_resolution_time"] is None
    assert_matches(schema, "/reports/latency", "get", with_nothing_resolved)


def test_empty_parameters_mean_not_given(api):
    IssueFactory.create(assignee=UserFactory.create())
    assert len(api.get("/reports/top-assignees?limit=&status=").json()) == 1
    assert api.get("/reports/latency?since=&until=").status_code == 200
    assert len(api.get("/reports/created-vs-resolved?since=&until=").json()) == 30


@pytest.mark.parametrize("param", ["since", "until"])
def test_latency_takes_an_offset_postgresql_cannot_read(api, param):
    response = api.get(f"/reports/latency?{param}=2026-01-01T00:00:00%2B20:01")
    assert response.status_code == 200
