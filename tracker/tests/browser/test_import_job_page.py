"""A large file on the import page runs as a background job on a real worker: after the
confirmation the page shows a progress bar that moves, then the result with the download of
the failed rows."""

from __future__ import annotations

import csv

import pytest

from tracker.imports.uploads import StoredUpload
from tracker.models import Issue, Job, JobFileChunk

from ..workers import running_worker
from .conftest import axe_violations, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


ROWS = 100_000
PROGRESS_MOVED = """() => {
  const bar = document.querySelector("progress");
  return bar !== null && bar.value > 0 && bar.value < bar.max;
}"""


def test_a_large_import_shows_its_progress_then_its_result(page, tmp_path, monkeypatch):
    monkeypatch.setattr(StoredUpload, "directory", tmp_path / "imports")
    source = tmp_path / "big.csv"
    with source.open("w", encoding="utf-8", newline="") as out:
        out.write("title,status,labels\n,open,\n")  # row 1 fails
        for n in range(2, ROWS + 1):
            out.write(f"Issue {n},open,bulk\n")
    page.set_default_timeout(60_000)

    page.goto("/ui/import/")
    page.get_by_label("CSV file").set_input_files(str(source))
    page.get_by_role("button", name="Upload and check").click()
    page.wait_for_url("**/ui/import/preview/")
    page.get_by_role("button", name=f"Import {ROWS - 1} issues").click()

    # No worker yet: the job waits, and the page says so.
    page.wait_for_url("**/ui/import/progress/")
    bar = page.get_by_label("Rows read")
    assert bar.get_attribute("value") == "0"
    assert bar.get_attribute("max") == str(ROWS)
    assert "queued" in page.locator("#import-progress-text").inner_text()
    assert axe_violations(page) == []
    assert Job.objects.get().status == "queued"
    assert not Issue.objects.exists()

    with running_worker():
        page.wait_for_function(PROGRESS_MOVED, timeout=120_000)
        screenshot(page, "import-progress")
        assert "running" in page.locator("#import-progress-text").inner_text()
        page.wait_for_url("**/ui/import/result/", timeout=180_000)

    messages = page.locator(".messages").inner_text()
    assert f"Imported {ROWS - 1:,} issues; 1 rows were not imported." in messages
    assert Issue.objects.count() == ROWS - 1
    assert not JobFileChunk.objects.filter(kind="upload").exists()
    assert axe_violations(page) == []
    screenshot(page, "import-job-result")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download rows with errors (CSV)").click()
    download = download_info.value
    assert download.suggested_filename == "big-errors.csv"
    saved = tmp_path / "errors.csv"
    download.save_as(saved)
    with saved.open(newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [
            ["title", "status", "labels", "row", "error"],
            ["", "open", "", "1", "Title is required"],
        ]
