"""The settings page (/ui/me/) and the unsubscribe page: wiring, status codes, queries."""

from __future__ import annotations

import pytest

from tracker.models import User
from tracker.services import notifications

from .factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sam(client):
    user = User.objects.create_user("sam", "correct-horse-battery", name="Sam")
    client.force_login(user)
    return user


def test_the_settings_page_needs_a_login(client):
    answer = client.get("/ui/me/")
    assert answer.status_code == 302
    assert answer["Location"] == "/accounts/login/?next=/ui/me/"


def test_the_settings_page_shows_and_saves_the_signed_in_persons_settings(
    client, sam, django_assert_max_num_queries
):
    with django_assert_max_num_queries(3):
        page = client.get("/ui/me/")
    assert page.status_code == 200
    assert b'name="email"' in page.content
    saved = client.post("/ui/me/", {"email": "sam@example.com"})
    assert (saved.status_code, saved["Location"]) == (302, "/ui/me/")
    sam.refresh_from_db()
    assert (sam.email, sam.email_notifications) == ("sam@example.com", False)


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("sam@", "Enter a valid e-mail address"),
        ("ANN@example.com", "Someone else already uses this e-mail address"),
    ],
)
def test_a_refused_address_is_shown_on_its_field(client, sam, email, message):
    UserFactory.create(name="Ann", email="ann@example.com")
    answer = client.post("/ui/me/", {"email": email, "email_notifications": "on"})
    assert answer.status_code == 400
    assert message in answer.content.decode()
    assert User.objects.get(pk=sam.pk).email is None


def test_the_unsubscribe_page_is_read_in_one_query_or_two(client, django_assert_max_num_queries):
    bob = UserFactory.create(name="Bob", email="bob@example.com")
    path = notifications.unsubscribe_url(bob).split("/ui/", 1)[1]
    with django_assert_max_num_queries(2):
        assert client.get(f"/ui/{path}").status_code == 200
    assert client.get("/ui/unsubscribe/garbage/").status_code == 400
