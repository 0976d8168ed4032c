"""Watchers, mentions and the inbox as people use them: Maya assigns an issue to Liam and
mentions @noah; each of them finds it in their inbox and gets one e-mail; Noah unwatches.
Saved views: save, find in the navigation, share by link, rename, delete. My issues."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tracker import services
from tracker.models import Notification, SavedView, User
from tracker.services import notifications

from .conftest import axe_violations as violations
from .conftest import screenshot

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def email_on(settings):
    settings.TRACKER_EMAIL_ENABLED = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def person(username: str, name: str) -> User:
    return User.objects.create_user(username, PASSWORD, name=name, email=f"{username}@example.com")


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/?next=/ui/inbox/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/ui/inbox/$"))


def test_assign_mention_inbox_e_mail_and_unwatch(new_page):
    maya, liam, noah = person("maya", "Maya"), person("liam", "Liam"), person("noah", "Noah")
    issue = services.issue_create(title="Checkout crashes", actor=maya)

    page = new_page()
    log_in(page, "maya")
    page.goto(f"/ui/issues/{issue.pk}/edit/")
    page.get_by_label("Assignee").select_option(label="Liam")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(re.compile(rf"/ui/issues/{issue.pk}/$"))
    page.get_by_role("textbox", name="Comment").fill("@noah can you reproduce this?")
    page.get_by_role("button", name="Comment", exact=True).click()
    mention = page.locator("a.mention", has_text="@noah")
    expect(mention).to_have_attribute("href", f"/ui/issues/?assignee_id={noah.pk}")
    expect(page.locator(".watchers")).to_have_text("3 watching")
    expect(page.get_by_role("button", name="Unwatch")).to_be_visible()

    for who in ("liam", "noah"):
        their = new_page()
        log_in(their, who)
        expect(their.locator(".inbox-link .unread-count")).to_have_text("1")
        threads = their.locator(".inbox > li.notification.unread")
        expect(threads).to_have_count(1)
        expect(threads.first).to_contain_text(f"#{issue.pk} Checkout crashes")
        screenshot(their, f"inbox of {who}")
        assert violations(their) == []
    maya_page_count = page.locator(".inbox-link .unread-count")
    page.reload()
    expect(maya_page_count).to_have_count(0)

    for user in (maya, liam, noah):
        notifications.notifications_email_send(recipient_id=user.pk)
    assert sorted(message.to[0] for message in mail.outbox) == [
        "liam@example.com",
        "noah@example.com",
    ]

    # Noah reads, then unwatches: the next change reaches him no more.
    noah_page = new_page()
    log_in(noah_page, "noah")
    noah_page.get_by_role("button", name=re.compile("Mark read")).click()
    expect(noah_page.locator(".inbox-link .unread-count")).to_have_count(0)
    noah_page.goto(f"/ui/issues/{issue.pk}/")
    noah_page.get_by_role("button", name="Unwatch").click()
    expect(noah_page.get_by_role("button", name="Watch", exact=True)).to_be_visible()
    expect(noah_page.locator(".watchers")).to_have_text("2 watching")
    before = Notification.objects.filter(recipient=noah).count()
    page.get_by_role("textbox", name="Comment").fill("Never mind, found it")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.locator("#comments").get_by_text("Never mind, found it")).to_be_visible()
    assert Notification.objects.filter(recipient=noah).count() == before
    noah_page.goto("/ui/inbox/")
    expect(noah_page.locator(".inbox-link .unread-count")).to_have_count(0)

    # My issues: Liam's assigned tab, Maya's created tab.
    liam_page = new_page()
    log_in(liam_page, "liam")
    liam_page.get_by_role("link", name="My issues").click()
    expect(liam_page.locator("table.issues")).to_contain_text("Checkout crashes")
    assert violations(liam_page) == []
    page.goto("/ui/my/?tab=created")
    expect(page.locator("table.issues")).to_contain_text("Checkout crashes")
    page.goto("/ui/my/?tab=watched")
    expect(page.locator("table.issues")).to_contain_text("Checkout crashes")


def test_save_share_rename_and_delete_a_view(new_page):
    maya = person("maya", "Maya")
    services.issue_create(title="Open one", actor=maya, assignee_id=maya.pk)
    closed = services.issue_create(title="Closed one", actor=maya)
    services.issue_update(issue_id=closed.pk, actor=maya, version=1, status="closed")

    page = new_page()
    log_in(page, "maya")
    page.goto("/ui/issues/?status=open&assignee_id=me&ordering=title")
    expect(page.get_by_label("Assignee")).to_have_value("me")
    page.get_by_label("Save these filters as a view").fill("My open work")
    page.get_by_role("button", name="Save view").click()
    expect(page.locator(".message.success")).to_have_text("View “My open work” saved.")
    expect(page).to_have_url(re.compile(r"/ui/issues/\?status=open&assignee_id=me&ordering=title$"))
    view = SavedView.objects.get(owner=maya)

    page.locator(".nav-views summary").click()
    expect(page.locator(".nav-views").get_by_role("link", name="My open work")).to_be_visible()
    assert violations(page) == []

    stranger = new_page()
    stranger.goto(f"/ui/views/{view.pk}/")
    expect(stranger).to_have_url(re.compile(r"status=open&assignee_id=me&ordering=title$"))
    expect(stranger.locator(".form-errors")).to_contain_text("Log in to use me.")

    page.goto("/ui/views/")
    page.get_by_label("New name for My open work").fill("Mine, open")
    page.get_by_role("button", name="Rename").click()
    expect(page.locator(".message.success")).to_have_text("View renamed to “Mine, open”.")
    screenshot(page, "saved views")
    assert violations(page) == []
    page.get_by_role("button", name="Delete Mine, open").click()
    expect(page.locator(".message.success")).to_have_text("View deleted.")
    assert not SavedView.objects.exists()
