"""The CSV import page: upload, preview, confirm, result, error download, cancel."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tracker.imports.uploads import StoredUpload
from tracker.models import Issue, IssueEvent
from tracker.views import imports

from .factories import UserFactory

pytestmark = pytest.mark.django_db

CSV_WITH_ERRORS = b"title,assignee_id,notes\nGood one,,a\n,,b\nBad user,999999,c\nAnother,,d\n"


@pytest.fixture(autouse=True)
def import_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(StoredUpload, "directory", tmp_path)
    return tmp_path


def upload(client, data: bytes = CSV_WITH_ERRORS, name: str = "issues.csv"):
    return client.post(
        "/ui/import/", {"file": SimpleUploadedFile(name, data, content_type="text/csv")}
    )


def texts(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_upload_page_has_a_labelled_file_field_and_csrf(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        response = client.get("/ui/import/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_file">CSV file</label>' in html
    assert "csrfmiddlewaretoken" in html
    assert 'aria-current="page">Import' in html
    assert "js/import.js" in html


def test_upload_previews_the_dry_run_and_writes_nothing(client, import_dir):
    response = upload(client)
    assert response.status_code == 302
    assert response["Location"] == "/ui/import/preview/"
    assert not Issue.objects.exists()
    assert len(list(import_dir.glob("*.errors.csv"))) == 1

    response = client.get("/ui/import/preview/")
    html = response.content.decode()
    assert response.context["state"]["created"] == 2
    assert response.context["state"]["failed"] == 2
    assert "Title is required" in html
    assert "Invalid assignee_id" in html
    assert "Import 2 issues" in html
    assert "Ignored columns: notes" in html
    assert any("nothing is imported until you confirm" in m for m in texts(response))


def test_error_download_has_the_original_columns_plus_row_and_error(client):
    upload(client)
    response = client.get("/ui/import/errors.csv")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="issues-errors.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["title", "assignee_id", "notes", "row", "error"],
        ["", "", "b", "2", "Title is required"],
        ["Bad user", "999999", "c", "3", "Invalid assignee_id"],
    ]


def test_confirm_imports_and_shows_the_result(client, import_dir):
    upload(client)
    token = client.session[imports.SESSION_KEY]["token"]
    response = client.post("/ui/import/confirm/", {"token": token})
    assert response.status_code == 302
    assert response["Location"] == "/ui/import/result/"
    assert sorted(Issue.objects.values_list("title", flat=True)) == ["Another", "Good one"]
    assert set(IssueEvent.objects.values_list("source", flat=True)) == {"import"}
    # The upload is gone; the error report stays for the download on the result page.
    assert [p.name for p in import_dir.iterdir()] == [f"{token}.errors.csv"]

    response = client.get("/ui/import/result/")
    assert response.context["state"]["created"] == 2
    assert "Imported 2 issues; 2 rows were not imported." in texts(response)
    assert client.get("/ui/import/errors.csv").status_code == 200
    # Confirming twice imports nothing more.
    response = client.post("/ui/import/confirm/", {"token": token})
    assert response["Location"] == "/ui/import/"
    assert Issue.objects.count() == 2


def test_confirm_with_a_stale_token_is_refused(client):
    upload(client)
    response = client.post("/ui/import/confirm/", {"token": "someone-elses"}, follow=True)
    assert "This import is no longer waiting; upload the file again." in texts(response)
    assert not Issue.objects.exists()


def test_another_session_cannot_see_the_upload(client, django_user_model):
    from django.test import Client

    upload(client)
    other = Client()
    assert other.get("/ui/import/errors.csv").status_code == 404
    assert other.get("/ui/import/preview/")["Location"] == "/ui/import/"


def test_cancel_removes_the_files(client, import_dir):
    upload(client)
    response = client.post("/ui/import/cancel/", follow=True)
    assert "Import cancelled: nothing was imported." in texts(response)
    assert not list(import_dir.iterdir())
    assert not Issue.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"name\nx\n", "The header has no 'title' column (found: name)"),
        (b"title\ncaf\xe9\n", "The file is not UTF-8 text"),
        (b"", "The submitted file is empty."),
    ],
)
def test_bad_files_show_the_reason_on_the_form(client, import_dir, data, message):
    response = upload(client, data)
    assert response.status_code == 200
    assert message in response.context["form"].errors["file"][0]
    assert not list(import_dir.iterdir())


def test_oversized_file_is_refused(client, settings):
    settings.TRACKER_IMPORT_MAX_BYTES = 10
    response = upload(client)
    assert "larger than the limit of 10 bytes" in response.content.decode()


def test_upload_and_preview_queries_do_not_grow_with_rows(client, django_assert_max_num_queries):
    def rows(n: int) -> bytes:
        return b"title,status\n" + b"".join(b"issue %d,open\n" % i for i in range(n))

    with django_assert_max_num_queries(8) as captured:
        upload(client, rows(50))
    with django_assert_max_num_queries(len(captured.captured_queries)):
        upload(client, rows(500))
    with django_assert_max_num_queries(3):
        client.get("/ui/import/preview/")


def test_user_text_is_escaped(client):
    upload(client, b"title,status\n<script>alert(1)</script>,<b>bad</b>\n")
    html = client.get("/ui/import/preview/").content.decode()
    assert "<b>bad</b>" not in html
    assert "Invalid status &#x27;&lt;b&gt;bad&lt;/b&gt;&#x27;" in html


def test_require_auth_sends_anonymous_visitors_to_log_in(client, settings):
    settings.TRACKER_REQUIRE_AUTH = True
    response = upload(client)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/ui/import/")
    assert client.get("/ui/import/")["Location"].startswith("/accounts/login/")


def test_require_auth_records_the_logged_in_user_as_actor(client, settings):
    settings.TRACKER_REQUIRE_AUTH = True
    user = UserFactory.create(name="Sam", username="sam")
    client.force_login(user)
    upload(client, b"title\nFrom Sam\n")
    client.post("/ui/import/confirm/", {"token": client.session[imports.SESSION_KEY]["token"]})
    assert IssueEvent.objects.get().actor == user
