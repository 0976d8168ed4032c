"""Priority and due date as a person uses them: set on the edit page, sorted and filtered
on the list, marked overdue on the issue page; every page passing axe."""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import expect

from tracker import rules, services

from .conftest import axe_violations as violations


def test_edit_sort_filter_and_overdue(page):
    yesterday = rules.today() - timedelta(days=1)
    late = services.issue_create(title="Late one", due_date=yesterday)
    services.issue_create(title="Someday", priority="low")

    page.goto(f"/ui/issues/{late.pk}/edit/")
    page.get_by_label("Priority").select_option("urgent")
    page.get_by_role("button", name="Save").click()
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Urgent")
    expect(facts).to_contain_text("(overdue)")
    expect(page.locator("ol.timeline")).to_contain_text("changed the priority from None to Urgent")
    assert violations(page) == []

    page.goto("/ui/issues/?ordering=priority")
    expect(page.locator("tbody tr").first).to_contain_text("Late one")
    page.get_by_label("Overdue only").check()
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr").first).to_contain_text("Urgent")
    assert "overdue=true" in page.url
    assert violations(page) == []
