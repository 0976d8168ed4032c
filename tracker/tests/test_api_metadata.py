"""OPTIONS on every API path (api/metadata.py): 200 and JSON, describing the input each
write method takes."""

from __future__ import annotations

import pytest

from tracker import services
from tracker.models import IssueEvent
from tracker.rules import ISSUE_EDITABLE_FIELDS

pytestmark = pytest.mark.django_db

PATHS = [
    "/users",
    "/users/{user}",
    "/issues",
    "/issues/{issue}",
    "/issues/{issue}/labels",
    "/issues/{issue}/comments",
    "/issues/{issue}/timeline",
    "/issues/bulk-status",
    "/issues/import",
    "/reports/top-assignees",
    "/reports/latency",
    "/reports/created-vs-resolved",
]
# What OPTIONS says each write method takes.
INPUTS = {
    "/users": {"POST": {"name", "email", "email_notifications"}},
    "/users/{user}": {"PATCH": {"name", "email", "email_notifications"}},
    "/issues": {"POST": {*ISSUE_EDITABLE_FIELDS, "labels"}},
    "/issues/{issue}": {"PATCH": {"version", *ISSUE_EDITABLE_FIELDS}},
    "/issues/{issue}/labels": {"PUT": {"labels", "version"}},
    "/issues/{issue}/comments": {"POST": {"body", "author_id"}},
    "/issues/bulk-status": {"POST": {"issue_ids", "status"}},
    "/issues/import": {"POST": {"file"}},
}


@pytest.mark.parametrize("slash", ["", "/"], ids=["bare", "slash"])
@pytest.mark.parametrize("path", PATHS)
def test_options_on_every_api_path_is_json_describing_its_inputs(api, path, slash):
    issue = services.issue_create(title="Existing")
    events = IssueEvent.objects.count()

    response = api.options(path.format(issue=issue.pk, user=1) + slash)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["name"]
    actions = {method: set(fields) for method, fields in body.get("actions", {}).items()}
    assert actions == INPUTS.get(path, {})
    assert IssueEvent.objects.count() == events


@pytest.mark.parametrize("path", ["/issues/999999", "/issues/999999/labels"])
def test_options_needs_no_issue_to_exist(api, path):
    response = api.options(path)
    assert response.status_code == 200
    assert set(response.json()["actions"]) <= {"PATCH", "PUT"}


def test_options_shows_no_write_actions_to_whom_writes_are_refused(api, settings):
    settings.TRACKER_REQUIRE_AUTH = True
    response = api.options("/issues")
    assert response.status_code == 200
    assert "actions" not in response.json()
