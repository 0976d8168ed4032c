# ruff: noqa: RUF001, RUF003 (names that look alike are what this module tests)
"""Names compare by one rule (rules.name_key) in Python and in the database alike: every
spelling round-trips through the API, the filters, the pages and the import, and two
spellings that compare equal are one label."""

from __future__ import annotations

import io
import unicodedata

import pytest

from tracker import services
from tracker.models import Issue, IssueLabel, Label
from tracker.rules import name_key

pytestmark = pytest.mark.django_db

NFD_E = unicodedata.normalize("NFD", "café")
NAMES = ["İstanbul", "ΣΑΣ", "Straße", "ǅemal", "ﬁnance", "café", "ıslak", "🐛 bug", "日本語"]
# Pairs that are one name under the rule.
SAME = [("ΣΑΣ", "σας"), ("Straße", "STRASSE"), ("ǅemal", "ǆemal"), ("ﬁnance", "FINANCE")]
SAME += [("café", NFD_E), ("İstanbul", "i̇stanbul")]
# Pairs that stay two names: the Turkish dotless ı is not an i.
DIFFERENT = [("ıslak", "islak"), ("bug", "🐛 bug")]


@pytest.mark.parametrize("name", NAMES)
def test_every_name_round_trips_through_the_api_and_the_filter(api, name):
    created = api.post("/issues", {"title": "t", "labels": [name]}, format="json")
    assert created.status_code == 201
    assert created.json()["labels"] == [name]
    issue_id = created.json()["id"]
    assert api.get(f"/issues/{issue_id}").json()["labels"] == [name]
    found = api.get("/issues", {"label": name}).json()
    assert [issue["id"] for issue in found] == [issue_id]
    # The labels endpoint replaces with the same name: nothing changes.
    replaced = api.put(f"/issues/{issue_id}/labels", {"labels": [name]}, format="json")
    assert (replaced.json()["labels"], replaced.json()["version"]) == ([name], 1)
    assert Label.objects.count() == IssueLabel.objects.count() == 1


@pytest.mark.parametrize(("first", "second"), SAME)
def test_spellings_that_compare_equal_are_one_label(api, first, second):
    one = api.post("/issues", {"title": "a", "labels": [first]}, format="json").json()
    two = api.post("/issues", {"title": "b", "labels": [second]}, format="json").json()
    assert two["labels"] == [first]
    assert Label.objects.count() == 1
    for spelling in (first, second):
        found = api.get("/issues", {"label": spelling}).json()
        assert sorted(issue["id"] for issue in found) == [one["id"], two["id"]]
    # Both spellings in one request are one label, the first spelling kept.
    both = api.post("/issues", {"title": "c", "labels": [second, first]}, format="json")
    assert both.json()["labels"] == [first]


@pytest.mark.parametrize(("first", "second"), DIFFERENT)
def test_names_that_differ_stay_two_labels(first, second):
    issue = services.issue_create(title="t", labels=[first, second])
    assert sorted(issue.label_names) == sorted([first, second])
    assert name_key(first) != name_key(second)
    assert Label.objects.count() == 2


def test_the_import_links_every_name_and_reuses_equal_ones():
    services.issue_create(title="existing", labels=["σας"])
    text = "title,labels\n" + "".join(f"x,{name};ΣΑΣ\n" for name in NAMES)
    dry = services.issues_import(io.BytesIO(text.encode()), dry_run=True)
    result = services.issues_import(io.BytesIO(text.encode()))
    assert (dry.created, result.created, result.failed) == (len(NAMES), len(NAMES), 0)
    assert Label.objects.count() == len(NAMES)
    assert set(Label.objects.values_list("name", flat=True)) == {*NAMES} - {"ΣΑΣ"} | {"σας"}
    for issue in Issue.objects.exclude(title="existing"):
        assert issue.labels.count() in (1, 2)
    assert not Label.objects.filter(issuelabel__isnull=True).exists()


def test_the_pages_create_issues_with_such_labels(client):
    response = client.post(
        "/ui/issues/new/",
        {"title": "From the page", "status": "open", "new_labels": "İstanbul, ΣΑΣ, σας"},
    )
    assert response.status_code == 302
    issue = Issue.objects.get()
    assert sorted(label.name for label in issue.labels.all()) == sorted(["ΣΑΣ", "İstanbul"])
    page = client.get(f"/ui/issues/?label={'σας'}")
    assert "From the page" in page.content.decode()


def test_a_rename_to_an_equal_spelling_of_another_label_is_refused():
    services.label_save(name="Straße")
    other = services.label_save(name="road")
    with pytest.raises(Exception, match="already exists"):
        services.label_save(label=other, name="STRASSE")
