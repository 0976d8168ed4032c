"""Watchers, @mentions and the inbox: who watches, who hears of what, the API's answers."""

from __future__ import annotations

import io

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from procrastinate.contrib.django.models import ProcrastinateJob

from tracker import markdown, services
from tracker.models import Issue, Notification, User, Watch
from tracker.services import notifications, watchers

from .factories import IssueFactory, UserFactory, record_creation

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def email_on(settings):
    settings.TRACKER_EMAIL_ENABLED = True
    settings.TRACKER_EMAIL_DELAY_SECONDS = 60
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def person(name: str, **fields) -> User:
    return UserFactory.create(
        name=name, username=name.lower(), email=f"{name.lower()}@example.com", **fields
    )


def watching(issue_id: int) -> list[str]:
    names = Watch.objects.filter(issue_id=issue_id).values_list("user__username", flat=True)
    return sorted(str(name) for name in names)


def inbox(user: User) -> list[tuple[int, str, str]]:
    return sorted(
        Notification.objects.filter(recipient=user).values_list("issue_id", "event", "reason")
    )


# --- Who becomes a watcher.


def test_creating_commenting_being_assigned_or_mentioned_makes_a_watcher():
    maya, liam, noah = person("Maya"), person("Liam"), person("Noah")
    person("Olga")
    issue = services.issue_create(title="Crash", actor=maya, description="cc @olga")
    assert watching(issue.pk) == ["maya", "olga"]
    issue = services.issue_update(
        issue_id=issue.pk, actor=maya, version=issue.version, assignee_id=liam.pk
    )
    services.comment_add(issue_id=issue.pk, actor=noah, body="Same here")
    assert watching(issue.pk) == ["liam", "maya", "noah", "olga"]


def test_a_rolled_back_change_makes_no_watcher():
    maya, liam = person("Maya"), person("Liam")
    with pytest.raises(Exception):  # noqa: B017
        services.issue_create(title="", actor=maya, assignee_id=liam.pk)
    assert Watch.objects.count() == 0


def test_watching_costs_no_round_trip():
    maya = person("Maya")
    issue = services.issue_create(title="Crash", actor=maya)
    with CaptureQueriesContext(connection) as queries:
        services.comment_add(issue_id=issue.pk, actor=maya, body="Note to self")
    assert not any("watches" in q["sql"] and "events" not in q["sql"] for q in queries)


# --- @mentions.


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Hi @noah, see this", {"noah"}),
        ("@noah. And @liam-", {"noah", "liam"}),
        ("mail ann@example.com", set()),
        ("`@noah` in code", set()),
        ("```\n@noah\n```", set()),
        ("[@noah](https://example.com)", set()),
        ("@first.last+x", {"first.last+x"}),
    ],
)
def test_mentions_are_usernames_outside_code_and_links(text, names):
    assert markdown.mentions(text) == names


def test_a_mention_links_the_person_and_an_unknown_name_stays_text():
    noah = person("Noah")
    html = markdown.markdown_html("Ask @noah or @nobody, not `@noah`")
    assert f'<a href="/ui/issues/?assignee_id={noah.pk}" class="mention">@noah</a>' in html
    assert "@nobody" in html and 'class="mention">@nobody' not in html
    assert "<code>@noah</code>" in html


def test_a_mention_notifies_and_makes_a_watcher_once_in_the_change():
    maya, noah = person("Maya"), person("Noah")
    issue = services.issue_create(title="Crash", actor=maya)
    services.comment_add(issue_id=issue.pk, actor=maya, body="@noah @noah please look")
    assert inbox(noah) == [(issue.pk, "comment_added", "mention")]
    assert watching(issue.pk) == ["maya", "noah"]


def test_editing_a_description_notifies_only_the_newly_mentioned():
    maya, noah, liam = person("Maya"), person("Noah"), person("Liam")
    issue = services.issue_create(title="Crash", actor=maya, description="@noah")
    assert inbox(noah) == [(issue.pk, "issue_created", "mention")]
    Watch.objects.filter(user=noah).delete()
    services.issue_update(
        issue_id=issue.pk, actor=maya, version=issue.version, description="@noah and @liam"
    )
    assert inbox(noah) == [(issue.pk, "issue_created", "mention")]
    assert inbox(liam) == [(issue.pk, "description_changed", "mention")]


