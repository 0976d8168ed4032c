"""The API's JSON parser (api/parsers.py): lone surrogates, nesting and body size on every
JSON write endpoint. Each refusal names what is wrong and writes nothing."""

from __future__ import annotations

import json
from typing import cast

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tracker import services
from tracker.api.parsers import JSON_MAX_BYTES, JSON_MAX_DEPTH
from tracker.models import Comment, Issue, IssueEvent, IssueLabel, Label, User

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def snapshot() -> tuple:
    return (
        list(User.objects.order_by("id").values_list("id", "name")),
        list(Issue.objects.order_by("id").values_list("id", "version", "title", "status")),
        list(Label.objects.order_by("id").values_list("id", "name")),
        Comment.objects.count(),
        IssueEvent.objects.count(),
        IssueLabel.objects.count(),
    )


@pytest.fixture
def ids() -> dict[str, int]:
    author = UserFactory.create(name="Author")
    issue = services.issue_create(title="Existing", labels=["old"])
    return {"issue": issue.pk, "author": author.pk}


# Every endpoint that takes JSON: method, path, a valid body, and the field the tests spoil.
ENDPOINTS = {
    "create user": ("POST", "/users", {"name": "Bob"}, "name"),
    "create issue": ("POST", "/issues", {"title": "T", "labels": ["a"]}, "status"),
    "update issue": ("PATCH", "/issues/{issue}", {"version": 1, "title": "T2"}, "title"),
    "replace labels": ("PUT", "/issues/{issue}/labels", {"labels": ["a"]}, "labels"),
    "add comment": ("POST", "/issues/{issue}/comments", {"body": "Hi"}, "body"),
    "bulk status": ("POST", "/issues/bulk-status", {"issue_ids": [], "status": "closed"}, "status"),
}


def send(api, endpoint: str, ids: dict[str, int], raw: str | bytes, path_suffix: str = ""):
    method, path, _, _ = ENDPOINTS[endpoint]
    data = raw.encode() if isinstance(raw, str) else raw
    return api.generic(
        method, path.format(**ids) + path_suffix, data, content_type="application/json"
    )


def valid_body(endpoint: str, ids: dict[str, int]) -> dict:
    body = dict(cast(dict, ENDPOINTS[endpoint][2]))
    if endpoint == "add comment":
        body["author_id"] = ids["author"]
    if endpoint == "bulk status":
        body["issue_ids"] = [ids["issue"]]
    return body


def test_the_valid_bodies_are_accepted(api, ids):
    for endpoint in ENDPOINTS:
        response = send(api, endpoint, ids, json.dumps(valid_body(endpoint, ids)))
        assert response.status_code in (200, 201), (endpoint, response.json())


# --- Lone surrogates: valid JSON, but no character


# Where the surrogate goes: (how to spoil the body, the field the error must name).
PLACES = {
    "a field's value": (lambda body, field: {**body, field: "x\ud800"}, None),
    "a key": (lambda body, field: {"\ud800": 1, **body}, "\\ud800"),
    "a list item": (lambda body, field: {**body, field: ["ok", "\udfff"]}, None),
    "a nested key": (lambda body, field: {**body, field: [{"\udc00": 1}]}, None),
    "a nested value": (lambda body, field: {**body, field: {"a": [{"b": "\udbff"}]}}, None),
}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_lone_surrogate_anywhere_is_a_400_naming_the_field(api, ids, endpoint, place):
    spoil, named = PLACES[place]
    field = ENDPOINTS[endpoint][3]
    # json.dumps writes the surrogate as the escape a client sends: "\ud800".
    raw = json.dumps(spoil(valid_body(endpoint, ids), field))
    before = snapshot()

    response = send(api, endpoint, ids, raw)

    assert response.status_code == 400
    body = json.loads(response.content.decode("utf-8"))  # valid UTF-8: nothing raw echoed
    assert body["code"] == "invalid_character"
    [(error_field, [message])] = body["errors"].items()
    assert error_field == (named or field)
    assert "contains a character that is not allowed (\\u" in message
    assert body["detail"] == message
    assert snapshot() == before


