"""Priority and due date: the rules, the services and their events, the API (fields, filters,
orderings with keyset pages, bad input), the CSV import and export, the report, the pages and
the admin."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tracker import reports, rules, services
from tracker.models import Issue, IssueEvent, WebhookDelivery
from tracker.services import webhooks

from .factories import IssueFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = rules.today()
YESTERDAY = TODAY - timedelta(days=1)
TOMORROW = TODAY + timedelta(days=1)


def link(response, rel: str) -> str | None:
    found = re.search(rf'<([^>]+)>; rel="{rel}"', response.get("Link", ""))
    return found.group(1).replace("http://testserver", "") if found else None


# --- Rules.


@pytest.mark.parametrize("value", ["none", "low", "medium", "high", "urgent"])
def test_the_five_priorities_are_valid(value):
    assert rules.clean_priority(value) == value


@pytest.mark.parametrize("value", ["High", "critical", "", None, " low"])
def test_anything_else_is_no_priority(value):
    with pytest.raises(ValidationError) as caught:
        rules.clean_priority(value)
    assert caught.value.error_dict["priority"][0].code == "invalid_priority"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-31", date(2026, 12, 31)),
        (" 2026-01-02 ", date(2026, 1, 2)),
        ("", None),
        (None, None),
        (date(2030, 5, 6), date(2030, 5, 6)),
    ],
)
def test_due_dates_that_read(value, expected):
    assert rules.clean_due_date(value) == expected


@pytest.mark.parametrize(
    "value",
    ["2026-02-30", "2026-13-01", "20261231", "2026-W01-1", "31.12.2026", "2026-1-2", "tomorrow"],
)
def test_due_dates_that_do_not(value):
    with pytest.raises(ValidationError) as caught:
        rules.clean_due_date(value)
    assert caught.value.error_dict["due_date"][0].code == "invalid_due_date"


def test_today_is_the_servers_day_not_utcs(settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"  # UTC+14
    late_utc = datetime(2026, 3, 1, 20, 0, tzinfo=ZoneInfo("UTC"))
    with mock.patch("django.utils.timezone.now", return_value=late_utc):
        assert rules.today() == date(2026, 3, 2)
        assert rules.is_overdue("open", date(2026, 3, 1))
        assert not rules.is_overdue("open", date(2026, 3, 2))
        assert not rules.is_overdue("closed", date(2020, 1, 1))
        assert not rules.is_overdue("in_progress", None)


# --- Services and events.


def test_create_takes_priority_and_due_date_and_records_them():
    issue = services.issue_create(title="x", priority="urgent", due_date="2026-12-01")
    issue.refresh_from_db()
    assert (issue.priority, issue.due_date) == ("urgent", date(2026, 12, 1))
    details = IssueEvent.objects.get(issue=issue).details
    assert (details["priority"], details["due_date"]) == ("urgent", "2026-12-01")


def test_defaults_are_no_priority_and_no_due_date():
    issue = services.issue_create(title="x")
    issue.refresh_from_db()
    assert (issue.priority, issue.due_date) == ("none", None)


def test_update_records_a_from_to_event_for_each_and_one_version():
    issue = services.issue_create(title="x", due_date="2026-12-01")
    services.issue_update(issue_id=issue.pk, version=1, priority="high", due_date="2027-01-31")
    events = {e.event: e for e in IssueEvent.objects.filter(issue=issue, version=2)}
    assert events["priority_changed"].details == {"from": "none", "to": "high"}
    assert events["due_date_changed"].details == {"from": "2026-12-01", "to": "2027-01-31"}
    services.issue_update(issue_id=issue.pk, version=2, due_date=None)
    removed = IssueEvent.objects.get(issue=issue, version=3)
    assert (removed.event, removed.details) == (
        "due_date_changed",
        {"from": "2027-01-31", "to": None},
    )
    issue.refresh_from_db()
    assert (issue.priority, issue.due_date, issue.version) == ("high", None, 3)


def test_setting_the_same_values_writes_nothing():
    issue = services.issue_create(title="x", priority="low", due_date="2026-12-01")
    same = services.issue_update(
        issue_id=issue.pk, version=1, priority="low", due_date=date(2026, 12, 1)
    )
    assert same.version == 1
    assert IssueEvent.objects.filter(issue=issue).count() == 1


def test_a_bad_value_writes_nothing_even_beside_good_ones():
    issue = services.issue_create(title="x")
    with pytest.raises(ValidationError):
        services.issue_update(issue_id=issue.pk, version=1, title="renamed", due_date="soon")
    issue.refresh_from_db()
    assert (issue.title, issue.version) == ("x", 1)


def test_webhooks_carry_the_new_events(settings):
    settings.TRACKER_WEBHOOK_ALLOW_PRIVATE = True
    webhooks.webhook_create(
        url="http://127.0.0.1:8609/hook",
        secret="s",
        events=["priority_changed", "due_date_changed"],
    )
    issue = services.issue_create(title="x")
    services.issue_update(issue_id=issue.pk, version=1, priority="urgent", due_date="2026-12-24")
    assert sorted(WebhookDelivery.objects.values_list("event", flat=True)) == [
        "due_date_changed",
        "priority_changed",
    ]
    body = json.loads(WebhookDelivery.objects.get(event="priority_changed").body)
    assert (body["issue"]["priority"], body["issue"]["due_date"]) == ("urgent", "2026-12-24")
    assert body["details"] == {"from": "none", "to": "urgent"}


# --- API: fields and bad input.


def test_api_create_read_and_patch(api):
    created = api.post(
        "/issues", {"title": "x", "priority": "high", "due_date": "2026-12-31"}, format="json"
    )
    assert created.status_code == 201
    assert (created.json()["priority"], created.json()["due_date"]) == ("high", "2026-12-31")
    issue_id = created.json()["id"]
    read = api.get(f"/issues/{issue_id}").json()
    assert (read["priority"], read["due_date"]) == ("high", "2026-12-31")
    patched = api.patch(
        f"/issues/{issue_id}", {"priority": "low", "due_date": None, "version": 1}, format="json"
    )
    assert patched.status_code == 200
    assert (patched.json()["priority"], patched.json()["due_date"], patched.json()["version"]) == (
        "low",
        None,
        2,
    )
    timeline = api.get(f"/issues/{issue_id}/timeline").json()["timeline"]
    assert [e["event"] for e in timeline] == [
        "issue_created",
        "priority_changed",
        "due_date_changed",
    ]


def test_api_empty_priority_on_create_means_none(api):
    response = api.post("/issues", {"title": "x", "priority": "", "due_date": ""}, format="json")
    assert response.status_code == 201
    assert (response.json()["priority"], response.json()["due_date"]) == ("none", None)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"priority": "critical"}, "priority", "invalid_priority"),
        ({"priority": "HIGH"}, "priority", "invalid_priority"),
        ({"priority": 3}, "priority", "invalid_priority"),
        ({"priority": None}, "priority", "null"),
        ({"due_date": "2026-02-30"}, "due_date", "invalid_due_date"),
        ({"due_date": "next week"}, "due_date", "invalid_due_date"),
        ({"due_date": 20260101}, "due_date", "invalid_due_date"),
        ({"due_date": "2026-01-01T10:00:00Z"}, "due_date", "invalid_due_date"),
    ],
)
def test_api_bad_input_is_a_400_with_a_code_and_writes_nothing(api, body, field, code):
    issue = services.issue_create(title="x")
    created = api.post("/issues", {"title": "new", **body}, format="json")
    patched = api.patch(f"/issues/{issue.pk}", {"version": 1, **body}, format="json")
    for response in (created, patched):
        assert response.status_code == 400
        assert response.json()["code"] == code
        assert list(response.json()["errors"]) == [field]
    assert Issue.objects.count() == 1
    issue.refresh_from_db()
    assert issue.version == 1


# --- API: filters.


@pytest.fixture
def spread():
    """Issues across priorities, due dates and statuses, by name."""
    rows: dict[str, dict[str, Any]] = {
        "urgent_overdue": {"priority": "urgent", "due_date": YESTERDAY},
        "high_today": {"priority": "high", "due_date": TODAY},
        "low_later": {"priority": "low", "due_date": TOMORROW + timedelta(days=30)},
        "none_undated": {"priority": "none", "due_date": None},
        "medium_closed_late": {"priority": "medium", "due_date": YESTERDAY, "status": "closed"},
        "high_started_late": {
            "priority": "high",
            "due_date": YESTERDAY - timedelta(days=3),
            "status": "in_progress",
        },
        "urgent_undated": {"priority": "urgent", "due_date": None},
    }
    return {
        name: services.issue_create(title=name, **{"status": "open", **fields}).pk
        for name, fields in rows.items()
    }


def titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [issue["title"] for issue in response.json()]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("priority=urgent", {"urgent_overdue", "urgent_undated"}),
        (
            "priority=urgent&priority=high",
            {"urgent_overdue", "urgent_undated", "high_today", "high_started_late"},
        ),
        ("overdue=true", {"urgent_overdue", "high_started_late"}),
        ("overdue=true&priority=high", {"high_started_late"}),
        (
            "overdue=false",
            {"high_today", "low_later", "none_undated", "medium_closed_late", "urgent_undated"},
        ),
        (f"due_before={TODAY}", {"urgent_overdue", "medium_closed_late", "high_started_late"}),
        (f"due_after={TODAY}", {"high_today", "low_later"}),
        (
            f"due_after={YESTERDAY}&due_before={TOMORROW}",
            {"urgent_overdue", "high_today", "medium_closed_late"},
        ),
    ],
)
def test_api_filters(api, spread, query, expected):
    assert set(titles(api.get(f"/issues?{query}"))) == expected


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("priority=critical", "priority", "invalid_choice"),
        ("due_before=2026-02-30", "due_before", "invalid"),
        ("due_after=12/31/2026", "due_after", "invalid"),
        ("overdue=maybe", "overdue", "invalid_choice"),
        ("overdue=TRUE", "overdue", "invalid_choice"),
        ("ordering=priority_rank_desc", "ordering", "invalid"),
    ],
)
def test_api_bad_filters_are_a_400_naming_the_parameter(api, query, field, code):
    response = api.get(f"/issues?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert list(response.json()["errors"]) == [field]


def test_the_export_takes_the_same_filters_and_orderings(api, spread):
    response = api.get("/issues/export?overdue=true&ordering=due_date")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["title"] for row in rows] == ["high_started_late", "urgent_overdue"]
    assert rows[1]["priority"] == "urgent" and rows[1]["due_date"] == YESTERDAY.isoformat()
    assert api.get("/issues/export?due_before=soon").status_code == 400


# --- API: orderings, walked page by page both ways.

ORDERS = {
    # urgency first, ties newest first
    "priority": [
        "urgent_undated",
        "urgent_overdue",
        "high_started_late",
        "high_today",
        "medium_closed_late",
        "low_later",
        "none_undated",
    ],
    # ties by id in the direction of the sort; no due date last either way
    "due_date": [
        "high_started_late",
        "urgent_overdue",
        "medium_closed_late",
        "high_today",
        "low_later",
        "none_undated",
        "urgent_undated",
    ],
    "-due_date": [
        "low_later",
        "high_today",
        "medium_closed_late",
        "urgent_overdue",
        "high_started_late",
        "urgent_undated",
        "none_undated",
    ],
}
ORDERS["-priority"] = list(reversed(ORDERS["priority"]))


@pytest.mark.parametrize("ordering", sorted(ORDERS))
def test_api_orderings_walk_every_page_both_ways(
    api, spread, ordering, django_assert_max_num_queries
):
    expected = ORDERS[ordering]
    everything = titles(api.get(f"/issues?ordering={ordering}"))
    assert everything == expected
    seen: list[str] = []
    url: str | None = f"/issues?ordering={ordering}&per_page=2"
    last = None
    while url:
        with django_assert_max_num_queries(2):
            last = api.get(url)
        seen += titles(last)
        url = link(last, "next")
    assert seen == expected
    back: list[str] = []
    url = link(last, "prev")
    while url:
        response = api.get(url)
        back = titles(response) + back
        url = link(response, "prev")
    assert back + titles(last) == expected


def test_a_cursor_of_one_ordering_is_refused_by_another(api, spread):
    first = api.get("/issues?ordering=due_date&per_page=2")
    next_page = link(first, "next")
    assert next_page is not None
    cursor = parse_qs(urlsplit(next_page).query)["cursor"][0]
    response = api.get("/issues?" + urlencode({"ordering": "-due_date", "cursor": cursor}))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


# --- CSV import and export round trip.


def test_import_reads_priority_and_due_date_and_reports_bad_ones(api):
    text = (
        "title,priority,due_date\n"
        "a,urgent,2026-12-24\n"
        "b,,\n"
        "c,critical,2026-12-24\n"
        "d,low,24/12/2026\n"
    )
    response = api.post(
        "/issues/import", {"file": SimpleUploadedFile("i.csv", text.encode())}, format="multipart"
    )
    body = response.json()
    assert (body["created"], body["failed"]) == (2, 2)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(3, "priority"), (4, "due_date")]
    assert body["errors"][0]["error"].startswith("Invalid priority 'critical'")
    a, b = Issue.objects.order_by("id")
    assert (a.priority, a.due_date, b.priority, b.due_date) == (
        "urgent",
        date(2026, 12, 24),
        "none",
        None,
    )
    created = IssueEvent.objects.get(issue=a).details
    assert (created["priority"], created["due_date"]) == ("urgent", "2026-12-24")


def test_an_export_imports_back_with_priority_and_due_date(api):
    services.issue_create(title="a", priority="high", due_date="2026-07-01")
    services.issue_create(title="b")
    exported = b"".join(api.get("/issues/export").streaming_content)
    Issue.objects.all().delete()
    response = api.post(
        "/issues/import",
        {"file": SimpleUploadedFile("e.csv", exported)},
        format="multipart",
    )
    assert response.json()["created"] == 2
    assert list(Issue.objects.order_by("title").values_list("priority", "due_date")) == [
        ("high", date(2026, 7, 1)),
        ("none", None),
    ]


# --- Report.


def test_top_assignees_counts_overdue_issues(api):
    alice, bob = UserFactory.create(name="Alice"), UserFactory.create(name="Bob")
    IssueFactory.create(assignee=alice, due_date=YESTERDAY)
    IssueFactory.create(assignee=alice, due_date=YESTERDAY, status="in_progress")
    IssueFactory.create(assignee=alice, due_date=TODAY)
    IssueFactory.create(
        assignee=bob, due_date=YESTERDAY, status="closed", resolved_at=timezone.now()
    )
    IssueFactory.create(assignee=None, due_date=YESTERDAY)
    rows = {row["name"]: row for row in api.get("/reports/top-assignees").json()}
    assert (rows["Alice"]["total"], rows["Alice"]["overdue"]) == (3, 2)
    assert (rows["Bob"]["total"], rows["Bob"]["overdue"]) == (1, 0)
    only_open = reports.top_assignees(status="open")
    assert [(r["name"], r["overdue"]) for r in only_open] == [("Alice", 1)]


# --- Pages and admin.


def test_new_issue_page_takes_priority_and_due_date(client):
    page = client.get("/ui/issues/new/").content.decode()
    assert 'name="priority"' in page and 'type="date"' in page
    response = client.post(
        "/ui/issues/new/",
        {"title": "x", "status": "open", "priority": "high", "due_date": "2026-05-04"},
    )
    assert response.status_code == 302
    issue = Issue.objects.get()
    assert (issue.priority, issue.due_date) == ("high", date(2026, 5, 4))


def test_new_issue_page_shows_the_services_message_for_a_bad_date(client):
    response = client.post("/ui/issues/new/", {"title": "x", "due_date": "2026-02-30"})
    assert response.status_code == 400
    assert "Invalid due_date &#x27;2026-02-30&#x27;" in response.content.decode()
    assert not Issue.objects.exists()


def test_edit_page_changes_only_what_was_changed(client):
    issue = services.issue_create(title="x", due_date="2026-05-04")
    form = {
        "version": 1,
        "title": "x",
        "initial-title": "x",
        "description": "",
        "initial-description": "",
        "status": "open",
        "initial-status": "open",
        "assignee_id": "",
        "initial-assignee_id": "",
        "priority": "urgent",
        "initial-priority": "none",
        "due_date": "2026-05-04",
        "initial-due_date": "2026-05-04",
    }
    response = client.post(f"/ui/issues/{issue.pk}/edit/", form)
    assert response.status_code == 302
    assert list(
        IssueEvent.objects.filter(issue=issue, version=2).values_list("event", flat=True)
    ) == ["priority_changed"]


def test_issue_page_shows_priority_due_date_overdue_and_history(client):
    issue = services.issue_create(title="x", priority="urgent", due_date=YESTERDAY)
    services.issue_update(issue_id=issue.pk, version=1, priority="high", due_date=TODAY)
    services.issue_update(issue_id=issue.pk, version=2, due_date=YESTERDAY)
    page = client.get(f"/ui/issues/{issue.pk}/").content.decode()
    assert "<dt>Priority</dt><dd>High</dd>" in page
    assert "(overdue)" in page
    assert "changed the priority from <strong>Urgent</strong> to <strong>High</strong>" in page
    assert f"changed the due date from <strong>{YESTERDAY}</strong>" in page


def test_list_page_filters_and_sorts_by_the_new_fields(
    client, spread, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        response = client.get("/ui/issues/?overdue=true&ordering=priority")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.index("urgent_overdue") < page.index("high_started_late")
    assert "none_undated" not in page
    assert client.get("/ui/issues/?priority=urgent&priority=low").status_code == 200
    bad = client.get("/ui/issues/?due_before=2026-99-01")
    assert bad.status_code == 400
    assert "due_before" in bad.content.decode()


def test_admin_edits_priority_and_due_date_through_the_service(admin_client):
    issue = services.issue_create(title="x")
    response = admin_client.post(
        f"/admin/tracker/issue/{issue.pk}/change/",
        {
            "title": "x",
            "description": "",
            "status": "open",
            "assignee": "",
            "priority": "medium",
            "due_date": "2026-08-09",
            "loaded_version": 1,
            "comments-TOTAL_FORMS": 0,
            "comments-INITIAL_FORMS": 0,
            "events-TOTAL_FORMS": 0,
            "events-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302
    assert set(
        IssueEvent.objects.filter(issue=issue, source="admin").values_list("event", flat=True)
    ) == {"priority_changed", "due_date_changed"}
    assert admin_client.get("/admin/tracker/issue/?priority__exact=medium").status_code == 200


def test_edit_conflict_shows_priorities_by_their_labels(client):
    issue = services.issue_create(title="x")
    services.issue_update(issue_id=issue.pk, version=1, priority="low")
    form = {
        "version": 1,
        **dict.fromkeys(("title", "description", "assignee_id", "due_date"), ""),
        **{f"initial-{name}": "" for name in ("title", "description", "assignee_id", "due_date")},
        "title": "x",
        "initial-title": "x",
        "status": "open",
        "initial-status": "open",
        "priority": "urgent",
        "initial-priority": "none",
    }
    response = client.post(f"/ui/issues/{issue.pk}/edit/", form)
    assert response.status_code == 409
    page = response.content.decode()
    assert "Urgent" in page and "Low" in page
    issue.refresh_from_db()
    assert (issue.priority, issue.version) == ("low", 2)
