"""The OpenAPI document is valid, and real responses match what it promises."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tracker import services

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
