"""The CSV import page in a real browser: upload a file with errors, check the preview,
download the failed rows, confirm, and read the result."""

from __future__ import annotations

import csv

import pytest

from tracker.imports.uploads import StoredUpload
from tracker.models import Issue

from .conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

CSV_WITH_ERRORS = (
    "title,assignee_id,status,labels\n"
    "Login bug,,open,bug;ui\n"
    ",,open,\n"
    "Payment issue,,closed,\n"
    "Typo in status,,done,\n"
)


def test_import_with_errors_preview_download_confirm(page, tmp_path, monkeypatch):
    monkeypatch.setattr(StoredUpload, "directory", tmp_path / "imports")
    source = tmp_path / "issues.csv"
    source.write_text(CSV_WITH_ERRORS, encoding="utf-8")

    page.goto("/ui/import/")
    page.get_by_label("CSV file").set_input_files(str(source))
    screenshot(page, "import-upload")
    page.get_by_role("button", name="Upload and check").click()

    page.wait_for_url("**/ui/import/preview/")
    assert "nothing is imported until you confirm" in page.locator(".messages").inner_text()
    counts = page.locator(".import-counts").inner_text()
    assert "Ready to import\n2" in counts
    assert "With errors\n2" in counts
    errors = page.locator("table.import-errors tbody tr")
    assert errors.count() == 2
    assert errors.nth(0).inner_text().split("\t") == ["2", "title", "Title is required"]
    assert errors.nth(1).inner_text().split("\t") == ["4", "status", "Invalid status 'done'"]
    assert not Issue.objects.exists()
    screenshot(page, "import-preview")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download rows with errors (CSV)").click()
    download = download_info.value
    assert download.suggested_filename == "issues-errors.csv"
    saved = tmp_path / "errors.csv"
    download.save_as(saved)
    with saved.open(newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [
            ["title", "assignee_id", "status", "labels", "row", "error"],
            ["", "", "open", "", "2", "Title is required"],
            ["Typo in status", "", "done", "", "4", "Invalid status 'done'"],
        ]

    confirm = page.get_by_role("button", name="Import 2 issues")
    confirm.click()
    page.wait_for_url("**/ui/import/result/")
    assert "Imported 2 issues; 2 rows were not imported." in page.locator(".messages").inner_text()
    assert "Imported\n2" in page.locator(".import-counts").inner_text()
    assert sorted(Issue.objects.values_list("title", flat=True)) == ["Login bug", "Payment issue"]
    screenshot(page, "import-result")


def test_the_page_shows_it_is_working_while_the_file_is_sent(page, tmp_path):
    source = tmp_path / "issues.csv"
    source.write_text("title\nx\n", encoding="utf-8")
    page.goto("/ui/import/")
    busy = page.locator("#import-busy")
    assert busy.is_hidden()
    # Keep the form from leaving the page, after the page's own submit handler has run.
    page.evaluate("window.addEventListener('submit', (event) => event.preventDefault())")
    page.get_by_label("CSV file").set_input_files(str(source))
    page.get_by_role("button", name="Upload and check").click()
    busy.wait_for(state="visible")
    assert "Checking the file" in busy.inner_text()
    page.wait_for_function("document.querySelector('form button[type=submit]').disabled")
    screenshot(page, "import-working")


def test_a_bad_file_shows_the_reason_on_the_form(page, tmp_path, monkeypatch):
    monkeypatch.setattr(StoredUpload, "directory", tmp_path / "imports")
    source = tmp_path / "people.csv"
    source.write_text("name,email\nAlice,a@example.com\n", encoding="utf-8")
    page.goto("/ui/import/")
    page.get_by_label("CSV file").set_input_files(str(source))
    page.get_by_role("button", name="Upload and check").click()
    page.locator("[role=alert]").wait_for()
    assert "no 'title' column (found: name, email)" in page.locator("[role=alert]").inner_text()
    assert not Issue.objects.exists()
    screenshot(page, "import-bad-file")