def test_a_surrogate_in_a_body_that_is_not_an_object(api, ids):
    response = send(api, "create issue", ids, '["\\ud800"]')
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "non_field_errors": ["The body contains a character that is not allowed (\\ud800)"]
    }


def test_a_surrogate_pair_is_one_character_and_welcome(api, ids):
    response = send(api, "create issue", ids, '{"title": "smile \\ud83d\\ude00"}')
    assert response.status_code == 201
    assert response.json()["title"] == "smile \U0001f600"


# --- Nesting


def nested(levels: int) -> str:
    """An object `levels` deep: {"a": {"a": ... 1 ...}}."""
    return '{"a": ' * levels + "1" + "}" * levels


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 1_000 + "]" * 1_000,
        "[" * 100_000,  # not even closed: refused before the parser could fail on it
        nested(JSON_MAX_DEPTH + 1),
        '{"title": "T", "labels": ' + "[" * JSON_MAX_DEPTH + "]" * JSON_MAX_DEPTH + "}",
    ],
    ids=["lists 1000 deep", "100000 open brackets", "objects 33 deep", "33 deep inside a field"],
)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_json_nested_deeper_than_the_limit_is_a_400(api, ids, endpoint, raw):
    before = snapshot()
    response = send(api, endpoint, ids, raw)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "JSON nesting is deeper than the limit of 32 levels",
        "code": "too_deeply_nested",
    }
    assert snapshot() == before


def test_json_nested_to_the_limit_reaches_the_shape_checks(api, ids):
    response = send(api, "create issue", ids, nested(JSON_MAX_DEPTH))
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_field"  # parsed; `a` is no field


# --- Body size


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_json_body_over_1_mb_is_a_413(api, ids, endpoint):
    field = ENDPOINTS[endpoint][3]
    raw = json.dumps({**valid_body(endpoint, ids), field: "x" * JSON_MAX_BYTES})
    before = snapshot()
    response = send(api, endpoint, ids, raw)
    assert response.status_code == 413
    assert response.json() == {
        "detail": "Request body too large (max 1,048,576 bytes of JSON)",
        "code": "request_too_large",
    }
    assert snapshot() == before


def test_a_json_body_just_under_1_mb_is_read_and_checked(api, ids):
    raw = json.dumps({"title": "T", "description": "x" * (JSON_MAX_BYTES - 100)})
    assert len(raw) <= JSON_MAX_BYTES
    response = send(api, "create issue", ids, raw)
    assert response.status_code == 400
    assert response.json()["errors"] == {"description": ["Description is too long (max 65536)"]}


def test_the_size_limit_counts_bytes_not_characters(api, ids):
    raw = json.dumps({"title": "T", "description": "é" * 600_000}, ensure_ascii=False)
    assert len(raw) < JSON_MAX_BYTES < len(raw.encode())
    assert send(api, "create issue", ids, raw).status_code == 413


def test_csv_uploads_over_1_mb_keep_their_own_limit(api, settings):
    settings.TRACKER_IMPORT_MAX_BYTES = 4 * 1024 * 1024
    row = "issue,{}\n".format("d" * 60_000).encode()
    data = b"title,description\n" + row * 20
    assert len(data) > JSON_MAX_BYTES
    upload = SimpleUploadedFile("big.csv", data, content_type="text/csv")
    response = api.post("/issues/import", {"file": upload}, format="multipart")
    assert response.status_code == 200
    assert response.json()["created"] == 20


# --- Other malformed JSON stays a plain 400


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"title": NaN}', b"\xff\xfe{}", b'{"title": "T"} trailing'],
    ids=["truncated", "NaN", "not UTF-8", "trailing data"],
)
def test_malformed_json_is_a_parse_error(api, ids, raw):
    before = snapshot()
    response = send(api, "create issue", ids, raw)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert snapshot() == before
