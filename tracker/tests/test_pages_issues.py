"""The issue pages through Django's test client: wiring, messages, errors, the conflict
flow, bulk changes, logins and query counts. The rules themselves are tested on the
services (test_services.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from tracker import services
from tracker.models import Comment, Issue, IssueEvent, Label, User

from .factories import UserFactory

pytestmark = pytest.mark.django_db

LIST = reverse("ui:issue-list")
NEW = reverse("ui:issue-new")
BULK = reverse("ui:issue-bulk-status")


def detail(issue_id: int) -> str:
    return reverse("ui:issue-detail", kwargs={"issue_id": issue_id})


def edit(issue_id: int) -> str:
    return reverse("ui:issue-edit", kwargs={"issue_id": issue_id})


def labels_url(issue_id: int) -> str:
    return reverse("ui:issue-labels", kwargs={"issue_id": issue_id})


def comments_url(issue_id: int) -> str:
    return reverse("ui:issue-comment-add", kwargs={"issue_id": issue_id})


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def search(pattern: str, string: str) -> re.Match[str]:
    match = re.search(pattern, string)
    assert match, f"{pattern!r} not found"
    return match


def text(response) -> str:
    """The page as text a person reads: tags dropped, entities decoded, spaces collapsed."""
    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", unescape(body))


def hidden_inputs(response, form_action: str) -> list[tuple[str, str]]:
    """The hidden inputs of the form posting to `form_action`, as a browser would send them."""
    html = response.content.decode()
    start = html.index(f'action="{form_action}"')
    form = html[start : html.index("</form>", start)]
    return [
        (unescape(name), unescape(value))
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)
        if name != "csrfmiddlewaretoken"
    ]


def edit_post(issue: Issue, **changes) -> dict[str, Any]:
    """What the edit form sends: every field with the value read (`initial-*`), changed ones
    with the new value."""
    data: dict[str, Any] = {"version": issue.version}
    for field in ("title", "description", "status"):
        data[field] = data[f"initial-{field}"] = getattr(issue, field)
    data["assignee_id"] = data["initial-assignee_id"] = issue.assignee_id or ""
    data.update(changes)
    return data


# --- Issue list


def test_list_shows_issues_counts_and_coloured_label_chips(client):
    alice = UserFactory.create(name="Alice")
    services.label_save(name="bug", color="#ffee00")
    services.label_save(name="urgent", color="#1f2328")
    services.issue_create(title="Login broken", labels=["bug", "urgent"], assignee_id=alice.pk)
    services.issue_create(title="Docs typo", status="closed")
    response = client.get(LIST)
    assert response.status_code == 200
    page = text(response)
    assert "Login broken" in page and "Docs typo" in page
    assert "All 2" in page and "Open 1" in page and "In progress 0" in page and "Closed 1" in page
    html = response.content.decode()
    # Dark text on a light label, light text on a dark one; the name is always written.
    assert 'style="background:#ffee00;color:#000000">bug</span>' in html
    assert 'style="background:#1f2328;color:#ffffff">urgent</span>' in html
    assert '<span class="badge status-closed">Closed</span>' in html


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("status=closed", ["Beta"], ["Alpha", "Gamma"]),
        ("assignee_id=none", ["Beta", "Gamma"], ["Alpha"]),
        ("label=BUG", ["Alpha"], ["Beta", "Gamma"]),
        ("q=gam", ["Gamma"], ["Alpha", "Beta"]),
    ],
)
def test_list_filters(client, query, shown, hidden):
    alice = UserFactory.create(name="Alice")
    services.issue_create(title="Alpha", assignee_id=alice.pk, labels=["bug"])
    services.issue_create(title="Beta", status="closed")
    services.issue_create(title="Gamma")
    page = text(client.get(f"{LIST}?{query}"))
    for title in shown:
        assert title in page
    for title in hidden:
        assert title not in page


def test_list_status_control_shows_every_status_asked_for(client):
    services.issue_create(title="Alpha", status="open")
    services.issue_create(title="Beta", status="in_progress")
    services.issue_create(title="Gamma", status="closed")
    response = client.get(f"{LIST}?status=open&status=in_progress")
    assert response.status_code == 200
    html = response.content.decode()
    checked = re.findall(r'name="status" value="(\w+)" checked', html)
    assert checked == ["open", "in_progress"]
    assert 'name="status" value="closed">' in html
    page = text(response)
    assert "Alpha" in page and "Beta" in page and "Gamma" not in page
    # No tab claims to be the whole selection, and "All" is not it either.
    assert 'aria-current="page">All' not in html
    assert not re.search(r'status=\w+"[^>]*aria-current="page"', html)


def test_list_status_control_with_no_status_means_any(client):
    html = client.get(LIST).content.decode()
    assert re.findall(r'name="status" value="(\w+)"( checked)?', html) == [
        ("open", ""),
        ("in_progress", ""),
        ("closed", ""),
    ]
    single = client.get(f"{LIST}?status=closed").content.decode()
    assert re.findall(r'name="status" value="(\w+)" checked', single) == ["closed"]


def test_list_counts_follow_the_other_filters_but_not_the_status(client):
    services.issue_create(title="Alpha one", status="closed")
    services.issue_create(title="Alpha two")
    services.issue_create(title="Beta")
    page = text(client.get(f"{LIST}?q=alpha&status=open"))
    assert "All 2" in page and "Open 1" in page and "Closed 1" in page
    assert "Alpha two" in page and "Alpha one" not in page


def test_list_sorts_and_walks_pages_both_ways(client):
    for title in ["b", "d", "a", "c", "e"]:
        services.issue_create(title=f"Item {title}")
    first = client.get(f"{LIST}?ordering=title&per_page=2")
    assert re.findall(r"Item [a-e]", text(first)) == ["Item a", "Item b"]
    next_href = unescape(search(r'rel="next" href="([^"]+)"', first.content.decode())[1])
    second = client.get(LIST + next_href)
    assert re.findall(r"Item [a-e]", text(second)) == ["Item c", "Item d"]
    prev_href = unescape(search(r'rel="prev" href="([^"]+)"', second.content.decode())[1])
    assert re.findall(r"Item [a-e]", text(client.get(LIST + prev_href))) == ["Item a", "Item b"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("assignee_id=abc", "Enter a user id or none."),
        ("ordering=colour", "ordering must be one of"),
        ("cursor=%%%", "Invalid cursor"),
    ],
)
def test_list_reports_bad_parameters_on_the_page(client, query, message):
    response = client.get(f"{LIST}?{query}")
    assert response.status_code == 400
    assert message in text(response)


def test_an_offset_postgresql_cannot_read_filters_as_the_same_instant_in_utc(client, api):
    issue = services.issue_create(title="Kept")
    Issue.objects.filter(pk=issue.pk).update(created_at=datetime(2026, 1, 1, 12, tzinfo=UTC))
    # +20:01: 2026-01-01T12:00+20:01 is 2025-12-31T15:59 UTC, before the issue was created.
    query = "created_after=2026-01-01T12:00:00%2B20:01"
    assert "Kept" in text(client.get(f"{LIST}?{query}"))
    assert [found["id"] for found in api.get(f"/issues?{query}").json()] == [issue.pk]
    later = "created_after=2026-01-01T12:00:00-20:01"  # 2026-01-02T08:01 UTC, after it
    assert api.get(f"/issues?{later}").json() == []


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("created_before=2026-01-01T00:00:00-16:00", 200),
        ("created_after=2026-01-01T00:00:00%2B23:59", 200),
        ("created_after=2026-01-01T00:00:00%2B05:30:30", 200),  # seconds in the offset
        ("created_after=2026-01-01T00:00:00%2B15:59:59.5", 200),
        ("created_after=2026-01-01T00:00:00%2B15:59", 200),
        ("created_before=2026-01-01T00:00:00-15:59", 200),
        ("created_after=0001-01-01T00:00:00%2B14:00", 200),
        ("created_after=9999-12-31T23:59:59-12:00", 200),
        ("created_after=2026-01-01T00:00:00Z", 200),
    ],
)
def test_list_takes_every_offset_python_reads(client, api, query, status):
    assert client.get(f"{LIST}?{query}").status_code == status
    assert api.get(f"/issues?{query}").status_code == status


def not_allowed(label: str, code_point: str) -> str:
    return f"{label} contains a character that is not allowed (\\u{code_point})"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("labels", ["bug", "a\x00b"], not_allowed("Label 'a\\u0000b'", "0000")),
        ("labels", ["\x1b[31mred"], not_allowed("Label '\\u001b[31mred'", "001b")),
        ("new_labels", "ok, b\x00d", not_allowed("Label 'b\\u0000d'", "0000")),
        ("title", "Nul\x00title", not_allowed("Title", "0000")),
        ("description", "bell\x07", not_allowed("Description", "0007")),
        ("description", "c1 \x85 next line", not_allowed("Description", "0085")),
        ("status", "open\x00", "Invalid status 'open\\u0000'"),
    ],
)
def test_new_issue_refuses_control_characters_as_a_form_error(client, field, value, message):
    # The rules' message (rules.py), the one the API and the CSV import give too.
    services.label_save(name="bug")
    response = client.post(NEW, {"title": "Fine", field: value})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors.get(field, errors.get("labels", errors.get("__all__"))) == [message]
    assert message in text(response)
    assert not Issue.objects.exists()
    assert list(Label.objects.values_list("name", flat=True)) == ["bug"]


def test_tabs_and_line_breaks_are_not_control_characters_to_the_forms(client):
    response = client.post(
        NEW, {"title": "Tab\there", "description": "One\ttwo\r\nthree\rfour", "labels": []}
    )
    assert response.status_code == 302
    issue = Issue.objects.get()
    assert (issue.title, issue.description) == ("Tab here", "One\ttwo\nthree\nfour")


def test_labels_form_refuses_a_nul_as_a_form_error_and_keeps_the_labels(client):
    services.label_save(name="bug")
    issue = services.issue_create(title="Labelled", labels=["docs"])
    response = client.post(labels_url(issue.pk), {"version": 1, "labels": ["bug\x00"]})
    assert response.status_code == 400
    assert not_allowed("Label 'bug\\u0000'", "0000") in text(response)
    issue.refresh_from_db()
    assert issue.version == 1
    assert list(issue.labels.values_list("name", flat=True)) == ["docs"]
    assert sorted(Label.objects.values_list("name", flat=True)) == ["bug", "docs"]


def test_comment_and_edit_forms_refuse_control_characters(client):
    author = UserFactory.create(name="Author")
    issue = services.issue_create(title="Talk", description="Before")
    response = client.post(comments_url(issue.pk), {"body": "hi\x00", "author_id": author.pk})
    assert response.status_code == 400
    assert not_allowed("Comment", "0000") in text(response)
    assert not Comment.objects.exists()
    response = client.post(edit(issue.pk), edit_post(issue, description="Af\x0bter"))
    assert response.status_code == 400
    assert not_allowed("Description", "000b") in text(response)
    issue.refresh_from_db()
    assert (issue.version, issue.description) == (1, "Before")


# --- Bulk status


def test_bulk_close_changes_every_selected_issue_and_returns_to_the_list(client):
    one, two, other = (services.issue_create(title=t) for t in ("One", "Two", "Other"))
    back = f"{LIST}?q=o"
    response = client.post(BULK, {"issue_ids": [one.pk, two.pk], "status": "closed", "next": back})
    assert response.status_code == 302 and response.url == back
    assert messages_of(response) == ["2 issues set to Closed."]
    statuses = dict(Issue.objects.values_list("id", "status"))
    assert statuses == {one.pk: "closed", two.pk: "closed", other.pk: "open"}
    assert IssueEvent.objects.filter(event="issue_closed", source="web").count() == 2


def test_refused_bulk_change_shows_the_reason_and_changes_nothing(client):
    open_issue = services.issue_create(title="Open")
    closed = services.issue_create(title="Closed", status="closed")
    response = client.post(
        BULK, {"issue_ids": [open_issue.pk, closed.pk], "status": "closed"}, follow=True
    )
    assert f"Nothing was changed: Issue {closed.pk} already closed." in text(response)
    open_issue.refresh_from_db()
    assert open_issue.status == "open"


def test_bulk_with_nothing_selected_asks_for_a_selection(client):
    response = client.post(BULK, {"status": "closed"}, follow=True)
    assert "Select at least one issue." in text(response)


def test_bulk_does_not_redirect_off_site(client):
    issue = services.issue_create(title="One")
    response = client.post(
        BULK, {"issue_ids": [issue.pk], "status": "closed", "next": "https://evil.example/"}
    )
    assert response.url == LIST


# --- New issue


def test_new_issue_form_creates_the_issue_with_labels_and_redirects(client):
    alice = UserFactory.create(name="Alice")
    services.label_save(name="bug")
    assert client.get(NEW).status_code == 200
    response = client.post(
        NEW,
        {
            "title": "Crash on save",
            "description": "Line one\r\nLine two",
            "status": "in_progress",
            "assignee_id": alice.pk,
            "labels": ["bug"],
            "new_labels": "backend, ui,",
        },
    )
    issue = Issue.objects.get()
    assert response.status_code == 302 and response.url == detail(issue.pk)
    assert messages_of(response) == [f"Issue #{issue.pk} created."]
    assert (issue.title, issue.description, issue.status, issue.assignee_id) == (
        "Crash on save",
        "Line one\nLine two",
        "in_progress",
        alice.pk,
    )
    assert sorted(issue.labels.values_list("name", flat=True)) == ["backend", "bug", "ui"]
    assert IssueEvent.objects.get(issue=issue).source == "web"


def test_new_issue_form_shows_the_service_message_and_keeps_the_input(client):
    response = client.post(NEW, {"title": "  ", "description": "Keep me"})
    assert response.status_code == 400
    assert "Title is required" in text(response)
    assert "Keep me" in response.content.decode()
    assert not Issue.objects.exists()


# --- Issue page


def test_issue_page_shows_fields_comments_and_readable_history(client):
    alice, bob = UserFactory.create(name="Alice"), UserFactory.create(name="Bob")
    issue = services.issue_create(
        title="Login bug", description="Steps", assignee_id=alice.pk, actor=alice
    )
    services.issue_update(issue_id=issue.pk, version=1, status="closed", actor=bob, source="web")
    services.issue_labels_replace(issue_id=issue.pk, labels=["bug"], actor=bob, source="web")
    services.comment_add(issue_id=issue.pk, author_id=alice.pk, body="Fixed in 1.2")
    response = client.get(detail(issue.pk))
    assert response.status_code == 200
    page = text(response)
    for expected in [
        "Login bug",
        "Steps",
        "Closed",
        "Alice",
        "Resolved",
        "Fixed in 1.2",
        "Alice opened this issue via the API",
        "Bob closed this issue",
        "Bob added bug",
        "Alice commented via the API",
    ]:
        assert expected in page
    assert re.search(
        r'<time datetime="[^"]+" title="[^"]+" tabindex="0">just now</time>',
        response.content.decode(),
    )


def test_history_can_be_read_newest_first(client):
    issue = services.issue_create(title="Order")
    services.issue_update(issue_id=issue.pk, version=1, status="closed")
    oldest = text(client.get(detail(issue.pk)))
    newest = text(client.get(detail(issue.pk) + "?order=newest"))
    assert oldest.index("opened this issue") < oldest.index("closed this issue")
    assert newest.index("closed this issue") < newest.index("opened this issue")


def test_missing_issue_is_a_404_page(client):
    assert client.get(detail(999_999)).status_code == 404
    assert client.get(edit(999_999)).status_code == 404


@pytest.mark.parametrize("action", ["comments", "labels", "edit"])
def test_writes_to_a_missing_issue_are_a_404_page(client, user, action):
    response = client.post(
        f"/ui/issues/99999999999999999999/{action}/",
        {"body": "x", "author_id": user.pk, "version": 1, "title": "x", "status": "open"},
    )
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


# --- Edit and conflicts


def test_edit_form_carries_the_version_and_saves_only_changed_fields(client):
    issue = services.issue_create(title="Old title", description="Old text")
    response = client.get(edit(issue.pk))
    assert '<input type="hidden" name="version" value="1"' in response.content.decode()
    response = client.post(edit(issue.pk), edit_post(issue, title="New title"))
    assert response.status_code == 302 and response.url == detail(issue.pk)
    assert messages_of(response) == [f"Issue #{issue.pk} updated."]
    issue.refresh_from_db()
    assert (issue.title, issue.description, issue.version) == ("New title", "Old text", 2)
    assert list(issue.events.values_list("event", flat=True)) == ["issue_created", "title_changed"]


def test_edit_without_changes_writes_nothing(client):
    issue = services.issue_create(title="Same")
    response = client.post(edit(issue.pk), edit_post(issue), follow=True)
    assert "Nothing to save" in text(response)
    issue.refresh_from_db()
    assert issue.version == 1


def test_edit_shows_service_errors_on_the_form(client):
    issue = services.issue_create(title="Valid")
    response = client.post(edit(issue.pk), edit_post(issue, title=" ", status="done"))
    assert response.status_code == 400
    assert "Title is required" in text(response)


def test_quick_status_button_closes_the_issue(client):
    issue = services.issue_create(title="Quick")
    page = client.get(detail(issue.pk))
    assert "Close issue" in text(page)
    response = client.post(
        edit(issue.pk), {"version": 1, "status": "closed", "initial-status": "open"}
    )
    assert response.status_code == 302
    issue.refresh_from_db()
    assert (issue.status, issue.title) == ("closed", "Quick")


def test_conflict_page_shows_their_changes_and_applies_mine_without_losing_theirs(client):
    alice, bob = UserFactory.create(name="Alice"), UserFactory.create(name="Bob")
    issue = services.issue_create(title="Shared", description="Start")
    read = Issue.objects.get(pk=issue.pk)
    # Bob saves first: a new title and an assignee.
    services.issue_update(
        issue_id=issue.pk, version=1, title="Bob's title", assignee_id=bob.pk, actor=bob
    )
    # Alice, still on version 1, changes the status and the description.
    response = client.post(
        edit(issue.pk), edit_post(read, status="in_progress", description="Alice's text")
    )
    assert response.status_code == 409
    page = text(response)
    assert "Someone else changed this issue" in page
    assert "Bob changed the title from Shared to Bob's title via the API" in page
    assert "Bob assigned Bob" in page
    assert "Status In progress Open" in page
    assert "Description Alice's text Start" in page
    issue.refresh_from_db()
    assert issue.version == 2  # nothing of Alice's was written

    # "Apply mine over theirs" re-sends only Alice's fields against the current version.
    form = hidden_inputs(response, edit(issue.pk))
    assert ("version", "2") in form
    response = client.post(edit(issue.pk), dict(form))
    assert response.status_code == 302
    issue.refresh_from_db()
    assert (issue.title, issue.assignee_id, issue.status, issue.description) == (
        "Bob's title",
        bob.pk,
        "in_progress",
        "Alice's text",
    )
    # "Start again from theirs" opens the edit form on the current version.
    assert (
        f'href="{edit(issue.pk)}"'
        in client.post(edit(issue.pk), edit_post(read, title="Late")).content.decode()
    )
    assert alice  # Alice is the visitor here; the open model records no actor


# --- Labels


def test_labels_form_replaces_labels_in_one_step(client):
    services.label_save(name="bug", color="#d73a4a")
    services.label_save(name="docs")
    issue = services.issue_create(title="Labelled", labels=["docs"])
    page = client.get(detail(issue.pk)).content.decode()
    assert 'name="labels" value="docs" checked' in page
    response = client.post(
        labels_url(issue.pk), {"version": 1, "labels": ["bug"], "new_labels": "Needs review"}
    )
    assert response.status_code == 302
    assert messages_of(response) == ["Labels saved: bug, Needs review."]
    assert sorted(issue.labels.values_list("name", flat=True)) == ["Needs review", "bug"]
    assert Label.objects.filter(name="Needs review").exists()


def test_labels_conflict_offers_to_apply_mine(client):
    issue = services.issue_create(title="Labelled", labels=["docs"])
    services.issue_update(issue_id=issue.pk, version=1, title="Renamed")
    response = client.post(labels_url(issue.pk), {"version": 1, "labels": ["docs", "bug"]})
    assert response.status_code == 409
    assert "Labels docs, bug docs" in text(response)
    form = hidden_inputs(response, labels_url(issue.pk))
    assert form == [("version", "2"), ("labels", "docs"), ("labels", "bug")]
    response = client.post(labels_url(issue.pk), {"version": 2, "labels": ["docs", "bug"]})
    assert response.status_code == 302
    assert sorted(issue.labels.values_list("name", flat=True)) == ["bug", "docs"]


def test_labels_form_shows_service_errors(client):
    issue = services.issue_create(title="Labelled")
    response = client.post(labels_url(issue.pk), {"version": 1, "new_labels": "x" * 60})
    assert response.status_code == 400
    assert "is too long (max 50)" in text(response)


# --- Comments


def test_comment_is_added_as_the_chosen_person(client):
    alice = UserFactory.create(name="Alice")
    issue = services.issue_create(title="Talk")
    response = client.post(comments_url(issue.pk), {"body": "Hello", "author_id": alice.pk})
    assert response.status_code == 302 and response.url == detail(issue.pk) + "#comments"
    assert messages_of(response) == ["Comment added."]
    comment = Comment.objects.get()
    assert (comment.author, comment.body) == (alice, "Hello")
    assert issue.events.get(event="comment_added").source == "web"


def test_a_logged_in_person_comments_as_themselves(client, login_user):
    liam = UserFactory.create(name="Liam")
    issue = services.issue_create(title="Talk")
    client.force_login(login_user)
    page = client.get(detail(issue.pk)).content.decode()
    assert 'name="author_id"' not in page
    assert f"Commenting as {login_user.name}." in page
    # A hand-made form that names someone else still comments as the person logged in.
    response = client.post(comments_url(issue.pk), {"body": "Hello", "author_id": liam.pk})
    assert response.status_code == 302
    comment = Comment.objects.get()
    event = issue.events.get(event="comment_added")
    assert comment.author == event.actor == login_user


# --- Logins


def test_with_auth_required_writing_pages_send_visitors_to_login(client, settings):
    settings.TRACKER_REQUIRE_AUTH = True
    issue = services.issue_create(title="Guarded")
    response = client.get(NEW)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/?next=")
    response = client.post(
        comments_url(issue.pk), {"body": "Hi"}, HTTP_REFERER=f"http://testserver{detail(issue.pk)}"
    )
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert "next=http%3A//testserver/ui/issues/" in response.url
    assert not Comment.objects.exists()
    for url in (BULK, labels_url(issue.pk), edit(issue.pk)):
        assert client.post(url, {}).url.startswith("/accounts/login/")
    page = client.get(detail(issue.pk))
    assert page.status_code == 200
    assert "Log in to comment" in text(page) and "Edit labels" not in text(page)
    listing = client.get(LIST)
    assert "Log in to change the status of several issues" in text(listing)
    assert 'name="issue_ids"' not in listing.content.decode()


def test_with_auth_required_the_logged_in_user_is_author_and_actor(client, settings, login_user):
    settings.TRACKER_REQUIRE_AUTH = True
    client.force_login(login_user)
    assert 'name="author_id"' not in client.get(NEW).content.decode()
    response = client.post(NEW, {"title": "Mine"})
    issue = Issue.objects.get()
    assert response.status_code == 302
    client.post(comments_url(issue.pk), {"body": "Noted"})
    assert Comment.objects.get().author == login_user
    assert set(issue.events.values_list("actor", flat=True)) == {login_user.pk}
    page = text(client.get(detail(issue.pk)))
    assert "Commenting as Staff Sam" in page


def test_logging_in_and_out_is_confirmed(client):
    User.objects.create_user("sam", "correct-horse-battery", name="Sam Carter")
    response = client.post(
        reverse("login"), {"username": "sam", "password": "correct-horse-battery"}, follow=True
    )
    assert "Logged in as Sam Carter." in text(response)
    response = client.post(reverse("logout"), follow=True)
    assert "Logged out." in text(response)


def test_without_auth_required_anyone_may_write(client, settings):
    settings.TRACKER_REQUIRE_AUTH = False
    assert client.post(NEW, {"title": "Open model"}).status_code == 302


# --- People pickers


def options(response, name: str) -> list[tuple[str, str, bool]]:
    """The options of the <select name=...> as (value, text, selected)."""
    html = response.content.decode()
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', html, re.S)
    select = select or re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None, f"no <select name={name}>"
    return [
        (value, unescape(label), bool(selected))
        for value, selected, label in re.findall(
            r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select[1]
        )
    ]


def _people():
    """Users created out of name order, one of them deactivated."""
    return (
        UserFactory.create(name="zoë"),
        UserFactory.create(name="Bob"),
        UserFactory.create(name="Gone", is_active=False),
        UserFactory.create(name="alice"),
    )


def test_new_issue_and_comment_pickers_offer_active_people_by_name(client):
    zoe, bob, _gone, alice = _people()
    issue = services.issue_create(title="Talk")
    people = [(str(u.pk), u.name, False) for u in (alice, bob, zoe)]
    assert options(client.get(NEW), "assignee_id") == [("", "Nobody", True), *people]
    assert options(client.get(detail(issue.pk)), "author_id") == [
        ("", "Choose a person…", True),
        *people,
    ]


def test_list_filter_offers_active_people_and_keeps_the_one_in_use(client):
    zoe, bob, gone, alice = _people()
    services.issue_create(title="Theirs", assignee_id=gone.pk)
    people = [(str(u.pk), u.name, False) for u in (alice, bob, zoe)]
    fixed = [("", "Anyone", False), ("none", "Unassigned", False)]
    assert options(client.get(LIST), "assignee_id") == [*fixed, *people]
    response = client.get(f"{LIST}?assignee_id={gone.pk}")
    assert response.status_code == 200
    assert (str(gone.pk), "Gone (deactivated)", True) in options(response, "assignee_id")
    assert "Theirs" in text(response)


def test_edit_keeps_a_deactivated_assignee_on_offer_and_saving_keeps_it(client):
    zoe, bob, gone, alice = _people()
    issue = services.issue_create(title="Old work", assignee_id=gone.pk)
    response = client.get(edit(issue.pk))
    assert response.status_code == 200
    assert options(response, "assignee_id") == [
        ("", "Nobody", False),
        (str(alice.pk), "alice", False),
        (str(bob.pk), "Bob", False),
        (str(gone.pk), "Gone (deactivated)", True),
        (str(zoe.pk), "zoë", False),
    ]
    # What the browser sends: the selected option, which is the assignee.
    response = client.post(edit(issue.pk), edit_post(issue, title="Old work, renamed"))
    assert response.status_code == 302
    assert messages_of(response) == [f"Issue #{issue.pk} updated."]
    issue.refresh_from_db()
    assert (issue.title, issue.assignee_id, issue.version) == ("Old work, renamed", gone.pk, 2)
    assert not issue.events.filter(event="assignee_changed").exists()


def test_edit_conflict_names_a_deactivated_assignee_of_theirs(client):
    bob = UserFactory.create(name="Bob")
    gone = UserFactory.create(name="Gone", is_active=False)
    issue = services.issue_create(title="Contested")
    stale = edit_post(issue, assignee_id=bob.pk)
    services.issue_update(issue_id=issue.pk, version=1, assignee_id=gone.pk)
    response = client.post(edit(issue.pk), stale)
    assert response.status_code == 409
    assert "Assignee Bob Gone" in text(response)
    issue.refresh_from_db()
    assert (issue.assignee_id, issue.version) == (gone.pk, 2)


# --- Safety


def test_user_text_is_escaped_everywhere(client):
    script = "<script>alert(1)</script>"
    evil = UserFactory.create(name=script)
    services.label_save(name=script, color="#000000")
    issue = services.issue_create(title=script, description=script, labels=[script])
    services.issue_update(issue_id=issue.pk, version=1, title=script + "!", assignee_id=evil.pk)
    services.comment_add(issue_id=issue.pk, author_id=evil.pk, body=script)
    for url in (LIST, detail(issue.pk), edit(issue.pk)):
        html = client.get(url).content.decode()
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_every_form_is_csrf_protected(client):
    issue = services.issue_create(title="Guarded")
    for url in (LIST, NEW, detail(issue.pk), edit(issue.pk)):
        html = client.get(url).content.decode()
        assert html.count('method="post"') == html.count('name="csrfmiddlewaretoken"')
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(NEW, {"title": "No token"}).status_code == 403
    assert strict.post(BULK, {"issue_ids": [issue.pk], "status": "closed"}).status_code == 403


# --- The page and the API say the same thing


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("blank_title", "Title is required"),
        ("bad_status", "Invalid status 'done'"),
        ("unknown_assignee", "Invalid assignee_id"),
        ("empty_comment", "Empty comment"),
        ("blank_title_on_edit", "Title is required"),
    ],
)
def test_same_bad_input_same_message_on_page_and_api(client, api, case, message):
    author = UserFactory.create(name="Author")
    issue = services.issue_create(title="Existing")
    page_url, page_data, api_call = {
        "blank_title": (NEW, {"title": " "}, ("post", "/issues", {"title": " "})),
        "bad_status": (
            NEW,
            {"title": "T", "status": "done"},
            ("post", "/issues", {"title": "T", "status": "done"}),
        ),
        "unknown_assignee": (
            NEW,
            {"title": "T", "assignee_id": 999_999},
            ("post", "/issues", {"title": "T", "assignee_id": 999_999}),
        ),
        "empty_comment": (
            comments_url(issue.pk),
            {"body": "  ", "author_id": author.pk},
            ("post", f"/issues/{issue.pk}/comments", {"body": "  ", "author_id": author.pk}),
        ),
        "blank_title_on_edit": (
            edit(issue.pk),
            edit_post(issue, title=""),
            ("patch", f"/issues/{issue.pk}", {"title": "", "version": 1}),
        ),
    }[case]
    page = client.post(page_url, page_data)
    assert page.status_code == 400
    assert message in text(page)
    method, path, body = api_call
    answer = getattr(api, method)(path, body, format="json")
    assert answer.status_code == 400
    assert answer.json()["detail"] == message


# --- Query counts: a fixed number whatever the data


def _populate(count: int) -> Issue:
    people = [UserFactory.create(name=f"Person {n}") for n in range(3)]
    for n in range(3):
        services.label_save(name=f"label {n}", color="#0969da")
    issue = None
    for n in range(count):
        issue = services.issue_create(
            title=f"Issue {n}",
            assignee_id=people[n % 3].pk,
            labels=[f"label {n % 3}", f"label {(n + 1) % 3}"],
            actor=people[0],
        )
        services.issue_update(issue_id=issue.pk, version=1, status="closed", actor=people[1])
        services.comment_add(issue_id=issue.pk, author_id=people[n % 3].pk, body="Seen")
    # The last issue gets a long history of its own.
    assert issue is not None, "count must be at least 1"
    for n in range(count):
        services.comment_add(issue_id=issue.pk, author_id=people[n % 3].pk, body=f"Note {n}")
    return issue


@pytest.mark.parametrize("size", [2, 40])
@pytest.mark.parametrize("logged_in", [False, True])
def test_pages_render_in_a_fixed_number_of_queries(
    client, login_user, django_assert_max_num_queries, size, logged_in
):
    issue = _populate(size)
    if logged_in:
        client.force_login(login_user)
    # Login adds the session, the user and the top bar's unread count and saved views
    # (one query); every other query is the page's own.
    extra = 3 if logged_in else 0
    budgets = {
        LIST: 5,  # users, labels, the page, its labels, the counts per status
        # ... and the search snippets of the page.
        f"{LIST}?status=closed&label=label+1&q=Issue&ordering=-updated_at": 6,
        f"{LIST}?q=Issue&ordering=relevance": 6,
        # issue, labels, comments, exists, events, users, all labels, watchers
        detail(issue.pk): 8,
        edit(issue.pk): 4,  # issue, labels, comments (issue_detail), users
        NEW: 2,  # users, labels
    }
    for url, budget in budgets.items():
        with django_assert_max_num_queries(budget + extra):
            assert client.get(url).status_code == 200


# --- The way back to the list, and "Close with comment"

BACK = "/ui/issues/?status=open&ordering=title&q=printer"


def with_back(url: str, back: str = BACK) -> str:
    from urllib.parse import urlencode

    return f"{url}?{urlencode({'back': back}, safe='/')}"


def test_the_list_links_carry_its_place_and_the_issue_page_keeps_it(client):
    issue = services.issue_create(title="Printer jam")
    html = client.get(BACK).content.decode()
    assert f'href="{unescape(with_back(detail(issue.pk)))}"' in unescape(html)
    page = unescape(client.get(with_back(detail(issue.pk))).content.decode())
    assert f'<a href="{BACK}">← All issues</a>' in page
    assert f'<input type="hidden" name="back" value="{BACK}">' in page
    assert f'href="{with_back(reverse("ui:issue-edit", kwargs={"issue_id": issue.pk}))}"' in page


@pytest.mark.parametrize(
    "back",
    ["https://example.com/ui/issues/", "//example.com/ui/issues/", "/ui/people/", "javascript:x"],
)
def test_a_way_back_anywhere_but_the_list_is_dropped(client, back):
    issue = services.issue_create(title="Safe")
    page = client.get(with_back(detail(issue.pk), back)).content.decode()
    assert '<a href="/ui/issues/">← All issues</a>' in page
    assert 'name="back"' not in page
    alice = UserFactory.create(name="Alice")
    response = client.post(
        comments_url(issue.pk), {"body": "Hi", "author_id": alice.pk, "back": back}
    )
    assert response.url == detail(issue.pk) + "#comments"


def test_every_change_on_the_issue_page_comes_back_with_the_way_back(client):
    alice = UserFactory.create(name="Alice")
    issue = services.issue_create(title="Printer jam")
    back = {"back": BACK}
    expected = with_back(detail(issue.pk))
    response = client.post(comments_url(issue.pk), {"body": "Hello", "author_id": alice.pk, **back})
    assert response.url == expected + "#comments"
    edit = reverse("ui:issue-edit", kwargs={"issue_id": issue.pk})
    response = client.post(
        edit, {"version": 1, "initial-status": "open", "status": "in_progress", **back}
    )
    assert response.url == expected
    response = client.post(
        reverse("ui:issue-labels", kwargs={"issue_id": issue.pk}),
        {"version": 2, "labels": [], "new_labels": "bug", **back},
    )
    assert response.url == expected
    # The edit form, its cancel link, and a conflict's pages keep it too.
    page = unescape(client.get(with_back(edit)).content.decode())
    assert f'<input type="hidden" name="back" value="{BACK}">' in page
    assert f'<a href="{expected}">Cancel</a>' in page
    stale = {"version": 1, "initial-title": "Printer jam", "title": "X", **back}
    response = client.post(edit, stale)
    assert response.status_code == 409
    assert f'<input type="hidden" name="back" value="{BACK}">' in unescape(
        response.content.decode()
    )


def test_close_with_comment_does_both(client):
    alice = UserFactory.create(name="Alice")
    issue = services.issue_create(title="Done")
    page = client.get(detail(issue.pk)).content.decode()
    close = '<button type="submit" name="set_status" value="closed">Close with comment</button>'
    assert close in page
    response = client.post(
        comments_url(issue.pk),
        {"body": "Fixed", "author_id": alice.pk, "version": 1, "set_status": "closed"},
    )
    assert response.url == detail(issue.pk) + "#comments"
    assert messages_of(response) == ["Comment added and issue set to Closed."]
    issue.refresh_from_db()
    assert issue.status == "closed" and issue.version == 2
    events = list(issue.events.order_by("id"))[-2:]
    assert [(e.event, e.actor_id) for e in events] == [
        ("comment_added", alice.pk),
        ("issue_closed", alice.pk),
    ]
    page = client.get(detail(issue.pk)).content.decode()
    assert "Close with comment" not in page
    reopen = '<button type="submit" name="set_status" value="open">Reopen with comment</button>'
    assert reopen in page


def test_close_with_comment_on_a_changed_issue_saves_neither(client):
    alice = UserFactory.create(name="Alice")
    issue = services.issue_create(title="Done")
    services.issue_update(issue_id=issue.pk, version=1, title="Done, renamed")
    response = client.post(
        comments_url(issue.pk),
        {"body": "Fixed", "author_id": alice.pk, "version": 1, "set_status": "closed"},
    )
    assert response.status_code == 400
    assert "Someone changed this issue since you opened it" in response.content.decode()
    assert "Fixed</textarea>" in response.content.decode()
    issue.refresh_from_db()
    assert issue.status == "open" and not issue.comments.exists()


@pytest.mark.parametrize(
    "data", [{"set_status": "nonsense", "version": 1}, {"set_status": "closed"}]
)
def test_close_with_comment_refuses_a_bad_status_or_version(client, data):
    alice = UserFactory.create(name="Alice")
    issue = services.issue_create(title="Done")
    response = client.post(comments_url(issue.pk), {"body": "x", "author_id": alice.pk, **data})
    assert response.status_code == 400
    issue.refresh_from_db()
    assert issue.status == "open" and not issue.comments.exists()
