"""The OpenAPI document is valid, and real responses match what it promises."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tracker import services
from tracker.api.schema import not_only_white_space
from tracker.rules import clean_description
from tracker.services import webhooks

from .factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))


def assert_matches(schema: dict, path: str, method: str, response) -> None:
    operation = schema["paths"][path][method]
    documented = operation["responses"][str(response.status_code)]
    body_schema = documented["content"]["application/json"]["schema"]
    # OpenAPI 3.0 `nullable` is not JSON Schema; translate it for the validator.
    components = _nullable_to_json_schema(schema["components"])
    registry = Registry().with_resource(
        "urn:openapi",
        Resource.from_contents({"components": components}, default_specification=DRAFT202012),
    )
    Draft202012Validator(_nullable_to_json_schema(body_schema), registry=registry).validate(
        response.json()
    )


def _nullable_to_json_schema(node):
    if isinstance(node, dict):
        node = {key: _nullable_to_json_schema(value) for key, value in node.items()}
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        if "$ref" in node:
            node["$ref"] = f"urn:openapi{node['$ref']}"
        return node
    if isinstance(node, list):
        return [_nullable_to_json_schema(item) for item in node]
    return node


def test_responses_match_the_schema(api, schema):
    user = api.post("/users", {"name": "Alice"}, format="json")
    assert_matches(schema, "/users", "post", user)
    assert_matches(schema, "/users", "get", api.get("/users"))

    created = api.post(
        "/issues", {"title": "Login bug", "assignee_id": user.json()["id"]}, format="json"
    )
    assert_matches(schema, "/issues", "post", created)
    issue_id = created.json()["id"]
    services.comment_add(issue_id=issue_id, author_id=user.json()["id"], body="Seen")
    assert_matches(schema, "/issues", "get", api.get("/issues"))
    assert_matches(schema, "/issues/{issue_id}", "get", api.get(f"/issues/{issue_id}"))
    patched = api.patch(f"/issues/{issue_id}", {"status": "closed", "version": 1}, format="json")
    assert_matches(schema, "/issues/{issue_id}", "patch", patched)
    conflict = api.patch(f"/issues/{issue_id}", {"status": "open", "version": 1}, format="json")
    assert_matches(schema, "/issues/{issue_id}", "patch", conflict)
    labels = api.put(f"/issues/{issue_id}/labels", {"labels": ["bug"]}, format="json")
    assert_matches(schema, "/issues/{issue_id}/labels", "put", labels)
    comment = api.post(
        f"/issues/{issue_id}/comments", {"body": "x", "author_id": user.json()["id"]}, format="json"
    )
    assert_matches(schema, "/issues/{issue_id}/comments", "post", comment)
    timeline = api.get(f"/issues/{issue_id}/timeline")
    assert_matches(schema, "/issues/{issue_id}/timeline", "get", timeline)
    bulk = api.post(
        "/issues/bulk-status", {"issue_ids": [issue_id], "status": "open"}, format="json"
    )
    assert_matches(schema, "/issues/bulk-status", "post", bulk)
    invalid = api.post("/issues", {"title": ""}, format="json")
    assert_matches(schema, "/issues", "post", invalid)
    missing = api.get("/issues/999999")
    assert_matches(schema, "/issues/{issue_id}", "get", missing)


# --- What the schema states beyond the serializers (tracker/api/schema.py). Fuzzing with
# `make fuzz` found each of these missing; each test ties the statement to the server.


BLANK_REFUSED = not_only_white_space()


@pytest.mark.parametrize(
    "text", ["x", " a ", "\ufeff", "\x1c", "\u3000", "\t\n", "\x85", "\u00a0b", "", "\x00"]
)
def test_the_not_blank_pattern_is_what_the_services_accept(text):
    try:
        accepted = bool(clean_description(text))
    except ValidationError:
        accepted = False  # a character that is not allowed
    assert bool(re.search(BLANK_REFUSED, text)) is accepted


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_operation_documents_the_401_of_wrong_credentials_and_the_414(api, schema):
    for path, method, operation in operations(schema):
        assert {"401", "414"} <= set(operation["responses"]), f"{method} {path}"
    response = api.get("/issues", HTTP_AUTHORIZATION="Token not-a-token")
    assert response.status_code == 401
    assert_matches(schema, "/issues", "get", response)


def test_every_paginated_list_documents_the_400_of_a_bad_cursor(api, schema):
    issue = services.issue_create(title="Listed")
    lists = [
        (path, operation)
        for path, method, operation in operations(schema)
        if any(p["name"] == "cursor" for p in operation.get("parameters", []))
    ]
    assert {path for path, _ in lists} == {
        "/users",
        "/issues",
        "/issues/{issue_id}/comments",
        "/issues/{issue_id}/watchers",
        "/notifications",
        "/webhooks",
        "/webhooks/{webhook_id}/deliveries",
    }
    webhook = webhooks.webhook_create(url="https://hooks.example.com/x", secret="s")
    api.force_authenticate(UserFactory.create(name="Staff", is_staff=True))
    for path, operation in lists:
        assert "400" in operation["responses"], path
        url = path.replace("{issue_id}", str(issue.pk)).replace("{webhook_id}", str(webhook.pk))
        response = api.get(url, {"cursor": "forged"})
        assert response.status_code == 400
        assert_matches(schema, path, "get", response)


def security_of(path: str, method: str) -> list[dict]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return schema["paths"][path][method]["security"]


def test_reads_need_no_credentials_and_writes_only_when_auth_is_required(settings):
    assert {} in security_of("/issues", "get")
    assert {} in security_of("/issues", "post")
    settings.TRACKER_REQUIRE_AUTH = True
    assert {} in security_of("/issues", "get")
    post = security_of("/issues", "post")
    assert {} not in post and {"tokenAuth": []} in post


def test_request_bodies_are_json_except_the_csv_upload(schema):
    for path, method, operation in operations(schema):
        if "requestBody" in operation:
            expected = ["multipart/form-data"] if path == "/issues/import" else ["application/json"]
            assert list(operation["requestBody"]["content"]) == expected, f"{method} {path}"


@pytest.mark.parametrize(
    "component, field, limit",
    [
        ("IssueCreateInputRequest", "title", 255),
        ("IssueUpdateInputRequest", "title", 255),
        ("UserInputRequest", "name", 100),
        ("CommentInputRequest", "body", None),
    ],
)
def test_text_that_must_not_be_blank_says_so(schema, component, field, limit):
    text = schema["components"]["schemas"][component]["properties"][field]
    assert (text["minLength"], text["pattern"], text.get("maxLength")) == (1, BLANK_REFUSED, limit)


@pytest.mark.parametrize(
    "component, field",
    [
        ("UserInputRequest", "email"),
        ("UserUpdateInputRequest", "email"),
        ("IssueCreateInputRequest", "description"),
        ("IssueUpdateInputRequest", "description"),
    ],
)
def test_text_that_may_be_blank_is_valid_blank(schema, component, field):
    """What the services take for such a field, the schema allows: empty text (which
    drf-spectacular offers as a `oneOf` alternative of its own) matches exactly one."""
    text = _nullable_to_json_schema(schema["components"]["schemas"][component]["properties"][field])
    validator = Draft202012Validator(text)
    for value in ("", "some text", "a@example.com"):
        assert validator.is_valid(value), value
    assert not validator.is_valid("bell \x07")


def test_label_names_must_not_be_blank(schema):
    for component in ("IssueCreateInputRequest", "IssueLabelsInputRequest"):
        names = schema["components"]["schemas"][component]["properties"]["labels"]["items"]
        assert (names["minLength"], names["pattern"], names["maxLength"]) == (1, BLANK_REFUSED, 50)


def test_inputs_refuse_unknown_keys_and_list_the_ignored_ones(api, schema):
    update = schema["components"]["schemas"]["IssueUpdateInputRequest"]
    assert update["additionalProperties"] is False
    assert update["required"] == ["version"]
    assert {"id", "created_at", "labels"} <= set(update["properties"])
    issue = services.issue_create(title="Strict")
    ignored = api.patch(f"/issues/{issue.pk}", {"version": 1, "id": 5}, format="json")
    assert ignored.status_code == 200
    unknown = api.patch(f"/issues/{issue.pk}", {"version": 2, "titel": "x"}, format="json")
    assert unknown.json()["code"] == "unknown_field"


def query_parameter(schema: dict, path: str, name: str) -> dict:
    operation = schema["paths"][path]["get"]
    return next(p for p in operation["parameters"] if p["name"] == name)


@pytest.mark.parametrize(
    "path, name",
    [
        ("/issues", "created_after"),
        ("/issues", "created_before"),
        ("/issues", "ordering"),
        ("/issues", "per_page"),
        ("/issues", "assignee_id"),
        ("/users", "per_page"),
        ("/reports/latency", "since"),
        ("/reports/top-assignees", "limit"),
        ("/reports/created-vs-resolved", "interval"),
    ],
)
def test_an_empty_query_value_is_documented_as_ignored(api, schema, path, name):
    parameter = query_parameter(schema, path, name)
    assert {"type": "string", "maxLength": 0} in parameter["schema"]["anyOf"]
    assert parameter["description"].endswith("An empty value is ignored.")
    assert api.get(path, {name: ""}).status_code == 200


@pytest.mark.parametrize(
    "value, accepted",
    [("7", True), ("0012", True), ("none", True), ("NULL", True), ("0", False), ("x", False)],
)
def test_the_assignee_filter_pattern_matches_what_the_filter_takes(api, schema, value, accepted):
    pattern = query_parameter(schema, "/issues", "assignee_id")["schema"]["anyOf"][0]["pattern"]
    assert bool(re.search(pattern, value)) is accepted
    assert api.get("/issues", {"assignee_id": value}).status_code == (200 if accepted else 400)


def test_report_parameters_state_their_range_and_choices(api, schema):
    limit = query_parameter(schema, "/reports/top-assignees", "limit")["schema"]["anyOf"][0]
    assert (limit["minimum"], limit["maximum"]) == (1, 10_000)
    assert api.get("/reports/top-assignees", {"limit": 10_001}).status_code == 400
    interval = query_parameter(schema, "/reports/created-vs-resolved", "interval")
    assert interval["schema"]["anyOf"][0]["enum"] == ["day", "week"]
    bulk = schema["components"]["schemas"]["BulkStatusInputRequest"]["properties"]["issue_ids"]
    assert bulk["minItems"] == 1
    empty = api.post("/issues/bulk-status", {"issue_ids": [], "status": "open"}, format="json")
    assert empty.json()["code"] == "empty"
