from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

import pytest
from django.utils import timezone

from tracker.models import User

from .factories import IssueFactory, UserFactory

pytestmark = pytest.mark.django_db


def fill(people: int, issues_each: int) -> None:
    """Issues in every status, spread over the last weeks, for `people` assignees."""
    now = timezone.now()
    for user in UserFactory.create_batch(people):
        for n in range(issues_each):
            created = now - timedelta(days=n % 40, hours=n)
            status = ("open", "in_progress", "closed")[n % 3]
            IssueFactory.create(
                assignee=user,
                status=status,
                created_at=created,
                resolved_at=created + timedelta(hours=n + 1) if status == "closed" else None,
            )


def svgs(html: str) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", html, flags=re.S)


# --- Dashboard


def test_dashboard_draws_four_charts_with_their_tables(client):
    fill(people=3, issues_each=6)
    IssueFactory.create(assignee=None)

    response = client.get("/ui/reports/")

    assert response.status_code == 200
    html = response.content.decode()
    charts = svgs(html)
    # Each chart twice: for a wide screen and, narrower, for a phone (reports.css shows one).
    assert len(charts) == 8
    assert sum('id="chart-' in chart and "-narrow-title" in chart for chart in charts) == 4
    for chart in charts:
        assert 'role="img"' in chart
        assert "<title" in chart
        assert "<script" not in chart
    assert "<script" not in html
    assert not re.search(r"""src=["']?https?:""", html)
    assert html.count("<table") == 4
    assert response.context["nav"] == "reports"
    assert 'href="/ui/issues/?assignee_id=' in html
    assert "reports.css" in html


def test_dashboard_interval_switch_is_plain_links(client):
    response = client.get("/ui/reports/?interval=week")
    html = response.content.decode()
    assert re.search(r'<a href="\?interval=week" aria-current="page">Weekly</a>', html)
    assert '<a href="?interval=day">Daily</a>' in html
    assert len(response.context["series"]) == 12
    # An unknown interval falls back to days rather than failing the page.
    assert len(client.get("/ui/reports/?interval=year").context["series"]) == 30


def test_the_phone_charts_are_narrow_and_show_the_latest_periods(client):
    response = client.get("/ui/reports/")
    narrow = response.context["series_chart_narrow"]
    assert narrow.width == 320
    assert len(narrow.columns) == 14
    assert narrow.x_ticks[-1].text == response.context["series_chart"].x_ticks[-1].text
    assert len(narrow.x_ticks) <= 4
    assert response.context["status_chart_narrow"].width == 320
    weekly = client.get("/ui/reports/?interval=week").context["series_chart_narrow"]
    assert len(weekly.columns) == 8


