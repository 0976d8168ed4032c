"""Saved views: the rules (services/saved_views.py) and the pages that use them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tracker.errors import NotAllowed, NotFound
from tracker.models import SavedView, User
from tracker.services import saved_views

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def code_of(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(exc.value.error_dict["name"][0].code)


def test_a_view_keeps_the_lists_filters_sort_and_search_not_the_page():
    ann = UserFactory.create(name="Ann")
    view = saved_views.saved_view_create(
        owner=ann, name="  Open bugs ", query="?status=open&label=bug&cursor=abc&per_page=5&x=1"
    )
    assert (view.name, view.query) == ("Open bugs", "status=open&label=bug")


@pytest.mark.parametrize(
    ("name", "code"), [("", "blank"), ("   ", "blank"), ("x" * 101, "max_length")]
)
def test_a_name_is_required_and_limited(name, code):
    with pytest.raises(ValidationError) as exc:
        saved_views.saved_view_create(owner=UserFactory.create(), name=name, query="")
    assert code_of(exc) == code


def test_names_are_unique_per_owner_without_regard_to_case():
    ann, bob = UserFactory.create(), UserFactory.create()
    saved_views.saved_view_create(owner=ann, name="Mine", query="")
    with pytest.raises(ValidationError) as exc:
        saved_views.saved_view_create(owner=ann, name="MINE", query="q=x")
    assert code_of(exc) == "view_name_taken"
    saved_views.saved_view_create(owner=bob, name="Mine", query="")
    other = saved_views.saved_view_create(owner=ann, name="Other", query="")
    with pytest.raises(ValidationError) as exc:
        saved_views.saved_view_rename(view_id=other.pk, owner=ann, name="mine")
    assert code_of(exc) == "view_name_taken"


def test_a_person_has_at_most_so_many_views(monkeypatch):
    monkeypatch.setattr(saved_views, "SAVED_VIEWS_MAX", 2)
    ann = UserFactory.create()
    saved_views.saved_view_create(owner=ann, name="One", query="")
    saved_views.saved_view_create(owner=ann, name="Two", query="")
    with pytest.raises(ValidationError) as exc:
        saved_views.saved_view_create(owner=ann, name="Three", query="")
    assert code_of(exc) == "too_many"


def test_only_the_owner_renames_or_deletes_and_missing_is_not_found():
    ann, bob = UserFactory.create(), UserFactory.create()
    view = saved_views.saved_view_create(owner=ann, name="Mine", query="")
    with pytest.raises(NotAllowed):
        saved_views.saved_view_rename(view_id=view.pk, owner=bob, name="Taken")
    with pytest.raises(NotAllowed):
        saved_views.saved_view_delete(view_id=view.pk, owner=bob)
    with pytest.raises(NotFound):
        saved_views.saved_view_delete(view_id=999999, owner=ann)
    assert saved_views.saved_view_rename(view_id=view.pk, owner=ann, name="Renamed").name == (
        "Renamed"
    )
    saved_views.saved_view_delete(view_id=view.pk, owner=ann)
    assert not SavedView.objects.exists()


# --- Pages.


@pytest.fixture
def ann(client) -> User:
    user = User.objects.create_user("ann", "pw-ann-123456", name="Ann")
    client.force_login(user)
    return user


def test_save_open_and_share_a_view(client, ann):
    answer = client.post("/ui/views/new/", {"name": "Bugs", "query": "label=bug&q=crash"})
    view = SavedView.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/ui/views/{view.pk}/"
    client.logout()
    opened = client.get(f"/ui/views/{view.pk}/")
    assert opened["Location"] == "/ui/issues/?label=bug&q=crash"
    assert client.get("/ui/views/999999/").status_code == 404


def test_a_refused_name_goes_back_to_the_list_with_the_message(client, ann):
    answer = client.post("/ui/views/new/", {"name": " ", "query": "label=bug"}, follow=True)
    assert answer.redirect_chain[-1][0] == "/ui/issues/?label=bug"
    assert "The view was not saved: Give the view a name" in answer.content.decode()


def test_pages_need_login(client):
    for path in ("/ui/views/", "/ui/my/", "/ui/inbox/"):
        assert client.get(path)["Location"].startswith("/accounts/login/")


def test_signed_in_pages_show_unread_count_and_views_in_one_query_more(
    client, ann, django_assert_max_num_queries
):
    saved_views.saved_view_create(owner=ann, name="Bugs", query="label=bug")
    with django_assert_max_num_queries(6):
        body = client.get("/ui/my/").content.decode()
    assert f'href="/ui/views/{SavedView.objects.get().pk}/">Bugs<' in body
    with django_assert_max_num_queries(6):
        assert client.get("/ui/inbox/").status_code == 200
    assert client.get("/ui/my/?tab=watched").status_code == 200
    assert client.get("/ui/my/?tab=nonsense").status_code == 200
