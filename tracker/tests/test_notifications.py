"""Who is notified of a change, how e-mails combine, and opting out (in this process; see
test_notifications_worker.py for real workers and a real mail server)."""

from __future__ import annotations

import io
import re

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from procrastinate.contrib.django.models import ProcrastinateJob

from tracker import services
from tracker.models import Notification, User
from tracker.services import events, notifications

from .factories import UserFactory

pytestmark = pytest.mark.django_db

SEND = notifications.SEND_TASK


@pytest.fixture(autouse=True)
def email_on(settings):
    settings.TRACKER_EMAIL_ENABLED = True
    settings.TRACKER_EMAIL_DELAY_SECONDS = 60
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.TRACKER_BASE_URL = "https://tracker.example.com"


def person(name: str, **fields) -> User:
    return UserFactory.create(name=name, email=f"{name.lower()}@example.com", **fields)


def notified(**filters) -> list[tuple[str, str, str]]:
    return sorted(
        Notification.objects.filter(**filters).values_list("recipient__name", "event", "reason")
    )


def queued() -> list[int]:
    return sorted(
        job.args["recipient_id"] for job in ProcrastinateJob.objects.filter(task_name=SEND)
    )


def send(user: User) -> int:
    return notifications.notifications_email_send(recipient_id=user.pk)


def test_the_assignee_hears_of_being_assigned_and_the_watchers_of_changes_never_the_actor():
    ann, bob, cem = person("Ann"), person("Bob"), person("Cem")
    issue = services.issue_create(title="Login bug", actor=ann, assignee_id=bob.pk)
    assert notified() == [("Bob", "issue_created", "assignee")]

    issue = services.issue_update(
        issue_id=issue.pk, actor=bob, version=issue.version, assignee_id=cem.pk
    )
    assert notified(event="assignee_changed") == [
        ("Ann", "assignee_changed", "creator"),
        ("Cem", "assignee_changed", "assignee"),
    ]  # Bob unassigned himself: he is the actor
    services.comment_add(issue_id=issue.pk, actor=cem, body="On it")
    # Bob was assigned once, so he watches the issue still.
    assert notified(event="comment_added") == [
        ("Ann", "comment_added", "creator"),
        ("Bob", "comment_added", "watcher"),
    ]
    services.issue_update(issue_id=issue.pk, actor=ann, version=issue.version, status="closed")
    assert notified(event="issue_closed") == [
        ("Bob", "issue_closed", "watcher"),
        ("Cem", "issue_closed", "assignee"),
    ]


def test_someone_unassigned_by_another_hears_of_it():
    ann, bob = person("Ann"), person("Bob")
    issue = services.issue_create(title="Login bug", actor=bob, assignee_id=bob.pk)
    services.issue_update(issue_id=issue.pk, actor=ann, version=issue.version, assignee_id=None)
    assert notified() == [("Bob", "assignee_changed", "unassigned")]


def test_only_people_with_an_address_and_e_mail_on_are_e_mailed_only_active_ones_notified():
    ann = person("Ann")
    quiet = person("Quiet", email_notifications=False)
    nomail = UserFactory.create(name="Nomail")
    gone = person("Gone", is_active=False)
    for assignee in (quiet, nomail, gone):
        services.issue_create(title="Bug", actor=ann, assignee_id=assignee.pk)
    assert notified() == [  # their inbox
        ("Nomail", "issue_created", "assignee"),
        ("Quiet", "issue_created", "assignee"),
    ]
    assert queued() == []


def test_a_change_nobody_hears_of_costs_no_query_more_than_without_the_outbox(monkeypatch):
    ann = person("Ann")
    issue = services.issue_create(title="Bug", actor=ann, assignee_id=ann.pk)
    with CaptureQueriesContext(connection) as with_outbox:
        services.issue_update(issue_id=issue.pk, actor=ann, version=1, title="Bug!")
    monkeypatch.setattr(events, "_outboxes", {})
    with CaptureQueriesContext(connection) as without:
        services.issue_update(issue_id=issue.pk, actor=ann, version=2, title="Bug!!")
    assert len(with_outbox) == len(without)
    assert queued() == []


def test_changes_within_the_window_make_one_job_and_one_e_mail():
    ann, bob = person("Ann"), person("Bob")
    issue = services.issue_create(title="Login bug", actor=ann, assignee_id=bob.pk)
    issue = services.issue_update(issue_id=issue.pk, actor=ann, version=1, status="in_progress")
    services.comment_add(issue_id=issue.pk, actor=ann, body="Any news?\nIt <b>fails</b> again.")
    assert queued() == [bob.pk]
    job = ProcrastinateJob.objects.get(task_name=SEND)
    assert job.scheduled_at is not None

    assert send(bob) == 3
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["bob@example.com"]
    assert message.subject == f"[Tracker] #{issue.pk} Login bug"
    assert "Ann created the issue and assigned it to you" in message.body
    assert "Ann changed the status from open to in progress" in message.body
    assert "Any news?\nIt <b>fails</b> again." in message.body
    assert f"https://tracker.example.com/ui/issues/{issue.pk}/" in message.body
    html, kind = message.alternatives[0]  # type: ignore[attr-defined]
    assert kind == "text/html"
    assert "It &lt;b&gt;fails&lt;/b&gt; again." in html
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(
        r"<https://tracker\.example\.com/ui/unsubscribe/[^/]+/>",
        message.extra_headers["List-Unsubscribe"],
    )
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
    assert send(bob) == 0, "nothing is sent twice"
    assert len(mail.outbox) == 1


