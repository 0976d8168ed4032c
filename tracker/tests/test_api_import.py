"""POST /issues/import: the wiring of the CSV import to the API (the rules themselves are
tested in test_csv_import.py)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from tracker.models import Issue, IssueEvent, User

pytestmark = pytest.mark.django_db

URL = "/issues/import"
SEED_CSV = (
    b"title,assignee_id,status\n"
    b"Login bug,1,open\nPayment issue,2,closed\n,1,open\nInvalid user,999,open\n"
)
SEED_RESPONSE = {
    "total_rows": 4,
    "created": 2,
    "failed": 2,
    "errors": [
        {"row": 3, "error": "Title is required"},
        {"row": 4, "error": "Invalid assignee_id"},
    ],
}


@pytest.fixture
def seed_users() -> None:
    User.objects.create(id=1, name="Alice")
    User.objects.create(id=2, name="Bob")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('users', 'id'), "
            "GREATEST(2, (SELECT last_value FROM users_id_seq)))"
        )


def upload(data: bytes, name: str = "issues.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


@pytest.mark.parametrize("path", [URL, f"{URL}/"])
def test_seed_example_gives_the_seed_response(api, seed_users, path):
    response = api.post(path, {"file": upload(SEED_CSV)}, format="multipart")
    assert response.status_code == 200
    body = response.json()
    seed_keys = {key: body[key] for key in ("total_rows", "created", "failed")}
    seed_keys["errors"] = [{"row": e["row"], "error": e["error"]} for e in body["errors"]]
    assert seed_keys == SEED_RESPONSE
    assert [e["field"] for e in body["errors"]] == ["title", "assignee_id"]
    assert (body["ignored_columns"], body["dry_run"]) == ([], False)
    assert Issue.objects.count() == 2
    assert set(IssueEvent.objects.values_list("source", flat=True)) == {"import"}


def test_dry_run_returns_the_same_summary_and_writes_nothing(api, seed_users):
    response = api.post(f"{URL}?dry_run=true", {"file": upload(SEED_CSV)}, format="multipart")
    assert response.status_code == 200
    assert response.json()["created"] == 2
    assert response.json()["dry_run"] is True
    assert not Issue.objects.exists()


def test_ignored_columns_are_listed(api):
    response = api.post(URL, {"file": upload(b"Title, Severity\nx,high\n")}, format="multipart")
    assert response.json()["ignored_columns"] == ["Severity"]


@pytest.mark.parametrize(
    ("data", "status", "code", "detail_part"),
    [
        (None, 400, "no_file", "No file uploaded"),
        (b"", 400, "empty_file", "The file is empty"),
        (b"name\nx\n", 400, "missing_title_column", "no 'title' column"),
        (b"title\ncaf\xe9\n", 400, "not_utf8", "not UTF-8"),
        (b"PK\x03\x04\x14\x00 xlsx", 400, "not_csv", "not a CSV file"),
        (b"title\n" + b"x\n" * 100, 413, "file_too_large", "larger than the limit"),
    ],
)
def test_bad_files_are_clear_errors(api, settings, data, status, code, detail_part):
    settings.TRACKER_IMPORT_MAX_BYTES = 100
    body = {} if data is None else {"file": upload(data)}
    response = api.post(URL, body, format="multipart")
    assert response.status_code == status
    assert response.json()["code"] == code
    assert detail_part in response.json()["detail"]
    assert not Issue.objects.exists()


def test_bad_dry_run_value_is_a_400(api):
    response = api.post(f"{URL}?dry_run=perhaps", {"file": upload(b"title\nx\n")}, "multipart")
    assert response.status_code == 400
    assert not Issue.objects.exists()


def test_json_body_is_415(api):
    response = api.post(URL, {"file": "title\nx\n"}, format="json")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_authenticated_import_records_the_actor(api, login_user):
    api.force_authenticate(login_user)
    api.post(URL, {"file": upload(b"title\nx\n")}, format="multipart")
    assert IssueEvent.objects.get().actor == login_user


def test_require_auth_refuses_anonymous_imports(api, settings):
    settings.TRACKER_REQUIRE_AUTH = True
    response = api.post(URL, {"file": upload(b"title\nx\n")}, format="multipart")
    assert response.status_code in (401, 403)
    assert not Issue.objects.exists()


def test_query_count_does_not_grow_with_rows(api, django_assert_max_num_queries):
    def post(rows: int) -> int:
        data = b"title,status\n" + b"".join(b"issue %d,closed\n" % n for n in range(rows))
        return api.post(URL, {"file": upload(data)}, format="multipart").json()["created"]

    with django_assert_max_num_queries(8) as captured:
        assert post(50) == 50
    with django_assert_max_num_queries(len(captured.captured_queries)):
        assert post(500) == 500


def test_openapi_documents_the_multipart_upload(api):
    schema = api.get("/openapi.json").json()
    operation = schema["paths"]["/issues/import"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert {p["name"] for p in operation["parameters"]} == {"dry_run", "Prefer"}
    assert {"200", "202", "400", "413"} <= set(operation["responses"])
    accepted = operation["responses"]["202"]
    assert set(accepted["headers"]) == {"Location", "Preference-Applied"}
    assert accepted["content"]["application/json"]["schema"]["$ref"].endswith("/JobOutput")


def test_an_oversized_upload_is_not_received(api, settings, monkeypatch):
    from django.core.files.uploadhandler import TemporaryFileUploadHandler

    settings.TRACKER_IMPORT_MAX_BYTES = 100
    written = []
    real = TemporaryFileUploadHandler.receive_data_chunk

    def receive_data_chunk(self, raw_data, start):
        written.append(len(raw_data))
        return real(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", receive_data_chunk)
    big = SimpleUploadedFile("big.csv", b"title\n" + b"x\n" * 3_000_000, content_type="text/csv")
    response = api.post("/issues/import", {"file": big}, format="multipart")
    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert written == []
