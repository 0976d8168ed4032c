"""axe-core's checks on the pages as a person sees them, with their flash messages, form
errors and error pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tracker import selectors, services
from tracker.imports.uploads import StoredUpload
from tracker.models import Issue
from tracker.tests.factories import UserFactory

from .conftest import axe_violations as violations
from .conftest import screenshot


@pytest.mark.parametrize(
    "path",
    [
        "/ui/issues/",
        "/ui/issues/new/",
        "/ui/issues/{id}/",
        "/ui/issues/{id}/edit/",
        "/ui/people/",
        "/ui/reports/",
        "/ui/import/",
        "/accounts/login/",
    ],
)
def test_pages_pass_axe(page, path):
    alice = UserFactory.create(name="Alice")
    issue = services.issue_create(title="Checked", labels=["bug"], assignee_id=alice.pk)
    services.comment_add(issue_id=issue.pk, author_id=alice.pk, body="Seen")
    page.goto(path.format(id=issue.pk))
    assert violations(page) == []


def test_flash_messages_pass_axe(page):
    open_issue = services.issue_create(title="Open one")
    closed = services.issue_create(title="Closed one", status="closed")

    page.goto("/ui/issues/new/")
    page.get_by_label("Title").fill("Made here")
    page.get_by_role("button", name="Create issue").click()
    expect(page.locator(".messages[role=status] .message.success")).to_have_text(
        f"Issue #{Issue.objects.latest('id').pk} created."
    )
    assert violations(page) == []

    page.goto("/ui/issues/")
    page.get_by_label(f"Select issue #{open_issue.pk}").check()
    page.get_by_label(f"Select issue #{closed.pk}").check()
    page.get_by_label("Set selected issues to").select_option(label="Closed")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page.locator(".messages .message.error")).to_contain_text("Nothing was changed")
    assert violations(page) == []
    assert Issue.objects.get(pk=open_issue.pk).status == "open"


def test_a_refused_upload_passes_axe(page, tmp_path, monkeypatch):
    monkeypatch.setattr(StoredUpload, "directory", tmp_path / "imports")
    source = tmp_path / "people.csv"
    source.write_text("name\nAlice\n", encoding="utf-8")
    page.goto("/ui/import/")
    page.get_by_label("CSV file").set_input_files(str(source))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("[role=alert] .errorlist")).to_contain_text("no 'title' column")
    assert violations(page) == []
    assert not Issue.objects.exists()


def test_the_error_pages_pass_axe(page, monkeypatch):
    response = page.goto("/ui/issues/999999/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Issue not found")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("People")
    screenshot(page, "error-404")
    assert violations(page) == []

    def broken(**kwargs):
        raise RuntimeError("broken on purpose")

    monkeypatch.setattr(selectors, "issue_list", broken)
    response = page.goto("/ui/issues/")
    assert response.status == 500
    expect(page.get_by_role("heading", level=1)).to_have_text("Something went wrong on our side")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("People")
    screenshot(page, "error-500")
    assert violations(page) == []
