"""Search and export as a person uses them, at a phone's width and a desktop's: the list marks
where each result matched, the matches can be sorted by relevance, and "Export CSV" downloads
what the list shows."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from tracker import services

from ..factories import UserFactory
from .conftest import axe_violations as violations

WIDTHS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.mark.parametrize("size", WIDTHS)
def test_search_marks_matches_and_export_downloads_what_is_shown(new_page, size):
    ann = UserFactory.create(name="Ann")
    services.issue_create(title="Checkout fails", description="A KeyError in app/cart.py")
    quiet = services.issue_create(title="Slow page")
    services.comment_add(issue_id=quiet.pk, body="Also a KeyError here", author_id=ann.pk)
    services.issue_create(title="Unrelated")
    page = new_page(viewport=WIDTHS[size])

    page.goto("/ui/issues/?q=keyerror")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("p.snippet mark").first).to_have_text("KeyError")
    expect(page.get_by_text("In a comment:")).to_be_visible()
    expect(page.get_by_text("In the description:")).to_be_visible()
    assert violations(page) == []

    page.goto("/ui/issues/?q=keyerror&ordering=relevance")
    expect(rows).to_have_count(2)

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    text = download.value.path().read_text(encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(text)))
    assert sorted(row["title"] for row in exported) == ["Checkout fails", "Slow page"]
    assert download.value.suggested_filename.startswith("issues-")
