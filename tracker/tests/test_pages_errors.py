"""The error pages (views/errors.py): the tracker's own 400, 403, 404 and 500 pages for the
pages, the admin and the logins, while the API keeps answering in JSON."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.utils.functional import SimpleLazyObject

from issuetracker.urls import handler500
from tracker import selectors, services
from tracker.models import Comment, Issue, User
from tracker.views import errors

from .factories import UserFactory

NAV_LINKS = ('href="/ui/issues/new/"', 'href="/ui/people/"', 'href="/admin/"')


def has_site_navigation(html: str) -> bool:
    return '<nav class="nav" aria-label="Main">' in html and all(link in html for link in NAV_LINKS)


# --- 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("/ui/nowhere/", "Page not found"),
        ("/ui/issues/999999/", "Issue not found"),
        ("/ui/issues/999999/edit/", "Issue not found"),
        ("/accounts/nowhere/", "Page not found"),
    ],
)
def test_a_missing_page_is_the_trackers_404_page(client, path, heading):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert has_site_navigation(html)
    assert f"<h1>{heading}</h1>" in html
    assert f"<code>{path}</code>" in html
    assert "<title>Not found · Tracker</title>" in html


@pytest.mark.django_db
def test_the_404_page_knows_who_is_logged_in(client, login_user):
    client.force_login(login_user)
    html = client.get("/ui/nowhere/").content.decode()
    assert login_user.name in html and "Log out" in html


@pytest.mark.django_db
def test_a_comment_on_a_missing_issue_is_the_404_page_and_writes_nothing(client, user):
    response = client.post("/ui/issues/999999/comments/", {"body": "Lost?", "author_id": user.pk})
    assert response.status_code == 404
    assert "<h1>Issue not found</h1>" in response.content.decode()
    assert not Comment.objects.exists()


@pytest.mark.django_db
def test_the_admin_404_is_the_trackers_page(client):
    admin = User.objects.create_superuser("root", "long-enough-pass", name="Root")
    client.force_login(admin)
    response = client.get("/admin/nowhere/")
    assert response.status_code == 404
    assert has_site_navigation(response.content.decode())


@pytest.mark.django_db
def test_a_path_escapes_on_the_404_page(client):
    html = client.get("/ui/<script>alert(1)</script>/").content.decode()
    assert "<script>alert(1)" not in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/issues/999999", {"detail": "Issue not found", "code": "issue_not_found"}),
        ("/nowhere", {"detail": "Not found", "code": "not_found"}),
    ],
)
def test_the_api_keeps_its_json_404(api, path, body):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json() == body


# --- 500


def _break_the_issue_list(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the list is broken")

    monkeypatch.setattr(selectors, "issue_list", broken)


@pytest.mark.django_db
def test_a_crash_on_a_page_is_the_trackers_500_page(monkeypatch):
    _break_the_issue_list(monkeypatch)
    client = Client(raise_request_exception=False)
    response = client.get("/ui/issues/")
    assert response.status_code == 500
    html = response.content.decode()
    assert has_site_navigation(html)
    assert "<h1>Something went wrong on our side</h1>" in html
    assert 'href="/static/css/app.css"' in html
    assert "the list is broken" not in html


@pytest.mark.django_db
def test_a_crash_in_the_api_keeps_its_json_500(monkeypatch):
    _break_the_issue_list(monkeypatch)
    response = Client(raise_request_exception=False).get("/issues")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error", "code": "server_error"}


def _broken(what: str):
    def fail():
        raise RuntimeError(f"{what} is broken")

    return SimpleLazyObject(fail)


def test_the_500_page_needs_no_database_and_no_request_context():
    # No django_db mark: any query fails the test. The user and session raise when touched.
    request = RequestFactory().get("/ui/issues/")
    request.user = _broken("the user")
    request.session = _broken("the session")
    response = handler500(request)
    assert response.status_code == 500
    html = response.content.decode()
    assert has_site_navigation(html)
    assert "Log in" not in html and "Log out" not in html


def test_the_500_page_goes_without_styles_when_static_files_are_broken(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    settings.STATIC_ROOT = "/nonexistent-static-root"
    response = errors.server_error(RequestFactory().get("/ui/issues/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "stylesheet" not in html
    assert has_site_navigation(html)


def test_the_500_page_falls_back_to_a_fixed_page(monkeypatch):
    def no_templates(name):
        raise RuntimeError("templates are broken")

    monkeypatch.setattr(errors.loader, "get_template", no_templates)
    response = errors.server_error(RequestFactory().get("/ui/issues/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


# --- 400 and 403


@pytest.mark.django_db
def test_a_request_django_refuses_is_the_trackers_400_page(client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    data = {"title": "Too many fields", **{f"extra{n}": "x" for n in range(20)}}
    response = client.post("/ui/issues/new/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert has_site_navigation(html)
    assert "<h1>The tracker could not read this request</h1>" in html
    assert not Issue.objects.exists()
    answer = client.post("/issues", data)
    assert answer.status_code == 400
    assert answer.json()["code"] == "bad_request"
    assert not Issue.objects.exists()


@pytest.mark.django_db
def test_a_forbidden_admin_page_is_the_trackers_403_page(client):
    staff = UserFactory.create(name="Staff Without Rights", username="norights", is_staff=True)
    client.force_login(staff)
    response = client.get("/admin/tracker/issue/")
    assert response.status_code == 403
    html = response.content.decode()
    assert has_site_navigation(html)
    assert "<h1>You may not do that</h1>" in html
    assert "Staff Without Rights" in html


# --- A form refused for its CSRF token


def _strict_client() -> Client:
    """A browser whose CSRF cookie no longer matches the token its open pages carry."""
    client = Client(enforce_csrf_checks=True)
    client.cookies["csrftoken"] = "x" * 32
    return client


def _textareas(html: str) -> dict[str, str]:
    """{label: text} of the read-only boxes the page gives back."""
    labels = dict(re.findall(r'<label for="(typed-\d+)">([^<]*)</label>', html))
    return {
        unescape(labels[id_]): unescape(text)
        for id_, text in re.findall(
            r'<textarea id="(typed-\d+)"[^>]*readonly>\n(.*?)</textarea>', html, re.S
        )
    }


@pytest.mark.django_db
def test_a_comment_refused_for_its_token_is_given_back_escaped(user):
    issue = services.issue_create(title="Talk")
    body = "First line <script>alert(1)</script>\nSecond & last"
    response = _strict_client().post(
        f"/ui/issues/{issue.pk}/comments/",
        {"body": body, "author_id": user.pk, "csrfmiddlewaretoken": "y" * 32},
        HTTP_REFERER=f"http://testserver/ui/issues/{issue.pk}/",
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert has_site_navigation(html)
    assert "<h1>Your form was not sent</h1>" in html
    assert "Nothing was saved." in html
    assert "<script>alert(1)" not in html
    assert _textareas(html) == {"Comment": body}
    assert f'href="http://testserver/ui/issues/{issue.pk}/">Back to the page' in html
    assert not Comment.objects.exists()


@pytest.mark.django_db
def test_an_edit_refused_for_its_token_gives_back_the_text_not_the_bookkeeping():
    issue = services.issue_create(title="Before", description="Old")
    data = {
        "version": 1,
        "title": "After",
        "initial-title": "Before",
        "description": "New text",
        "initial-description": "Old",
        "status": "open",
        "initial-status": "open",
        "assignee_id": "",
        "initial-assignee_id": "",
    }
    response = _strict_client().post(f"/ui/issues/{issue.pk}/edit/", data)
    assert response.status_code == 403
    assert _textareas(response.content.decode()) == {
        "Title": "After",
        "Description": "New text",
        "Status": "open",
    }
    issue.refresh_from_db()
    assert (issue.title, issue.description, issue.version) == ("Before", "Old", 1)


@pytest.mark.django_db
def test_labels_refused_for_their_token_share_one_box():
    issue = services.issue_create(title="Labelled")
    response = _strict_client().post(
        f"/ui/issues/{issue.pk}/labels/",
        {"version": 1, "labels": ["bug", "docs"], "new_labels": "needs triage"},
    )
    assert response.status_code == 403
    boxes = _textareas(response.content.decode())
    assert boxes == {"Labels": "bug\ndocs", "New labels": "needs triage"}
    assert not issue.labels.exists()


@pytest.mark.django_db
def test_a_login_refused_for_its_token_never_shows_the_password():
    User.objects.create_user("sam", "correct-horse-battery", name="Sam Carter")
    client = _strict_client()
    response = client.post(
        "/accounts/login/", {"username": "sam", "password": "correct-horse-battery"}
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert "correct-horse-battery" not in html
    assert _textareas(html) == {"Username": "sam"}
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_refused_form_from_another_site_links_back_to_the_issue_list():
    response = _strict_client().post(
        "/ui/people/", {"name": "Eve"}, HTTP_REFERER="https://evil.example/form"
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert 'href="/ui/issues/">Back to the page' in html
    assert "evil.example" not in html
    assert not User.objects.filter(name="Eve").exists()


@pytest.mark.django_db
def test_an_upload_refused_for_its_token_says_the_file_was_not_kept():
    upload = SimpleUploadedFile("issues.csv", b"title\nOne\n", content_type="text/csv")
    response = _strict_client().post("/ui/import/", {"file": upload})
    assert response.status_code == 403
    html = response.content.decode()
    assert "Files you chose were not kept: choose them again." in html
    assert not Issue.objects.exists()


def test_a_csrf_failure_outside_the_pages_is_json():
    request = RequestFactory().post("/issues", {"title": "x"})
    response = errors.csrf_failure(request, reason="CSRF cookie not set.")
    assert response.status_code == 403
    assert json.loads(response.content) == {
        "detail": "CSRF check failed: CSRF cookie not set.",
        "code": "csrf_failed",
    }
