"""The text rules of rules.py (characters, NFC, lengths) reach every interface: the API, the
pages and the CSV import refuse the same text with the same message, naming the field, and
write nothing. The rules themselves are tested in test_rules.py."""

from __future__ import annotations

import io
from typing import cast

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from tracker import services
from tracker.models import Comment, Issue, IssueEvent, Label, User

from .factories import UserFactory
from .test_pages_issues import comments_url, edit, edit_post, labels_url, text

pytestmark = pytest.mark.django_db

NEW = "/ui/issues/new/"
TOO_LONG = "x" * 65_537


def snapshot() -> tuple:
    return (
        list(User.objects.order_by("id").values_list("id", "name")),
        list(Issue.objects.order_by("id").values_list("id", "version", "title", "description")),
        list(Label.objects.order_by("id").values_list("id", "name")),
        list(Comment.objects.order_by("id").values_list("id", "body")),
        IssueEvent.objects.count(),
    )


@pytest.fixture
def issue() -> Issue:
    return services.issue_create(title="Existing", description="Before")


@pytest.fixture
def author() -> User:
    return UserFactory.create(name="Author")


# Each case: the API call, the page post and the field/message both must give.
CASES = {
    "description too long on create": (
        ("post", "/issues", {"title": "T", "description": TOO_LONG}),
        (NEW, {"title": "T", "description": TOO_LONG}),
        ("description", "max_length", "Description is too long (max 65536)"),
    ),
    "description too long on edit": (
        ("patch", "/issues/{issue}", {"version": 1, "description": TOO_LONG}),
        ("edit", {"description": TOO_LONG}),
        ("description", "max_length", "Description is too long (max 65536)"),
    ),
    "comment too long": (
        ("post", "/issues/{issue}/comments", {"body": TOO_LONG, "author_id": "{author}"}),
        ("comment", {"body": TOO_LONG, "author_id": "{author}"}),
        ("body", "max_length", "Comment is too long (max 65536)"),
    ),
    "NUL in a title": (
        ("post", "/issues", {"title": "a\x00b"}),
        (NEW, {"title": "a\x00b"}),
        ("title", "invalid_character", "Title contains a character that is not allowed (\\u0000)"),
    ),
    "escape in a title on edit": (
        ("patch", "/issues/{issue}", {"version": 1, "title": "\x1b[31mred"}),
        ("edit", {"title": "\x1b[31mred"}),
        ("title", "invalid_character", "Title contains a character that is not allowed (\\u001b)"),
    ),
    "control character in a description": (
        ("post", "/issues", {"title": "T", "description": "bell\x07"}),
        (NEW, {"title": "T", "description": "bell\x07"}),
        (
            "description",
            "invalid_character",
            "Description contains a character that is not allowed (\\u0007)",
        ),
    ),
    "DEL in a comment": (
        ("post", "/issues/{issue}/comments", {"body": "x\x7f", "author_id": "{author}"}),
        ("comment", {"body": "x\x7f", "author_id": "{author}"}),
        ("body", "invalid_character", "Comment contains a character that is not allowed (\\u007f)"),
    ),
    "NUL in a person's name": (
        ("post", "/users", {"name": "Bo\x00b"}),
        ("/ui/people/", {"name": "Bo\x00b"}),
        ("name", "invalid_character", "Name contains a character that is not allowed (\\u0000)"),
    ),
    "control character in a new label": (
        ("put", "/issues/{issue}/labels", {"labels": ["bu\x01g"]}),
        ("labels", {"version": 1, "new_labels": "bu\x01g"}),
        (
            "labels",
            "invalid_character",
            "Label 'bu\\u0001g' contains a character that is not allowed (\\u0001)",
        ),
    ),
}


def fill(value, ids: dict):
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, dict):
        return {key: fill(item, ids) for key, item in value.items()}
    return value


