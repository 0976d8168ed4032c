"""The issue pages in a real browser: forms, two tabs in conflict, comments, labels, bulk
changes, logging in and out, escaping, and a phone-sized window."""

from __future__ import annotations

import re

from playwright.sync_api import Dialog, expect

from tracker import services
from tracker.models import Comment, Issue, User
from tracker.tests.factories import UserFactory

from .conftest import screenshot

PHONE = {"width": 375, "height": 740}


def success(page):
    return page.locator(".message.success")


def test_create_an_issue_through_the_form(page):
    UserFactory.create(name="Alice")
    services.label_save(name="bug", color="#d73a4a")
    services.label_save(name="docs", color="#0075ca")
    page.goto("/ui/issues/new/")
    screenshot(page, "issue-new")
    page.get_by_label("Title").fill("Checkout button does nothing")
    page.get_by_label("Description").fill("Click it twice.\nNothing happens.")
    page.get_by_label("Status").select_option(label="In progress")
    page.get_by_label("Assignee").select_option(label="Alice")
    page.get_by_label("bug", exact=True).check()
    page.get_by_label("New labels").fill("payments, frontend")
    page.get_by_role("button", name="Create issue").click()

    expect(success(page)).to_have_text(re.compile(r"Issue #\d+ created\."))
    expect(page.locator("h1")).to_contain_text("Checkout button does nothing")
    expect(page.locator(".issue-side")).to_contain_text("Alice")
    expect(page.locator(".issue-side .chips")).to_contain_text("bug")
    expect(page.locator(".issue-side .chips")).to_contain_text("payments")
    expect(page.locator(".timeline")).to_contain_text("Someone opened this issue")
    screenshot(page, "issue-detail")
    issue = Issue.objects.get()
    assert (issue.status, issue.description) == ("in_progress", "Click it twice.\nNothing happens.")


def test_a_blank_title_is_refused_with_the_service_message(page):
    page.goto("/ui/issues/new/")
    page.get_by_label("Description").fill("Kept after the error")
    page.get_by_role("button", name="Create issue").click()
    expect(page.locator(".has-error")).to_contain_text("Title is required")
    expect(page.get_by_label("Description")).to_have_value("Kept after the error")
    screenshot(page, "issue-new-error")


def test_edit_from_two_tabs_and_apply_mine_over_theirs(new_page):
    issue = services.issue_create(title="Shared title", description="Original text")
    first, second = new_page(), new_page()
    for tab in (first, second):
        tab.goto(f"/ui/issues/{issue.pk}/edit/")

    screenshot(first, "issue-edit")
    first.get_by_label("Title").fill("Title from the first tab")
    first.get_by_role("button", name="Save changes").click()
    expect(success(first)).to_have_text(f"Issue #{issue.pk} updated.")

    second.get_by_label("Status").select_option(label="In progress")
    second.get_by_label("Description").fill("Text from the second tab")
    second.get_by_role("button", name="Save changes").click()
    expect(second.locator("h1")).to_have_text("Someone else changed this issue")
    expect(second.locator(".timeline")).to_contain_text(
        "changed the title from Shared title to Title from the first tab"
    )
    expect(second.locator("table.conflict")).to_contain_text("Text from the second tab")
    expect(second.locator("table.conflict")).to_contain_text("Original text")
    screenshot(second, "issue-conflict")

    second.get_by_role("button", name="Apply my changes").click()
    expect(success(second)).to_have_text(f"Issue #{issue.pk} updated.")
    issue.refresh_from_db()
    # Both tabs' changes survive: the second tab re-sent only the fields it changed.
    assert (issue.title, issue.status, issue.description, issue.version) == (
        "Title from the first tab",
        "in_progress",
        "Text from the second tab",
        3,
    )


def test_edit_from_two_tabs_and_start_again_from_theirs(new_page):
    issue = services.issue_create(title="Shared title")
    first, second = new_page(), new_page()
    for tab in (first, second):
        tab.goto(f"/ui/issues/{issue.pk}/edit/")
    first.get_by_label("Title").fill("Theirs")
    first.get_by_role("button", name="Save changes").click()
    expect(success(first)).to_be_visible()

    second.get_by_label("Title").fill("Mine")
    second.get_by_role("button", name="Save changes").click()
    second.get_by_role("link", name="Start again from theirs").click()
    expect(second.get_by_label("Title")).to_have_value("Theirs")
    second.get_by_label("Title").fill("Theirs, then mine")
    second.get_by_role("button", name="Save changes").click()
    expect(success(second)).to_be_visible()
    issue.refresh_from_db()
    assert issue.title == "Theirs, then mine"


