"""A form refused for its CSRF token, in a real browser: the tracker's page explains what
happened, gives back what was typed, and the form works again from a reloaded page."""

from __future__ import annotations

from playwright.sync_api import expect

from tracker import services
from tracker.models import Comment, User
from tracker.tests.factories import UserFactory

from .conftest import axe_violations, screenshot


def invalidate_csrf_cookie(page) -> None:
    """Replace the browser's CSRF cookie (same name, domain and path) with another secret."""
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "csrftoken"]
    page.context.add_cookies([{**cookie, "value": "x" * 32}])


TYPED = "It breaks on <Save> & on Cancel.\nSteps:\n  1. open the form"


def test_a_comment_sent_with_a_stale_token_is_given_back(page):
    UserFactory.create(name="Alice")
    issue = services.issue_create(title="Needs discussion")
    page.goto(f"/ui/issues/{issue.pk}/")
    page.get_by_label("Comment as").select_option(label="Alice")
    page.get_by_label("Comment", exact=True).fill(TYPED)
    # What logging out and in again elsewhere does to this tab: its token no longer counts.
    invalidate_csrf_cookie(page)
    page.get_by_role("button", name="Comment", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Your form was not sent")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Issues")
    typed = page.get_by_label("Comment")
    expect(typed).to_have_value(TYPED)
    expect(typed).to_have_attribute("readonly", "")
    screenshot(page, "csrf-failure")
    assert axe_violations(page) == []
    assert not Comment.objects.exists()

    # Copy, go back through the page's button, paste and send: it works now.
    text = typed.input_value()
    page.get_by_role("link", name="Back to the page").click()
    expect(page).to_have_url(f"{page.url.split('/ui/')[0]}/ui/issues/{issue.pk}/")
    page.get_by_label("Comment as").select_option(label="Alice")
    page.get_by_label("Comment", exact=True).fill(text)
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.locator(".message.success")).to_have_text("Comment added.")
    assert Comment.objects.get().body == TYPED.strip()


def test_logging_out_and_in_from_another_tab_then_commenting(new_page, settings):
    settings.TRACKER_REQUIRE_AUTH = True
    User.objects.create_user("sam", "correct-horse-battery", name="Sam Carter")
    issue = services.issue_create(title="Guarded issue")
    first = new_page()
    first.goto(f"/ui/issues/{issue.pk}/")
    first.get_by_role("link", name="Log in").first.click()
    first.get_by_label("Username").fill("sam")
    first.get_by_label("Password").fill("correct-horse-battery")
    first.get_by_role("button", name="Log in").click()
    expect(first.get_by_text("Commenting as Sam Carter.")).to_be_visible()
    first.get_by_label("Comment", exact=True).fill("Written before the other tab logged in again")

    # A second tab of the same browser logs out and back in.
    second = first.context.new_page()
    second.goto("/ui/issues/")
    second.get_by_role("button", name="Log out").click()
    second.goto("/accounts/login/")
    second.get_by_label("Username").fill("sam")
    second.get_by_label("Password").fill("correct-horse-battery")
    second.get_by_role("button", name="Log in").click()
    expect(second.locator(".nav-user")).to_contain_text("Sam Carter")

    first.get_by_role("button", name="Comment", exact=True).click()
    expect(first.get_by_role("heading", level=1)).to_have_text("Your form was not sent")
    expect(first.get_by_label("Comment")).to_have_value(
        "Written before the other tab logged in again"
    )
    assert not Comment.objects.exists()