def test_dashboard_empty_database(client):
    response = client.get("/ui/reports/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "No issue is assigned to anyone yet." in html
    assert "No issue has been resolved yet." in html


def test_dashboard_escapes_names(client):
    IssueFactory.create(assignee=UserFactory.create(name="<script>alert(1)</script>"))
    html = client.get("/ui/reports/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("size", [(1, 3), (12, 20)])
def test_dashboard_queries_do_not_grow_with_the_data(client, django_assert_max_num_queries, size):
    fill(*size)
    # Four reports, each one query after the data generation its cache entry is keyed by.
    with django_assert_max_num_queries(8):
        assert client.get("/ui/reports/").status_code == 200


def test_dashboard_refuses_post(client):
    assert client.post("/ui/reports/").status_code == 405


# --- People


def test_people_lists_counts_and_links_to_issue_lists(client):
    alice, bob = UserFactory.create(name="Alice"), UserFactory.create(name="Bob")
    IssueFactory.create_batch(2, assignee=alice)
    IssueFactory.create(assignee=bob, status="closed", resolved_at=timezone.now())

    response = client.get("/ui/people/")

    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["nav"] == "people"
    assert f'<a href="/ui/issues/?assignee_id={alice.pk}">Alice</a>' in html
    assert f'href="/ui/issues/?assignee_id={alice.pk}&amp;status=open"' in html
    assert f'href="/ui/issues/?assignee_id={bob.pk}&amp;status=closed"' in html
    people = {row["name"]: row for row in response.context["people"]}
    assert (people["Alice"]["open"], people["Alice"]["closed"]) == (2, 0)
    assert (people["Bob"]["open"], people["Bob"]["closed"]) == (0, 1)
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<label for="id_name">Name</label>' in html


def test_add_person_redirects_with_a_message(client):
    response = client.post("/ui/people/", {"name": "  Dana  "}, follow=True)

    person = User.objects.get(name="Dana")
    assert response.redirect_chain == [(f"/ui/people/#person-{person.pk}", 302)]
    assert [str(m) for m in response.context["messages"]] == ["Added Dana."]
    assert person.username is None


@pytest.mark.parametrize(
    ("name", "message"),
    [("   ", "Name is required"), ("x" * 101, "Name is too long (max 100)")],
)
def test_add_person_shows_the_service_message(client, name, message):
    response = client.post("/ui/people/", {"name": name})

    assert response.status_code == 400
    assert response.context["form"].errors == {"name": [message]}
    html = response.content.decode()
    assert message in html
    assert 'aria-invalid="true"' in html
    assert not User.objects.exists()


def test_add_person_refuses_a_control_character_as_a_form_error(client):
    response = client.post("/ui/people/", {"name": "Nul\x00Name"})

    assert response.status_code == 400
    assert response.context["form"].errors == {
        "name": ["Name contains a character that is not allowed (\\u0000)"]
    }
    assert not User.objects.exists()


@pytest.mark.parametrize("name", ["Alice", "  alice  ", "ALICE", "Ame\u0301lie"])
def test_add_person_with_a_name_someone_has_asks_to_confirm(client, name):
    alice = UserFactory.create(name="Alice")
    amelie = UserFactory.create(name="Amélie")
    twin = amelie if name.startswith("Ame") else alice

    response = client.post("/ui/people/", {"name": name})

    assert response.status_code == 400
    message = f"Someone named '{twin.name}' already exists"
    assert response.context["form"].errors == {"name": [message]}
    html = response.content.decode()
    assert message.replace("'", "&#x27;") in html
    assert f'name="same_name_ok" value="{name.strip()}"' in html
    assert "Yes, add another person named" in html
    assert User.objects.count() == 2

    response = client.post("/ui/people/", {"name": name, "same_name_ok": name.strip()})
    assert response.status_code == 302
    added = User.objects.latest("id")
    # Stored NFC, as all text is.
    assert added.name == unicodedata.normalize("NFC", name.strip())
    assert added.pk not in (alice.pk, amelie.pk)
    assert User.objects.count() == 3


def test_a_confirmation_counts_only_for_the_name_confirmed(client):
    UserFactory.create(name="Alice")
    UserFactory.create(name="Bob")
    response = client.post("/ui/people/", {"name": "bob", "same_name_ok": "Alice"})
    assert response.status_code == 400
    assert response.context["form"].errors == {"name": ["Someone named 'Bob' already exists"]}
    assert User.objects.count() == 2


def test_add_person_with_a_new_name_asks_nothing(client):
    UserFactory.create(name="Alice")
    response = client.post("/ui/people/", {"name": "Alicia"})
    assert response.status_code == 302
    assert User.objects.filter(name="Alicia").exists()


def test_the_api_still_adds_a_person_whose_name_someone_has(api):
    UserFactory.create(name="Alice")
    response = api.post("/users", {"name": "alice"}, format="json")
    assert response.status_code == 201
    assert User.objects.filter(name__iexact="alice").count() == 2


def test_add_person_gives_the_api_message_for_the_same_input(client, api):
    page = client.post("/ui/people/", {"name": " "}).context["form"].errors["name"]
    assert api.post("/users", {"name": " "}, format="json").json()["errors"]["name"] == page


def test_add_person_needs_login_when_auth_is_required(client, settings, login_user):
    settings.TRACKER_REQUIRE_AUTH = True

    page = client.get("/ui/people/").content.decode()
    assert 'name="name"' not in page
    assert "Only people who are logged in can add someone." in page

    response = client.post("/ui/people/", {"name": "Eve"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/ui/people/")
    assert not User.objects.filter(name="Eve").exists()

    client.force_login(login_user)
    assert client.post("/ui/people/", {"name": "Eve"}).status_code == 302
    assert User.objects.filter(name="Eve").exists()


def test_people_escapes_names(client):
    UserFactory.create(name="<b>bold</b>")
    html = client.get("/ui/people/").content.decode()
    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html


@pytest.mark.parametrize("size", [(1, 1), (25, 4)])
def test_people_queries_do_not_grow_with_the_data(client, django_assert_max_num_queries, size):
    fill(*size)
    with django_assert_max_num_queries(2):  # the data generation, then the report
        assert client.get("/ui/people/").status_code == 200
