"""Users' e-mail settings through the API: who sets them, who sees them, the errors."""

from __future__ import annotations

import pytest

from tracker.models import User

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_create_with_an_e_mail_address_keeps_the_shape_and_stores_it(api):
    answer = api.post("/users", {"name": "Ann", "email": " ann@example.com "}, format="json")
    assert answer.status_code == 201
    assert set(answer.json()) == {"id", "name"}  # not shown to an anonymous creator
    ann = User.objects.get(pk=answer.json()["id"])
    assert (ann.email, ann.email_notifications) == ("ann@example.com", True)


@pytest.mark.parametrize("empty", ["", "  ", None])
def test_an_empty_address_is_stored_as_none(api, empty):
    answer = api.post("/users", {"name": "Ann", "email": empty}, format="json")
    assert answer.status_code == 201
    assert User.objects.get(pk=answer.json()["id"]).email is None


@pytest.mark.parametrize(
    ("email", "code"),
    [("not an address", "invalid_email"), ("ANN@example.com", "email_taken"), (7, "invalid")],
)
def test_invalid_and_taken_addresses_are_400_with_codes(api, email, code):
    UserFactory.create(name="Ann", email="ann@example.com")
    answer = api.post("/users", {"name": "Other", "email": email}, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == code
    assert list(answer.json()["errors"]) == ["email"]


def test_get_user_shows_the_address_to_the_user_and_staff_only(api):
    ann = UserFactory.create(name="Ann", email="ann@example.com")
    bob = UserFactory.create(name="Bob")
    staff = UserFactory.create(name="Sam", is_staff=True)
    assert api.get(f"/users/{ann.pk}").json() == {"id": ann.pk, "name": "Ann"}
    for viewer, shown in ((bob, False), (ann, True), (staff, True)):
        api.force_authenticate(viewer)
        body = api.get(f"/users/{ann.pk}/").json()
        assert ("email" in body) is shown
        if shown:
            assert body == {
                "id": ann.pk,
                "name": "Ann",
                "email": "ann@example.com",
                "email_notifications": True,
            }
    listed = api.get("/users").json()
    assert all(set(row) == {"id", "name"} for row in listed)
    missing = api.get("/users/999999")
    assert (missing.status_code, missing.json()["code"]) == (404, "user_not_found")


def test_patch_sets_and_clears_the_address_in_open_mode(api):
    ann = UserFactory.create(name="Ann")
    answer = api.patch(f"/users/{ann.pk}", {"email": "ann@example.com"}, format="json")
    assert answer.status_code == 200
    assert answer.json() == {"id": ann.pk, "name": "Ann"}
    assert User.objects.get(pk=ann.pk).email == "ann@example.com"
    api.patch(f"/users/{ann.pk}", {"email": "", "email_notifications": False}, format="json")
    ann.refresh_from_db()
    assert (ann.email, ann.email_notifications) == (None, False)
    bad = api.patch(f"/users/{ann.pk}", {"emial": "x"}, format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "unknown_field")
    for number_or_text in (0, 1, "yes"):
        bad = api.patch(f"/users/{ann.pk}", {"email_notifications": number_or_text}, format="json")
        assert (bad.status_code, bad.json()["code"]) == (400, "invalid")
    # A form (the browsable API's) sends its checkbox as text.
    assert api.patch(f"/users/{ann.pk}", {"email_notifications": "true"}).status_code == 200
    ann.refresh_from_db()
    assert ann.email_notifications is True


def test_patch_needs_the_user_or_staff_when_auth_is_required(api, settings):
    settings.TRACKER_REQUIRE_AUTH = True
    ann, bob = UserFactory.create(name="Ann"), UserFactory.create(name="Bob")
    staff = UserFactory.create(name="Sam", is_staff=True)
    assert api.patch(f"/users/{ann.pk}", {"email": "a@example.com"}).status_code == 401
    api.force_authenticate(bob)
    refused = api.patch(f"/users/{ann.pk}", {"email": "a@example.com"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")
    for actor in (ann, staff):
        api.force_authenticate(actor)
        answer = api.patch(f"/users/{ann.pk}", {"email_notifications": False}, format="json")
        assert answer.status_code == 200
        assert answer.json()["email_notifications"] is False
    assert User.objects.get(pk=ann.pk).email is None


def test_taking_someone_elses_address_by_patch_is_refused(api):
    UserFactory.create(name="Ann", email="ann@example.com")
    bob = UserFactory.create(name="Bob")
    answer = api.patch(f"/users/{bob.pk}", {"email": "Ann@Example.com"}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (400, "email_taken")
