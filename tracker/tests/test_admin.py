"""The admin saves issues and labels through the services, and shows watchers and saved views."""

from __future__ import annotations

import pytest

from tracker import services
from tracker.models import Issue, IssueEvent, Label, SavedView, User, Watch
from tracker.services import saved_views, watchers

from .factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = User.objects.create_superuser("root", "long-enough-pass", name="Root")
    client.force_login(admin)
    client.admin = admin
    return client


def issue_form(issue: Issue, **changes) -> dict:
    data = {
        "title": issue.title,
        "description": issue.description,
        "status": issue.status,
        "assignee": issue.assignee_id or "",
        "priority": issue.priority,
        "due_date": issue.due_date.isoformat() if issue.due_date else "",
        "loaded_version": issue.version,
        "comments-TOTAL_FORMS": 0,
        "comments-INITIAL_FORMS": 0,
        "events-TOTAL_FORMS": 0,
        "events-INITIAL_FORMS": 0,
    }
    data.update(changes)
    return data


def test_admin_issue_edit_goes_through_the_service(admin_client):
    issue = services.issue_create(title="x")
    response = admin_client.post(
        f"/admin/tracker/issue/{issue.pk}/change/", issue_form(issue, status="closed")
    )
    assert response.status_code == 302
    issue.refresh_from_db()
    assert (issue.status, issue.version) == ("closed", 2)
    assert issue.resolved_at is not None
    event = IssueEvent.objects.get(issue=issue, event="issue_closed")
    assert (event.source, event.actor) == ("admin", admin_client.admin)


def test_admin_issue_edit_with_stale_version_saves_nothing(admin_client):
    issue = services.issue_create(title="x")
    stale = issue_form(issue, title="mine")
    services.issue_update(issue_id=issue.pk, version=1, title="theirs")
    response = admin_client.post(f"/admin/tracker/issue/{issue.pk}/change/", stale, follow=True)
    assert "Version conflict" in response.content.decode()
    issue.refresh_from_db()
    assert (issue.title, issue.version) == ("theirs", 2)


def test_admin_issue_add_records_the_creation(admin_client):
    response = admin_client.post(
        "/admin/tracker/issue/add/",
        issue_form(Issue(title="From admin", status="open"), loaded_version=""),
    )
    assert response.status_code == 302
    issue = Issue.objects.get(title="From admin")
    assert IssueEvent.objects.get(issue=issue).source == "admin"


def test_admin_bulk_close_action_is_all_or_nothing(admin_client):
    open_issue = services.issue_create(title="a")
    closed = services.issue_create(title="b", status="closed")
    response = admin_client.post(
        "/admin/tracker/issue/",
        {"action": "close_issues", "_selected_action": [open_issue.pk, closed.pk]},
        follow=True,
    )
    assert f"Issue {closed.pk} already closed" in response.content.decode()
    open_issue.refresh_from_db()
    assert open_issue.status == "open"


