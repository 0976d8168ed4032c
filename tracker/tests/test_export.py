"""`GET /issues/export`: the list's issues as CSV, and the file imports back."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tracker import services
from tracker.models import Issue, IssueEvent, IssueLabel, Label
from tracker.rules import CSV_EXPORT_COLUMNS

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def exported(api, **params) -> list[dict[str, str]]:
    response = api.get("/issues/export", params)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="issues-')
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == ",".join(CSV_EXPORT_COLUMNS)
    return rows


def snapshot() -> list[tuple]:
    return [
        (
            issue.title,
            issue.description,
            issue.status,
            issue.assignee_id,
            sorted(label.name for label in issue.labels.all()),
        )
        for issue in Issue.objects.order_by("id")
    ]


def test_an_export_imports_back_into_an_empty_tracker(api):
    ann, bob = UserFactory.create(name="Ann"), UserFactory.create(name="Bob")
    services.issue_create(
        title='=HYPERLINK("http://evil")', description='line one\nline, "two"', actor=ann
    )
    services.issue_create(
        title="Ünïcödé ☃ title", description="-1 +2 @3", assignee_id=bob.pk, labels=["bug", "UI"]
    )
    closed = services.issue_create(title="Closed one", status="closed", assignee_id=ann.pk)
    services.issue_labels_replace(issue_id=closed.pk, labels=["wontfix"])
    before = snapshot()

    rows = exported(api)
    assert rows[0]["title"] == '\'=HYPERLINK("http://evil")'
    assert rows[1]["description"] == "'-1 +2 @3"
    assert rows[1]["labels"] == "UI;bug" or rows[1]["labels"] == "bug;UI"
    assert rows[2]["resolved_at"].endswith("Z") and rows[0]["resolved_at"] == ""
    response = api.get("/issues/export")
    data = b"".join(response.streaming_content)

    # An empty tracker with the same people.
    IssueEvent.objects.all().delete()
    IssueLabel.objects.all().delete()
    Issue.objects.all().delete()
    Label.objects.all().delete()
    upload = SimpleUploadedFile("issues.csv", data, content_type="text/csv")
    answer = api.post("/issues/import", {"file": upload}, format="multipart")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["created"], body["failed"]) == (3, 0)
    assert set(body["ignored_columns"]) == {"id", "created_at", "updated_at", "resolved_at"}
    assert snapshot() == before


def test_the_export_follows_the_list_filters_search_and_order(api):
    ann = UserFactory.create(name="Ann")
    services.issue_create(title="Login fails", description="KeyError at login", assignee_id=ann.pk)
    services.issue_create(title="Payment", status="closed")
    services.issue_create(title="Logout slow", description="KeyError again")
    assert [r["title"] for r in exported(api, status="open")] == ["Login fails", "Logout slow"]
    assert [r["title"] for r in exported(api, assignee_id=ann.pk)] == ["Login fails"]
    assert [r["title"] for r in exported(api, q="keyerror", ordering="-id")] == [
        "Logout slow",
        "Login fails",
    ]
    assert [r["title"] for r in exported(api, ordering="title")] == [
        "Login fails",
        "Logout slow",
        "Payment",
    ]
    assert len(exported(api, q="keyerror", ordering="relevance")) == 2


@pytest.mark.parametrize(
    "query", ["status=bogus", "assignee_id=x", "ordering=nope", "ordering=relevance"]
)
def test_bad_filters_are_a_400(api, query):
    response = api.get(f"/issues/export?{query}")
    assert response.status_code == 400
    assert response.json()["code"]


def test_the_list_page_exports_what_it_shows(client):
    services.issue_create(title="Shown")
    html = client.get("/ui/issues/?status=open&q=shown&cursor=&ordering=title").content.decode()
    assert 'href="/issues/export?status=open&amp;q=shown&amp;ordering=title" download' in html