# --- Who hears of a change.


def test_the_seed_story_assignee_and_mentioned_hear_once_the_actor_never():
    maya, liam, noah = person("Maya"), person("Liam"), person("Noah")
    issue = services.issue_create(title="Crash", actor=maya)
    issue = services.issue_update(
        issue_id=issue.pk, actor=maya, version=issue.version, assignee_id=liam.pk
    )
    services.comment_add(issue_id=issue.pk, actor=maya, body="@noah can you help?")
    assert inbox(liam) == [
        (issue.pk, "assignee_changed", "assignee"),
        (issue.pk, "comment_added", "assignee"),
    ]
    assert inbox(noah) == [(issue.pk, "comment_added", "mention")]
    assert inbox(maya) == []
    for user in (liam, noah, maya):
        notifications.notifications_email_send(recipient_id=user.pk)
    assert sorted(message.to[0] for message in mail.outbox) == [
        "liam@example.com",
        "noah@example.com",
    ]
    (to_noah,) = [message for message in mail.outbox if message.to == ["noah@example.com"]]
    assert "Maya commented and mentioned you" in to_noah.body
    # Noah unwatches: the next change reaches Liam (assignee) only.
    watchers.watch_remove(issue_id=issue.pk, user_id=noah.pk, actor=noah)
    services.comment_add(issue_id=issue.pk, actor=maya, body="Never mind")
    assert len(inbox(noah)) == 1
    assert len(inbox(liam)) == 3


def sent_to() -> list[str]:
    return sorted(message.to[0] for message in mail.outbox)


def send_all() -> None:
    for job in ProcrastinateJob.objects.filter(task_name=notifications.SEND_TASK):
        notifications.notifications_email_send(recipient_id=job.args["recipient_id"])


def test_a_bulk_change_of_10_000_issues_makes_one_job_and_one_e_mail_per_person():
    maya, liam, noah = person("Maya"), person("Liam"), person("Noah")
    issues = Issue.objects.bulk_create(Issue(title=f"Issue {n}") for n in range(10_000))
    record_creation(issues)
    Watch.objects.bulk_create(
        Watch(issue=issue, user=user) for issue in issues for user in (liam, noah)
    )
    services.issues_bulk_set_status(
        issue_ids=[issue.pk for issue in issues], status="closed", actor=maya
    )
    assert Notification.objects.filter(recipient=liam).count() == 10_000
    jobs = ProcrastinateJob.objects.filter(task_name=notifications.SEND_TASK)
    assert sorted(job.args["recipient_id"] for job in jobs) == [liam.pk, noah.pk]
    send_all()
    assert sent_to() == ["liam@example.com", "noah@example.com"]
    assert "10000 issues changed" in mail.outbox[0].subject


def test_an_import_of_many_issues_e_mails_each_assignee_once():
    maya, liam = person("Maya"), person("Liam")
    rows = "".join(f"Issue {n},{liam.pk}\n" for n in range(2_000))
    result = services.issues_import(
        io.BytesIO(f"title,assignee_id\n{rows}".encode()), actor=maya, batch_size=500
    )
    assert result.created == 2_000
    assert Notification.objects.filter(recipient=liam).count() == 2_000
    assert Watch.objects.filter(user=maya).count() == 2_000  # the importer created them
    send_all()
    assert sent_to() == ["liam@example.com"]


# --- The watchers API.


def test_watchers_api_lists_adds_idempotently_and_removes(api):
    maya, noah = person("Maya"), person("Noah")
    issue = services.issue_create(title="Crash", actor=maya)
    assert [w["username"] for w in api.get(f"/issues/{issue.pk}/watchers").json()] == ["maya"]
    first = api.put(f"/issues/{issue.pk}/watchers/{noah.pk}")
    assert (first.status_code, first.json()) == (
        201,
        {"issue_id": issue.pk, "user_id": noah.pk, "watching": True},
    )
    assert api.put(f"/issues/{issue.pk}/watchers/{noah.pk}/").status_code == 200
    assert watching(issue.pk) == ["maya", "noah"]
    body = api.get(f"/issues/{issue.pk}/watchers/").json()
    assert body == [
        {"id": maya.pk, "name": "Maya", "username": "maya"},
        {"id": noah.pk, "name": "Noah", "username": "noah"},
    ]
    assert api.delete(f"/issues/{issue.pk}/watchers/{noah.pk}").status_code == 204
    assert api.delete(f"/issues/{issue.pk}/watchers/{noah.pk}").status_code == 204
    assert watching(issue.pk) == ["maya"]


