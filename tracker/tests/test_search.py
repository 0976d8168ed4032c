"""Full-text search (`q`): title, description and comments, on the API and the list page."""

from __future__ import annotations

import io

import pytest

from tracker import services
from tracker.models import Comment, Issue

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def found(api, query: str, **params) -> list[int]:
    response = api.get("/issues", {"q": query, **params})
    assert response.status_code == 200, response.json()
    return [issue["id"] for issue in response.json()]


def create(title: str, description: str = "") -> int:
    return services.issue_create(title=title, description=description).pk


def test_q_searches_titles_descriptions_and_comments(api):
    author = UserFactory.create(name="Ann")
    in_title = create("Traceback on login")
    in_description = create("Login fails", "Traceback (most recent call last): KeyError")
    in_comment = create("Slow page")
    services.comment_add(issue_id=in_comment, body="Got a traceback here too", author_id=author.pk)
    create("Nothing to see")
    assert found(api, "traceback") == [in_title, in_description, in_comment]


def test_words_match_by_their_stem_phrases_exclusions_and_or(api):
    retrying = create("Worker keeps retrying", "The job retried three times")
    timeouts = create("Timeouts on export", "export timed out after 30 s")
    both = create("Retry after timeout", "")
    assert found(api, "retry") == [retrying, both]
    assert found(api, "retry -timeout") == [retrying]
    assert found(api, '"export timed"') == [timeouts]
    assert found(api, "export or worker") == [retrying, timeouts]


def test_identifiers_and_paths_match_exactly_and_the_last_word_as_a_prefix(api):
    key_error = create("Crash", "KeyError: 'user' in app/webhooks.py line 42")
    other = create("Crash too", "ValueError in app/models.py")
    assert found(api, "KeyError") == [key_error]
    assert found(api, "app/webhooks.py") == [key_error]
    assert found(api, "KeyErr") == [key_error]
    assert found(api, "crash valueerr") == [other]


@pytest.mark.django_db(transaction=True)
def test_a_comment_added_or_an_imported_issue_is_found_at_once(api):
    # On real transactions: a comment enters the search document when it commits.
    author = UserFactory.create(name="Ann")
    issue = create("Quiet issue")
    assert found(api, "flamingo") == []
    services.comment_add(issue_id=issue, body="A flamingo appeared", author_id=author.pk)
    assert found(api, "flamingo") == [issue]
    services.issues_import(io.BytesIO(b"title,description\nZebra,a flamingo as well\n"))
    assert len(found(api, "flamingo")) == 2


def test_the_document_follows_edits_and_deletions_whatever_makes_them(api):
    # The document is kept by PostgreSQL (a generated column and a trigger, migration 0006),
    # so writes that bypass the services (the admin's, a queryset's) keep it too.
    author = UserFactory.create(name="Ann")
    issue = create("Quiet issue", "nothing here")
    services.issue_update(issue_id=issue, version=1, title="Loud walrus", description="a tapir")
    assert found(api, "quiet") == []
    comment = services.comment_add(issue_id=issue, body="an okapi", author_id=author.pk)
    # Words from the title, the description and a comment match together.
    assert found(api, "walrus tapir okapi") == [issue]
    Comment.objects.filter(pk=comment.pk).update(body="a zebra")
    assert (found(api, "okapi"), found(api, "zebra")) == ([], [issue])
    Comment.objects.filter(pk=comment.pk).delete()
    assert found(api, "zebra") == []
    Issue.objects.filter(pk=issue).update(description="a yak")
    assert (found(api, "tapir"), found(api, "yak")) == ([], [issue])


@pytest.mark.parametrize(
    "query",
    ['"unbalanced', "a & b | !c", "(((", "':*", "\\", "-", "or", "the", "🦩", "x" * 3000],
)
def test_any_text_is_a_search_not_an_error(api, query):
    create("Something")
    response = api.get("/issues", {"q": query})
    assert response.status_code == 200
    assert isinstance(response.json(), list)


def test_relevance_orders_best_first_and_pages_with_cursors(api):
    weak = [create(f"Issue {n}", f"mentions parser once {n}") for n in range(3)]
    strong = create("Parser parser crash", "the parser fails in the parser")
    title_only = create("Parser")
    create("Unrelated")
    first = api.get("/issues", {"q": "parser", "ordering": "relevance", "per_page": 2})
    assert first.status_code == 200
    ids = [issue["id"] for issue in first.json()]
    assert ids[0] == strong
    following = first["Link"].split(";")[0].strip("<>")
    rest = []
    while following:
        page = api.get(following)
        rest += [issue["id"] for issue in page.json()]
        links = {
            part.split(";")[1].strip(): part.split(";")[0].strip(" <>")
            for part in page["Link"].split(",")
        }
        following = links.get('rel="next"')
    every = ids + rest
    assert sorted(every) == sorted([*weak, strong, title_only])
    assert len(set(every)) == len(every)


def test_relevance_needs_a_search(api):
    response = api.get("/issues", {"ordering": "relevance"})
    assert response.status_code == 400
    assert "q" in response.json()["detail"]


def test_the_list_page_shows_where_each_result_matched_escaped(client):
    author = UserFactory.create(name="Ann")
    services.issue_create(
        title="Deploy broke",
        description="<script>alert(1)</script> the pipeline hangs if a < b & c",
    )
    quiet = services.issue_create(title="Quiet")
    services.comment_add(issue_id=quiet.pk, body="pipeline <b>stuck</b> again", author_id=author.pk)
    html = client.get("/ui/issues/", {"q": "pipeline"}).content.decode()
    assert "<mark>pipeline</mark>" in html
    assert "<script>alert(1)</script>" not in html
    assert "a &lt; b &amp; c" in html
    assert "In a comment:" in html and "In the description:" in html
    assert "<b>stuck" not in html
    assert 'value="relevance"' in html
    assert 'value="relevance"' not in client.get("/ui/issues/").content.decode()


def test_a_search_counts_each_status_up_to_a_cap(client, monkeypatch):
    from django.http import QueryDict

    from tracker import selectors
    from tracker.views import issues as list_view

    for n in range(4):
        create(f"Crash {n}")
    services.issue_create(title="Crash done", status="closed")
    counts = selectors.issue_status_counts(filters=QueryDict("q=crash"), cap=2)
    assert counts == {"open": 3, "in_progress": 0, "closed": 1}  # 3 means "more than 2"
    monkeypatch.setattr(list_view, "SEARCH_COUNT_CAP", 2)
    html = client.get("/ui/issues/", {"q": "crash"}).content.decode()
    assert '<span class="count">2+</span>' in html  # open
    assert '<span class="count">3+</span>' in html  # all: at least 2 open and 1 closed
    assert '<span class="count">1</span>' in html  # closed