def test_admin_label_names_are_unique_without_regard_to_case(admin_client):
    services.label_save(name="Bug")
    response = admin_client.post(
        "/admin/tracker/label/add/", {"name": "bug", "color": "#ff0000", "description": ""}
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Label.objects.count() == 1


def test_admin_label_delete_writes_timeline(admin_client):
    issue = services.issue_create(title="x", labels=["doomed"])
    label = Label.objects.get(name="doomed")
    response = admin_client.post(f"/admin/tracker/label/{label.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.version == 2
    assert IssueEvent.objects.filter(issue=issue, event="labels_changed").exists()


def test_admin_gives_an_api_user_a_login(admin_client, client):
    person = UserFactory.create(name="Pat")
    response = admin_client.post(
        f"/admin/tracker/user/{person.pk}/password/",
        {"password1": "a-good-long-pass", "password2": "a-good-long-pass"},
    )
    assert response.status_code == 302
    person.refresh_from_db()
    person.username = "pat"
    person.save()
    assert client.login(username="pat", password="a-good-long-pass")


def test_admin_user_add_without_username_allows_many(admin_client):
    for name in ("One", "Two"):
        response = admin_client.post(
            "/admin/tracker/user/add/",
            {"name": name, "username": "", "usable_password": "false"},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
    assert User.objects.filter(username__isnull=True).count() == 2


def test_admin_user_e_mail_is_stored_as_the_services_store_it(admin_client):
    UserFactory.create(name="Ann", email="ann@example.com")
    add = {"name": "Pat", "username": "", "usable_password": "false"}
    taken = admin_client.post("/admin/tracker/user/add/", {**add, "email": "ANN@example.com"})
    assert taken.status_code == 200
    assert "Someone else already uses this e-mail address" in taken.content.decode()
    for email, stored in (("", None), (" pat@example.com ", "pat@example.com")):
        User.objects.filter(name="Pat").delete()
        response = admin_client.post("/admin/tracker/user/add/", {**add, "email": email})
        assert response.status_code == 302, response.content.decode()[:2000]
        assert User.objects.get(name="Pat").email == stored


@pytest.mark.parametrize(
    "path",
    [
        "/admin/tracker/issue/",
        "/admin/tracker/user/",
        "/admin/tracker/label/",
        "/admin/tracker/notification/",
        "/admin/tracker/watch/",
        "/admin/tracker/savedview/",
    ],
)
def test_admin_lists_load(admin_client, path):
    issue = services.issue_create(title="x", labels=["a"], actor=admin_client.admin)
    saved_views.saved_view_create(owner=admin_client.admin, name="Open", query="status=open")
    assert Watch.objects.filter(issue=issue).exists()
    assert admin_client.get(path).status_code == 200


def test_admin_shows_watchers_and_saved_views_and_removes_them_without_editing(admin_client):
    ann, bob = UserFactory.create(name="Ann Watcher"), UserFactory.create(name="Bob Other")
    issue = services.issue_create(title="Watched issue")
    other = services.issue_create(title="Elsewhere")
    watchers.watch_add(issue_id=issue.pk, user_id=ann.pk)
    watchers.watch_add(issue_id=other.pk, user_id=bob.pk)
    view = saved_views.saved_view_create(owner=ann, name="Mine", query="assignee_id=1")
    watch = Watch.objects.get(issue=issue, user=ann)

    listed = admin_client.get("/admin/tracker/watch/?q=Ann").content.decode()
    assert "Watched issue" in listed and "Ann Watcher" in listed
    assert "Elsewhere" not in listed and "Bob Other" not in listed
    listed = admin_client.get("/admin/tracker/savedview/?q=Mine").content.decode()
    assert "assignee_id=1" in listed

    for path in ("/admin/tracker/watch/add/", "/admin/tracker/savedview/add/"):
        assert admin_client.get(path).status_code == 403
    assert (
        admin_client.post(
            f"/admin/tracker/savedview/{view.pk}/change/", {"name": "Renamed", "owner": ann.pk}
        ).status_code
        == 403
    )
    view.refresh_from_db()
    assert view.name == "Mine"

    response = admin_client.post(f"/admin/tracker/watch/{watch.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Watch.objects.filter(pk=watch.pk).exists()
    response = admin_client.post(f"/admin/tracker/savedview/{view.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_admin_edit_without_the_loaded_version_saves_nothing(admin_client):
    issue = services.issue_create(title="x")
    form = issue_form(issue, title="blind", loaded_version="")
    response = admin_client.post(f"/admin/tracker/issue/{issue.pk}/change/", form)
    assert response.status_code == 200
    issue.refresh_from_db()
    assert issue.title == "x"


def test_admin_assignee_picker_offers_active_people_by_name(admin_client):
    zoe, gone = UserFactory.create(name="zoë"), UserFactory.create(name="Gone", is_active=False)
    bob = UserFactory.create(name="bob")
    query = "app_label=tracker&model_name=issue&field_name=assignee"
    response = admin_client.get(f"/admin/autocomplete/?{query}")
    assert response.status_code == 200
    found = [row["text"] for row in response.json()["results"]]
    assert found == ["bob", "Root", "zoë"]
    assert admin_client.get(f"/admin/autocomplete/?{query}&term=gone").json()["results"] == []
    # The user list itself still finds everyone.
    users = admin_client.get("/admin/tracker/user/?q=gone").content.decode()
    assert f"/admin/tracker/user/{gone.pk}/change/" in users
    assert {bob.pk, zoe.pk} <= set(User.objects.values_list("pk", flat=True))


def test_admin_issue_form_keeps_a_deactivated_assignee(admin_client):
    gone = UserFactory.create(name="Gone", is_active=False)
    issue = services.issue_create(title="Old work", assignee_id=gone.pk)
    page = admin_client.get(f"/admin/tracker/issue/{issue.pk}/change/").content.decode()
    assert f'<option value="{gone.pk}" selected>Gone</option>' in page
    response = admin_client.post(
        f"/admin/tracker/issue/{issue.pk}/change/", issue_form(issue, title="Renamed")
    )
    assert response.status_code == 302
    issue.refresh_from_db()
    assert (issue.title, issue.assignee_id, issue.version) == ("Renamed", gone.pk, 2)


def test_the_admin_index_names_watches_and_webhook_deliveries_in_english(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert "Watches" in page and "Webhook deliveries" in page
    assert "Watchs" not in page and "deliverys" not in page