@pytest.mark.parametrize("method", ["put", "delete"])
def test_watching_a_missing_issue_or_user_is_404_with_a_code_and_writes_nothing(api, method):
    maya = person("Maya")
    issue = IssueFactory.create()
    for path, code in (
        (f"/issues/999999/watchers/{maya.pk}", "issue_not_found"),
        (f"/issues/{issue.pk}/watchers/999999", "user_not_found"),
        (f"/issues/{issue.pk}/watchers/99999999999999999999999", "user_not_found"),
    ):
        answer = getattr(api, method)(path)
        assert (answer.status_code, answer.json()["code"]) == (404, code)
    missing = api.get("/issues/999999/watchers")
    assert (missing.status_code, missing.json()["code"]) == (404, "issue_not_found")
    assert Watch.objects.count() == 0


def test_with_auth_required_people_watch_only_themselves_unless_staff(api, settings):
    settings.TRACKER_REQUIRE_AUTH = True
    maya, noah = person("Maya"), person("Noah")
    staff = person("Sam", is_staff=True)
    issue = IssueFactory.create()
    assert api.put(f"/issues/{issue.pk}/watchers/{noah.pk}").status_code == 401
    api.force_authenticate(maya)
    refused = api.put(f"/issues/{issue.pk}/watchers/{noah.pk}")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_yourself")
    assert api.delete(f"/issues/{issue.pk}/watchers/{noah.pk}").status_code == 403
    assert api.put(f"/issues/{issue.pk}/watchers/{maya.pk}").status_code == 201
    api.force_authenticate(staff)
    assert api.put(f"/issues/{issue.pk}/watchers/{noah.pk}").status_code == 201
    assert watching(issue.pk) == ["maya", "noah"]


# --- The inbox API.


def test_notifications_are_the_authenticated_users_newest_first_and_paginated(api):
    maya, liam = person("Maya"), person("Liam")
    issue = services.issue_create(title="Crash", actor=maya, assignee_id=liam.pk)
    for n in range(3):
        services.comment_add(issue_id=issue.pk, actor=maya, body=f"Note {n}")
    assert api.get("/notifications").status_code == 401
    api.force_authenticate(maya)
    assert api.get("/notifications").json() == []
    api.force_authenticate(liam)
    answer = api.get("/notifications?per_page=2")
    rows = answer.json()
    assert [row["event"] for row in rows] == ["comment_added", "comment_added"]
    assert rows[0]["details"]["body"] == "Note 2"
    assert rows[0]["actor"] == {"id": maya.pk, "name": "Maya", "username": "maya"}
    assert rows[0]["read"] is False and rows[0]["issue_title"] == "Crash"
    assert 'rel="next"' in answer["Link"]
    rest = api.get(answer["Link"].split(">")[0].lstrip("<")).json()
    assert [row["event"] for row in rest] == ["comment_added", "issue_created"]


def test_mark_read_by_ids_or_all_and_filter_unread(api):
    maya, liam = person("Maya"), person("Liam")
    issue = services.issue_create(title="Crash", actor=maya, assignee_id=liam.pk)
    services.comment_add(issue_id=issue.pk, actor=maya, body="Note")
    other = services.issue_create(title="Other", actor=liam, assignee_id=maya.pk)
    mayas = Notification.objects.get(recipient=maya, issue_id=other.pk)
    api.force_authenticate(liam)
    newest, oldest = (row["id"] for row in api.get("/notifications").json())
    answer = api.post("/notifications/read", {"ids": [newest, mayas.pk]}, format="json")
    assert answer.json() == {"marked": 1, "unread": 1}
    assert [row["id"] for row in api.get("/notifications?unread=true").json()] == [oldest]
    assert [row["id"] for row in api.get("/notifications?unread=false").json()] == [newest]
    assert api.post("/notifications/read", {"all": True}, format="json").json() == {
        "marked": 1,
        "unread": 0,
    }
    mayas.refresh_from_db()
    assert mayas.read_at is None  # someone else's stays unread