def test_comment_on_an_issue(page):
    UserFactory.create(name="Alice")
    issue = services.issue_create(title="Needs discussion")
    page.goto(f"/ui/issues/{issue.pk}/")
    page.get_by_label("Comment as").select_option(label="Alice")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(page.locator(".comment-form")).to_contain_text("Empty comment")

    page.get_by_label("Comment", exact=True).fill("I can reproduce this on Firefox.")
    page.get_by_role("button", name="Comment", exact=True).click()
    expect(success(page)).to_have_text("Comment added.")
    expect(page.locator("article.comment")).to_contain_text("I can reproduce this on Firefox.")
    expect(page.locator(".timeline")).to_contain_text("Alice commented")
    assert Comment.objects.get().author.name == "Alice"


def test_labels_from_two_tabs_keep_both_peoples_additions(new_page):
    issue = services.issue_create(title="Label race", labels=["docs"])
    liam, maya = new_page(), new_page()
    for tab in (liam, maya):
        tab.goto(f"/ui/issues/{issue.pk}/")
        tab.get_by_text("Edit labels").click()
    liam.get_by_label("New labels").fill("urgent")
    liam.get_by_role("button", name="Save labels").click()
    expect(success(liam)).to_have_text("Labels saved: docs, urgent.")

    maya.get_by_label("New labels").fill("regression")
    maya.get_by_label("docs").uncheck()
    maya.get_by_role("button", name="Save labels").click()
    expect(maya.locator("h1")).to_have_text("Someone else changed this issue")
    # Maya's change is "remove docs, add regression", applied over Liam's labels.
    expect(maya.locator("table.conflict")).to_contain_text("urgent, regression")
    maya.get_by_role("button", name="Apply my changes").click()
    expect(success(maya)).to_contain_text("Labels saved:")
    assert sorted(issue.labels.values_list("name", flat=True)) == ["regression", "urgent"]


def test_change_labels_in_one_step(page):
    services.label_save(name="bug", color="#d73a4a")
    services.label_save(name="docs", color="#0075ca")
    issue = services.issue_create(title="Label me", labels=["docs"])
    page.goto(f"/ui/issues/{issue.pk}/")
    page.get_by_text("Edit labels").click()
    page.get_by_label("docs", exact=True).uncheck()
    page.get_by_label("bug", exact=True).check()
    page.get_by_label("New labels").fill("needs review")
    screenshot(page, "issue-labels-edit")
    page.get_by_role("button", name="Save labels").click()
    expect(success(page)).to_have_text("Labels saved: bug, needs review.")
    chips = page.locator(".issue-side .chips")
    expect(chips).to_contain_text("bug")
    expect(chips).not_to_contain_text("docs")
    expect(page.locator(".timeline")).to_contain_text("added bug, needs review and removed docs")


def test_bulk_close_from_the_list_and_a_refused_change(page):
    first = services.issue_create(title="First to close")
    second = services.issue_create(title="Second to close")
    services.issue_create(title="Stays open")
    page.goto("/ui/issues/")
    screenshot(page, "issue-list")
    # Keyboard only: space ticks a focused box.
    page.get_by_label(f"Select issue #{first.pk}").press("Space")
    page.get_by_label(f"Select issue #{second.pk}").check()
    page.get_by_label("Set selected issues to").select_option(label="Closed")
    page.get_by_role("button", name="Apply to selected").click()
    expect(success(page)).to_have_text("2 issues set to Closed.")
    expect(page.locator(".tabs")).to_contain_text("Closed 2")

    page.get_by_label(f"Select issue #{first.pk}").check()
    page.get_by_label("Set selected issues to").select_option(label="Closed")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page.locator(".message.error")).to_have_text(
        f"Nothing was changed: Issue {first.pk} already closed."
    )
    screenshot(page, "issue-list-bulk-refused")
    assert Issue.objects.filter(status="closed").count() == 2


def test_filter_by_two_statuses_and_apply_keeps_both(page):
    services.issue_create(title="Alpha open")
    services.issue_create(title="Beta in progress", status="in_progress")
    services.issue_create(title="Gamma closed", status="closed")
    page.goto("/ui/issues/?status=open&status=in_progress")
    statuses = page.get_by_role("group", name="Status")
    expect(statuses.get_by_label("Open")).to_be_checked()
    expect(statuses.get_by_label("In progress")).to_be_checked()
    expect(statuses.get_by_label("Closed")).not_to_be_checked()
    screenshot(page, "issue-list-two-statuses")

    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page).to_have_url(re.compile(r"status=open&status=in_progress"))
    expect(statuses.get_by_label("Open")).to_be_checked()
    expect(statuses.get_by_label("In progress")).to_be_checked()
    rows = page.locator("table.issues tbody")
    expect(rows).to_contain_text("Alpha open")
    expect(rows).to_contain_text("Beta in progress")
    expect(rows).not_to_contain_text("Gamma closed")

    statuses.get_by_label("Open").uncheck()
    statuses.get_by_label("Closed").check()
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page).to_have_url(re.compile(r"status=in_progress&status=closed"))
    expect(rows).not_to_contain_text("Alpha open")
    expect(rows).to_contain_text("Gamma closed")


