"""The issue page keeps the list's place: its way back returns to the list as it was left
(filters, sort, search, page), through every change made on the issue page; Ctrl+Enter sends
a comment; "Close with comment" closes and comments in one go. At a phone's width and a
desktop's."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tracker import services
from tracker.models import Issue
from tracker.tests.factories import UserFactory

from .conftest import SIZES

pytestmark = pytest.mark.parametrize("size", list(SIZES))

LIST = "/ui/issues/?q=printer&status=open&ordering=title&per_page=2"


def all_issues_link(page):
    return page.get_by_role("link", name="← All issues")


def write_comment(page, text: str):
    """Fill the comment box as Alice (in open mode an anonymous visitor names the author)."""
    page.get_by_label("Comment as").select_option(label="Alice")
    box = page.get_by_label("Comment", exact=True)
    box.fill(text)
    return box


def test_the_way_back_returns_to_the_list_as_it_was(new_page, size):
    alice = UserFactory.create(name="Alice")
    for n in range(5):
        services.issue_create(title=f"Printer jam {n}", assignee_id=alice.pk)
    services.issue_create(title="Unrelated")
    page = new_page(viewport=SIZES[size])
    page.goto(LIST)
    page.get_by_role("link", name="Next →").click()
    list_url = page.url.removeprefix(page.url.split("/ui/")[0])
    assert "cursor=" in list_url

    page.get_by_role("link", name="Printer jam 2").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Printer jam 2")
    expect(all_issues_link(page)).to_have_attribute("href", list_url)
    issue = Issue.objects.get(title="Printer jam 2")

    # A comment: back on the issue page, the way back kept.
    write_comment(page, "Seen on floor 3")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.locator(".message.success")).to_have_text("Comment added.")
    expect(all_issues_link(page)).to_have_attribute("href", list_url)

    # A one-click status change.
    page.get_by_role("button", name="Start progress").click()
    expect(page.locator(".message.success")).to_have_text(f"Issue #{issue.pk} updated.")
    expect(all_issues_link(page)).to_have_attribute("href", list_url)

    # Labels.
    page.get_by_text("Edit labels").click()
    page.get_by_label("New labels").fill("hardware")
    page.get_by_role("button", name="Save labels").click()
    expect(page.locator(".message.success")).to_have_text("Labels saved: hardware.")
    expect(all_issues_link(page)).to_have_attribute("href", list_url)

    # The edit form, and the history's order toggle.
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Title").fill("Printer jam 2 (tray 2)")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".message.success")).to_have_text(f"Issue #{issue.pk} updated.")
    page.get_by_role("link", name="Show newest first").click()
    expect(page.get_by_text("Newest first ·")).to_be_visible()
    expect(all_issues_link(page)).to_have_attribute("href", list_url)

    all_issues_link(page).click()
    expect(page).to_have_url(re.compile(re.escape(list_url) + "$"))
    expect(page.get_by_label("Search titles")).to_have_value("printer")


def test_a_way_back_off_the_list_is_ignored(new_page, size):
    issue = services.issue_create(title="Safe")
    page = new_page(viewport=SIZES[size])
    for back in ("https://example.com/ui/issues/", "//example.com/ui/issues/", "/ui/people/"):
        page.goto(f"/ui/issues/{issue.pk}/?back={back}")
        expect(all_issues_link(page)).to_have_attribute("href", "/ui/issues/")


def test_ctrl_enter_sends_the_comment(new_page, size):
    UserFactory.create(name="Alice")
    issue = services.issue_create(title="Keys")
    page = new_page(viewport=SIZES[size])
    page.goto(f"/ui/issues/{issue.pk}/?back=/ui/issues/%3Fstatus%3Dopen")
    write_comment(page, "Sent with the keyboard").press("Control+Enter")
    expect(page.locator(".message.success")).to_have_text("Comment added.")
    expect(all_issues_link(page)).to_have_attribute("href", "/ui/issues/?status=open")
    write_comment(page, "And with Cmd").press("Meta+Enter")
    expect(page.locator(".comment")).to_have_count(2)
    assert list(issue.comments.values_list("body", flat=True).order_by("id")) == [
        "Sent with the keyboard",
        "And with Cmd",
    ]


def test_close_and_reopen_with_a_comment(new_page, size):
    UserFactory.create(name="Alice")
    issue = services.issue_create(title="Done soon")
    page = new_page(viewport=SIZES[size])
    page.goto(f"/ui/issues/{issue.pk}/")
    expect(page.get_by_role("button", name="Reopen with comment")).to_have_count(0)
    write_comment(page, "Fixed by the new driver")
    page.get_by_role("button", name="Close with comment").click()
    expect(page.locator(".message.success")).to_have_text("Comment added and issue set to Closed.")
    issue.refresh_from_db()
    assert issue.status == "closed"
    assert issue.comments.get().body == "Fixed by the new driver"
    expect(page.get_by_role("button", name="Close with comment")).to_have_count(0)

    # An empty comment changes nothing.
    page.get_by_role("button", name="Reopen with comment").click()
    expect(page.locator(".comment-form .errorlist")).to_be_visible()
    issue.refresh_from_db()
    assert issue.status == "closed"

    write_comment(page, "It is back")
    page.get_by_role("button", name="Reopen with comment").click()
    expect(page.locator(".message.success")).to_have_text("Comment added and issue set to Open.")
    issue.refresh_from_db()
    assert issue.status == "open"
    assert issue.comments.count() == 2
