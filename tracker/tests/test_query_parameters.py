"""A query string holding NUL, another control character or a lone surrogate is a 400
naming the parameter, on every surface: the API, the pages and the admin."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

API = [
    "/issues?q=%00",
    "/issues?label=a%00b",
    "/issues?status=%01",
    "/issues?cursor=%00",
    "/users?per_page=%00",
    "/reports/top-assignees?status=%00",
    "/issues?%00=1",
    "/issues/export?q=%00",
]
PAGES = [
    "/ui/issues/?q=a%00b",
    "/ui/issues/?assignee_id=%00",
    "/ui/people/?x=%1b",
    "/ui/reports/?since=%00",
    "/ui/issues/?label=%00",
]
ADMIN = [
    "/admin/tracker/issue/?status__exact=%00",
    "/admin/tracker/issue/?title__icontains=%00",
    "/admin/tracker/label/?q=%00",
    "/admin/tracker/user/?name=%07",
]


@pytest.mark.parametrize("path", API)
def test_the_api_answers_400_naming_the_parameter(api, path):
    response = api.get(path)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_character"
    assert "contains a character that is not allowed" in body["detail"]
    assert list(body["errors"]) == [path.split("?")[1].split("=")[0].replace("%00", "\\u0000")]


@pytest.mark.parametrize("path", PAGES)
def test_the_pages_answer_the_400_page(client, path):
    response = client.get(path)
    assert response.status_code == 400
    assert "text/html" in response["Content-Type"]


@pytest.mark.parametrize("path", ADMIN)
def test_the_admin_answers_400(admin_client, path):
    assert admin_client.get(path).status_code == 400


def test_tabs_and_newlines_in_a_search_are_fine(api, client):
    assert api.get("/issues?q=a%09b%0Ac%0Dd").status_code == 200
    assert client.get("/ui/issues/?q=a%09b").status_code == 200