def test_a_job_already_running_does_not_swallow_later_changes():
    ann, bob = person("Ann"), person("Bob")
    services.issue_create(title="Bug", actor=ann, assignee_id=bob.pk)
    ProcrastinateJob.objects.filter(task_name=SEND).update(status="doing")
    services.issue_create(title="Bug 2", actor=ann, assignee_id=bob.pk)
    assert queued() == [bob.pk, bob.pk]


def test_a_bulk_change_sends_each_person_one_summary():
    ann, bob, cem = person("Ann"), person("Bob"), person("Cem")
    ids = [
        services.issue_create(title=f"Bug {n}", actor=bob, assignee_id=cem.pk).pk for n in range(60)
    ]
    Notification.objects.all().delete()
    ProcrastinateJob.objects.all().delete()
    services.issues_bulk_set_status(issue_ids=ids, status="closed", actor=ann)
    assert queued() == [bob.pk, cem.pk]
    assert send(cem) == 60
    (message,) = mail.outbox
    assert message.subject.startswith(f"[Tracker] 60 issues changed: #{ids[0]} Bug 0, ")
    assert message.body.count("Ann closed the issue") == notifications.EMAIL_MAX_ISSUES
    assert "… and 10 more issues: https://tracker.example.com/ui/issues/" in message.body


def test_an_e_mail_is_not_sent_to_someone_who_turned_it_off_meanwhile():
    ann, bob = person("Ann"), person("Bob")
    services.issue_create(title="Bug", actor=ann, assignee_id=bob.pk)
    services.user_update(user_id=bob.pk, actor=bob, email_notifications=False)
    assert send(bob) == 0
    assert mail.outbox == []


def test_a_failing_mail_server_marks_nothing_sent(settings, monkeypatch):
    ann, bob = person("Ann"), person("Bob")
    services.issue_create(title="Bug", actor=ann, assignee_id=bob.pk)

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    with pytest.raises(ConnectionRefusedError):
        send(bob)
    assert Notification.objects.get().emailed_at is None


def test_nothing_is_queued_while_e_mail_is_off(settings):
    settings.TRACKER_EMAIL_ENABLED = False
    ann, bob = person("Ann"), person("Bob")
    services.issue_create(title="Bug", actor=ann, assignee_id=bob.pk)
    assert notified() == [("Bob", "issue_created", "assignee")]
    assert queued() == []


# --- Unsubscribing.


def test_the_unsubscribe_link_works_without_login_in_one_click(client):
    bob = person("Bob")
    url = notifications.unsubscribe_url(bob).removeprefix("https://tracker.example.com")
    page = client.get(url)
    assert page.status_code == 200
    assert b"Stop e-mail notifications for Bob?" in page.content
    User.objects.filter(pk=bob.pk, email_notifications=True).get()  # a GET changes nothing
    answer = client.post(url, {"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert not User.objects.get(pk=bob.pk).email_notifications


def test_a_forged_unsubscribe_link_is_refused(client):
    bob = person("Bob")
    token = notifications.unsubscribe_token(bob)
    forged = token.replace(token[-3:], "xyz")
    answer = client.post(f"/ui/unsubscribe/{forged}/")
    assert answer.status_code == 400
    assert User.objects.get(pk=bob.pk).email_notifications


def test_an_import_in_batches_sends_each_assignee_one_summary():
    ann, bob = person("Ann"), person("Bob")
    rows = "".join(f"Imported {n},{bob.pk}\n" for n in range(25))
    result = services.issues_import(
        io.BytesIO(f"title,assignee_id\n{rows}".encode()), actor=ann, batch_size=10
    )
    assert result.created == 25
    assert queued() == [bob.pk]
    assert send(bob) == 25
    (message,) = mail.outbox
    assert message.subject.startswith("[Tracker] 25 issues changed: ")
    assert message.body.count("Ann created the issue and assigned it to you") == 25


def test_a_rolled_back_change_notifies_nobody():
    ann, bob = person("Ann"), person("Bob")
    with pytest.raises(RuntimeError), transaction.atomic():
        services.issue_create(title="Bug", actor=ann, assignee_id=bob.pk)
        assert queued() == [bob.pk]
        raise RuntimeError("the change fails")
    assert notified() == []
    assert queued() == []