@pytest.mark.parametrize(
    "body",
    [
        *({}, {"ids": []}, {"ids": ["x"]}, {"ids": [0]}, {"nope": 1}, [1]),
        # Only JSON's own true and false: the schema allows nothing else.
        *({"all": "maybe"}, {"all": 0}, {"all": 1, "ids": [1]}, {"all": "true"}),
    ],
)
def test_mark_read_refuses_bad_input_with_400(api, body):
    api.force_authenticate(person("Liam"))
    answer = api.post("/notifications/read", body, format="json")
    assert answer.status_code == 400
    assert "code" in answer.json()


@pytest.mark.parametrize("body", [{}, {"ids": []}, {"all": False}])
def test_mark_read_needs_ids_or_all(api, body):
    api.force_authenticate(person("Liam"))
    answer = api.post("/notifications/read", body, format="json")
    assert (answer.status_code, answer.json()["code"]) == (400, "ids_or_all")


def test_bad_unread_filter_is_400_and_anonymous_mark_read_401(api):
    assert api.post("/notifications/read", {"all": True}, format="json").status_code == 401
    api.force_authenticate(person("Liam"))
    assert api.get("/notifications?unread=perhaps").status_code == 400


def test_the_inbox_list_has_a_query_budget(api, django_assert_max_num_queries):
    maya, liam = person("Maya"), person("Liam")
    for n in range(5):
        services.issue_create(title=f"Crash {n}", actor=maya, assignee_id=liam.pk)
    api.force_authenticate(liam)
    with django_assert_max_num_queries(3):
        assert len(api.get("/notifications").json()) == 5


# --- assignee_id=me.


def test_assignee_me_filters_to_the_signed_in_user_and_is_400_anonymous(api):
    maya, liam = person("Maya"), person("Liam")
    mine = services.issue_create(title="Mine", actor=maya, assignee_id=liam.pk)
    services.issue_create(title="Hers", actor=maya, assignee_id=maya.pk)
    anonymous = api.get("/issues?assignee_id=me")
    assert (anonymous.status_code, anonymous.json()["code"]) == (400, "login_required")
    assert "assignee_id" in anonymous.json()["errors"]
    api.force_authenticate(liam)
    assert [row["id"] for row in api.get("/issues?assignee_id=ME").json()] == [mine.pk]


def test_watchers_and_notifications_answer_as_the_schema_says(api):
    from drf_spectacular.generators import SchemaGenerator

    from .test_openapi import assert_matches

    schema = SchemaGenerator().get_schema(request=None, public=True)
    maya, liam = person("Maya"), person("Liam")
    issue = services.issue_create(title="Crash", actor=maya, assignee_id=liam.pk)
    path = "/issues/{issue_id}/watchers"
    assert_matches(schema, path, "get", api.get(f"/issues/{issue.pk}/watchers"))
    one = "/issues/{issue_id}/watchers/{user_id}"
    assert_matches(schema, one, "put", api.put(f"/issues/{issue.pk}/watchers/{maya.pk}"))
    assert_matches(schema, one, "put", api.put(f"/issues/{issue.pk}/watchers/{maya.pk}"))
    assert_matches(schema, one, "put", api.put(f"/issues/{issue.pk}/watchers/999999"))
    assert_matches(schema, "/notifications", "get", api.get("/notifications"))
    assert schema["paths"]["/notifications"]["get"]["security"] == [
        {"tokenAuth": []},
        {"basicAuth": []},
        {"cookieAuth": []},
    ]
    api.force_authenticate(liam)
    assert_matches(schema, "/notifications", "get", api.get("/notifications"))
    read = api.post("/notifications/read", {"all": True}, format="json")
    assert_matches(schema, "/notifications/read", "post", read)


def test_the_watchers_list_has_a_query_budget(api, django_assert_max_num_queries):
    issue = services.issue_create(title="Crash", actor=person("Maya"))
    for n in range(5):
        services.comment_add(issue_id=issue.pk, actor=person(f"P{n}"), body="Me too")
    with django_assert_max_num_queries(2):  # the issue exists, the page
        assert len(api.get(f"/issues/{issue.pk}/watchers").json()) == 6