@pytest.mark.parametrize("case", CASES)
def test_the_api_and_the_pages_refuse_the_same_text_the_same_way(client, api, issue, author, case):
    (method, path, body), (page, data), (field, code, message) = CASES[case]
    ids = {"issue": issue.pk, "author": author.pk}
    before = snapshot()

    answer = getattr(api, method)(fill(path, ids), fill(body, ids), format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == code
    assert answer.json()["errors"] == {field: [message]}
    assert snapshot() == before

    page_url = {
        "edit": edit(issue.pk),
        "comment": comments_url(issue.pk),
        "labels": labels_url(issue.pk),
    }.get(page, page)
    if page == "edit":
        data = edit_post(issue, **cast(dict, data))
    response = client.post(page_url, fill(data, ids))
    assert response.status_code in (200, 400)  # the form again, with the message on it
    assert message in text(response)
    assert snapshot() == before


def test_text_at_the_limit_is_accepted_everywhere(api, client, issue, author):
    at_limit = "é" * 65_536
    created = api.post("/issues", {"title": "T", "description": at_limit}, format="json")
    assert created.status_code == 201
    assert created.json()["description"] == at_limit
    comment = api.post(
        f"/issues/{issue.pk}/comments", {"body": at_limit, "author_id": author.pk}, format="json"
    )
    assert comment.status_code == 201
    page = client.post(NEW, {"title": "From the page", "description": at_limit})
    assert page.status_code == 302
    assert Issue.objects.get(title="From the page").description == at_limit


def test_text_arrives_nfc_normalised_through_every_interface(api, client, author):
    decomposed = "Cafe\u0301"
    api.post("/issues", {"title": decomposed, "labels": [decomposed, "café"]}, format="json")
    client.post(NEW, {"title": f"{decomposed} page", "description": decomposed})
    services.issues_import(io.BytesIO(f"title,labels\n{decomposed} csv,{decomposed}\n".encode()))
    api.post("/users", {"name": decomposed}, format="json")

    titles = set(Issue.objects.values_list("title", flat=True))
    assert titles == {"Café", "Café page", "Café csv"}
    assert Issue.objects.get(title="Café page").description == "Café"
    assert list(Label.objects.values_list("name", flat=True)) == ["Café"]
    assert User.objects.filter(name="Café").exists()


def test_tab_and_newline_are_kept_and_carriage_returns_become_newlines(api):
    body = {"title": "T", "description": "a\tb\r\nc\rd"}
    assert api.post("/issues", body, format="json").json()["description"] == "a\tb\nc\nd"


def test_the_csv_import_reports_bad_text_per_row_and_imports_the_rest():
    data = (
        "title,description,labels\n"
        "good,fine,ok\n"
        "bad\x01title,,\n"
        f"long,{'x' * 65_537},\n"
        "escape,\x1b[0m,\n"
        "label,,bu\x07g\n"
    ).encode()
    result = services.issues_import(io.BytesIO(data))
    assert (result.total_rows, result.created, result.failed) == (5, 1, 4)
    assert [error.as_dict() for error in result.errors] == [
        {
            "row": 2,
            "error": "Title contains a character that is not allowed (\\u0001)",
            "field": "title",
        },
        {"row": 3, "error": "Description is too long (max 65536)", "field": "description"},
        {
            "row": 4,
            "error": "Description contains a character that is not allowed (\\u001b)",
            "field": "description",
        },
        {
            "row": 5,
            "error": "Label 'bu\\u0007g' contains a character that is not allowed (\\u0007)",
            "field": "labels",
        },
    ]
    assert list(Issue.objects.values_list("title", flat=True)) == ["good"]
    assert list(Label.objects.values_list("name", flat=True)) == ["ok"]


def test_the_import_page_shows_the_row_errors(client):
    upload = SimpleUploadedFile("bad.csv", b"title\nbad\x02title\n", content_type="text/csv")
    response = client.post("/ui/import/", {"file": upload}, follow=True)
    assert response.status_code == 200
    assert "Title contains a character that is not allowed (\\u0002)" in text(response)
    assert not Issue.objects.exists()


def test_label_description_is_checked_by_label_save():
    with pytest.raises(ValidationError) as exc:
        services.label_save(name="bug", description="x" * 256)
    assert exc.value.message_dict == {"description": ["Description is too long (max 255)"]}
    with pytest.raises(ValidationError) as exc:
        services.label_save(name="bug", description="a\x00b")
    assert exc.value.message_dict == {
        "description": ["Description contains a character that is not allowed (\\u0000)"]
    }
    assert not Label.objects.exists()
