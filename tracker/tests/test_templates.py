"""Templates link with {% url %} and {% static %}, never with a hard-coded path, so a
changed or prefixed URL cannot leave a dead link behind; and the links they render are
still the same addresses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import cast

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client

from tracker.models import User

# An attribute whose value starts with a single "/": a path on this site. "//host" is
# external, and "#", "?…", "{% url %}" and "{{ var }}" do not start with "/".
HARD_CODED_PATH = re.compile(
    r"""\b(?:href|action|src|formaction)\s*=\s*["']?/(?!/)""", re.IGNORECASE
)


def project_templates() -> list[Path]:
    dirs = [Path(d) for d in cast(list[Path], settings.TEMPLATES[0]["DIRS"])]
    dirs.append(Path(apps.get_app_config("tracker").path) / "templates")
    return sorted(p for d in dirs if d.is_dir() for p in d.rglob("*.html"))


@pytest.mark.parametrize(
    "html",
    [
        '<a href="/ui/issues/">',
        "<a class=x href='/docs'>",
        '<form method="post" action="/accounts/logout/">',
        '<a href=/admin/ class="x">',
        '<img src="/static/logo.png">',
        '<button formaction="/ui/import/cancel/">',
    ],
)
def test_the_scan_catches_a_hard_coded_path(html):
    assert HARD_CODED_PATH.search(html)


@pytest.mark.parametrize(
    "html",
    [
        "<a href=\"{% url 'ui:issue-list' %}?status=open\">",
        '<a href="#main">',
        '<a href="?interval=week">',
        '<a href="https://example.com/ui/">',
        '<a href="//cdn.example.com/x.js">',
        '<form action="{{ apply_url }}">',
        "<link href=\"{% static 'css/app.css' %}\">",
        "<p>Paths such as /ui/issues/ in prose are fine.</p>",
    ],
)
def test_the_scan_lets_other_links_through(html):
    assert not HARD_CODED_PATH.search(html)


def test_templates_have_no_hard_coded_paths():
    templates = project_templates()
    assert templates, "no templates found to scan"
    found = [
        f"{path.relative_to(settings.BASE_DIR)}:{number}: {line.strip()}"
        for path in templates
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if HARD_CODED_PATH.search(line)
    ]
    assert not found, "use {% url %} or {% static %} instead of:\n" + "\n".join(found)


@pytest.mark.django_db
def test_the_navigation_links_to_the_same_addresses(client: Client):
    html = client.get("/ui/issues/").content.decode()
    for href in (
        "/ui/issues/",
        "/ui/issues/new/",
        "/ui/import/",
        "/ui/reports/",
        "/ui/people/",
        "/docs",
        "/admin/",
    ):
        assert f'href="{href}"' in html


@pytest.mark.django_db
def test_the_root_sends_visitors_to_the_issue_list(client: Client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/ui/issues/"


@pytest.mark.django_db
def test_logging_in_and_out_come_back_to_the_issue_list(client: Client):
    User.objects.create_user("sam", "correct-horse-battery", name="Sam Carter")
    response = client.post(
        "/accounts/login/", {"username": "sam", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/ui/issues/"
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/ui/issues/"


# A list given a role stops being a list to assistive technology, and its items lose their
# list parent (axe's `listitem` rule): a live region or an alert wraps the list instead.
LIST_WITH_A_ROLE = re.compile(r"<(?:ul|ol)\b[^>]*\brole\s*=", re.IGNORECASE)


def test_no_template_gives_a_list_a_role():
    found = [
        f"{path.relative_to(settings.BASE_DIR)}:{number}: {line.strip()}"
        for path in project_templates()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if LIST_WITH_A_ROLE.search(line)
    ]
    assert not found, "wrap the list in a <div role=...> instead:\n" + "\n".join(found)
