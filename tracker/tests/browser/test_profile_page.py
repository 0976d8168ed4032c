"""The settings page (/ui/me/): a signed-in person sets their e-mail address and turns
e-mail off; the unsubscribe page from an e-mail's link."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tracker.models import User
from tracker.services import notifications
from tracker.tests.factories import UserFactory

from .conftest import axe_violations as violations
from .conftest import screenshot


def log_in(page, username: str, password: str) -> None:
    page.goto("/ui/me/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/ui/me/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/ui/me/$"))


def test_set_the_address_turn_e_mail_off_and_see_errors(page):
    User.objects.create_user("sam", "correct-horse-battery", name="Sam Carter")
    UserFactory.create(name="Ann", email="ann@example.com")
    log_in(page, "sam", "correct-horse-battery")
    expect(page.get_by_role("heading", name="Your settings")).to_be_visible()
    assert violations(page) == []

    page.get_by_label("E-mail address").fill("ANN@example.com")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#email-errors")).to_have_text(
        "Someone else already uses this e-mail address"
    )
    expect(page.get_by_label("E-mail address")).to_have_attribute("aria-invalid", "true")
    assert violations(page) == []

    page.get_by_label("E-mail address").fill(" sam@example.com ")
    page.get_by_label("E-mail me about issues").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".message.success")).to_have_text("Your e-mail settings are saved.")
    expect(page.get_by_label("E-mail address")).to_have_value("sam@example.com")
    expect(page.get_by_label("E-mail me about issues")).not_to_be_checked()
    screenshot(page, "settings page")
    assert violations(page) == []
    sam = User.objects.get(username="sam")
    assert (sam.email, sam.email_notifications) == ("sam@example.com", False)

    page.get_by_role("link", name="Sam Carter").click()
    expect(page).to_have_url(re.compile(r"/ui/me/$"))


def test_the_unsubscribe_page_asks_then_turns_e_mail_off(page, live_server):
    bob = UserFactory.create(name="Bob", email="bob@example.com")
    path = notifications.unsubscribe_url(bob).split("/ui/", 1)[1]
    page.goto(f"/ui/{path}")
    expect(page.get_by_text("Stop e-mail notifications for Bob?")).to_be_visible()
    assert violations(page) == []
    page.get_by_role("button", name="Stop e-mails").click()
    expect(page.get_by_role("status")).to_have_text("Done: Bob gets no more e-mail notifications.")
    assert violations(page) == []
    assert not User.objects.get(pk=bob.pk).email_notifications