def test_editing_an_issue_of_a_deactivated_person_keeps_them_assigned(page):
    UserFactory.create(name="zoë")
    UserFactory.create(name="Bob")
    gone = UserFactory.create(name="Gone", is_active=False)
    issue = services.issue_create(title="Old work", assignee_id=gone.pk)
    page.goto(f"/ui/issues/{issue.pk}/edit/")
    picker = page.get_by_label("Assignee")
    expect(picker.locator("option:checked")).to_have_text("Gone (deactivated)")
    expect(picker.locator("option")).to_have_text(["Nobody", "Bob", "Gone (deactivated)", "zoë"])
    page.get_by_label("Title").fill("Old work, renamed")
    page.get_by_role("button", name="Save changes").click()
    expect(success(page)).to_have_text(f"Issue #{issue.pk} updated.")
    expect(page.locator(".issue-side")).to_contain_text("Gone")
    issue.refresh_from_db()
    assert (issue.title, issue.assignee_id) == ("Old work, renamed", gone.pk)

    page.goto("/ui/issues/new/")
    expect(page.get_by_label("Assignee").locator("option")).to_have_text(["Nobody", "Bob", "zoë"])


def test_select_every_issue_on_the_page(page):
    for n in range(3):
        services.issue_create(title=f"Issue {n}")
    page.goto("/ui/issues/")
    page.get_by_label("Select every issue on this page").check()
    page.get_by_label("Set selected issues to").select_option(label="In progress")
    page.get_by_role("button", name="Apply to selected").click()
    expect(success(page)).to_have_text("3 issues set to In progress.")


def test_log_in_and_out_when_logins_are_required(page, settings):
    settings.TRACKER_REQUIRE_AUTH = True
    User.objects.create_user("sam", "correct-horse-battery", name="Sam Carter")
    issue = services.issue_create(title="Guarded issue")
    page.goto(f"/ui/issues/{issue.pk}/")
    expect(page.get_by_text("Log in to comment")).to_be_visible()
    page.goto("/ui/issues/new/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/ui/issues/new/"))
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill("correct-horse-battery")
    screenshot(page, "login")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/ui/issues/new/$"))
    expect(success(page)).to_have_text("Logged in as Sam Carter.")
    expect(page.locator(".nav-user")).to_contain_text("Sam Carter")
    page.get_by_label("Title").fill("Filed while logged in")
    page.get_by_role("button", name="Create issue").click()
    expect(success(page)).to_be_visible()
    expect(page.locator(".timeline")).to_contain_text("Sam Carter opened this issue")
    expect(page.get_by_text("Commenting as Sam Carter.")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    expect(page.locator(".message.info")).to_have_text("Logged out.")
    expect(page.locator(".nav-user")).to_contain_text("Log in")
    page.goto("/ui/issues/new/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_a_script_title_stays_text(page):
    script = "<script>alert(1)</script>"
    services.label_save(name=script, color="#ffffff")
    issue = services.issue_create(title=script, description=script, labels=[script])
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto("/ui/issues/")
    expect(page.get_by_role("link", name=script)).to_be_visible()
    page.goto(f"/ui/issues/{issue.pk}/")
    expect(page.locator(".issue-title")).to_have_text(script)
    expect(page.locator(".issue-side .chips")).to_have_text(script)
    screenshot(page, "issue-script-title")
    assert dialogs == []


def test_pages_fit_a_phone_sized_window(new_page):
    alice = UserFactory.create(name="Alice")
    services.label_save(name="bug", color="#d73a4a")
    issue = services.issue_create(
        title="A fairly long title that has to wrap on a narrow phone screen",
        description="Some words.",
        assignee_id=alice.pk,
        labels=["bug", "needs triage"],
    )
    services.comment_add(issue_id=issue.pk, author_id=alice.pk, body="Looks right to me.")
    page = new_page(viewport=PHONE)
    for url, name in [
        ("/ui/issues/", "issue-list-phone"),
        (f"/ui/issues/{issue.pk}/", "issue-detail-phone"),
        ("/ui/issues/new/", "issue-new-phone"),
    ]:
        page.goto(url)
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(page, name)
        assert fits, f"{url} scrolls sideways at 375px"
