"""Notification e-mails sent by real worker processes: to files, and to a real SMTP server
on loopback (aiosmtpd), read back as a mail client would."""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from django.db import transaction
from django.test import Client
from procrastinate.contrib.django.models import ProcrastinateJob

from tracker import services
from tracker.models import JobFailure, Notification, User
from tracker.services import jobs, notifications

from .factories import UserFactory
from .workers import running_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

# Ports for the test mail servers (the range this checkout's tests may use).
SMTP_PORTS = range(8326, 8330)


@pytest.fixture(autouse=True)
def email_on(settings):
    settings.TRACKER_EMAIL_ENABLED = True
    settings.TRACKER_EMAIL_DELAY_SECONDS = 0


def free_port() -> int:
    for port in SMTP_PORTS:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise AssertionError(f"no free port in {SMTP_PORTS}")


class Inbox(Message):
    """An SMTP server's mailbox: every message it accepted, parsed as a mail client does."""

    def __init__(self) -> None:
        super().__init__(message_class=EmailMessage)
        self.messages: list[EmailMessage] = []

    def prepare_message(self, session, envelope):
        return email.message_from_bytes(envelope.content, policy=email.policy.default)

    def handle_message(self, message) -> None:
        self.messages.append(message)


def smtp_server(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox


def test_a_worker_writes_one_e_mail_per_person_to_the_file_backend(tmp_path: Path):
    ann = UserFactory.create(name="Ann", email="ann@example.com")
    bob = UserFactory.create(name="Bob", email="bob@example.com")
    issue = services.issue_create(title="Login bug", actor=ann, assignee_id=bob.pk)
    services.comment_add(issue_id=issue.pk, actor=ann, body="Please look")
    env = {"EMAIL_URL": f"filemail:///{tmp_path}"}
    with running_worker(env=env):
        wait_until(lambda: not Notification.objects.filter(emailed_at__isnull=True).exists())
    (written,) = list(tmp_path.iterdir())
    text = written.read_text()
    assert text.count("Subject: [Tracker]") == 1
    assert "To: bob@example.com" in text
    assert "Ann created the issue and assigned it to you" in text
    assert "Please look" in text


def test_an_e_mail_through_a_real_smtp_server_reads_as_a_mail_client_shows_it():
    port = free_port()
    controller, inbox = smtp_server(port)
    try:
        ann = UserFactory.create(name="Ann", email="ann@example.com")
        bob = UserFactory.create(name="Bob", email="bob@example.com")
        issue = services.issue_create(title="Crash on save", actor=ann, assignee_id=bob.pk)
        env = {
            "EMAIL_URL": f"smtp://127.0.0.1:{port}",
            "TRACKER_BASE_URL": "http://testserver",
            "DEFAULT_FROM_EMAIL": "Tracker <tracker@example.com>",
        }
        with running_worker(env=env):
            wait_until(lambda: inbox.messages)
    finally:
        controller.stop()

    (message,) = inbox.messages
    assert message["To"] == "bob@example.com"
    assert message["From"] == "Tracker <tracker@example.com>"
    assert message["Subject"] == f"[Tracker] #{issue.pk} Crash on save"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert f"http://testserver/ui/issues/{issue.pk}/" in plain.get_content()
    assert f'href="http://testserver/ui/issues/{issue.pk}/"' in html.get_content()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(message["List-Unsubscribe"]).strip().removeprefix("<").removesuffix(">")
    assert link.startswith("http://testserver/ui/unsubscribe/")

    # The one-click POST a mail client makes, with no cookie or login.
    answer = Client().post(
        link.removeprefix("http://testserver"), {"List-Unsubscribe": "One-Click"}
    )
    assert answer.status_code == 200
    assert not User.objects.get(pk=bob.pk).email_notifications


def test_a_failing_mail_server_is_retried_until_it_answers():
    port = free_port()
    ann = UserFactory.create(name="Ann", email="ann@example.com")
    bob = UserFactory.create(name="Bob", email="bob@example.com")
    services.issue_create(title="Crash on save", actor=ann, assignee_id=bob.pk)
    with running_worker(env={"EMAIL_URL": f"smtp://127.0.0.1:{port}"}):
        wait_until(lambda: JobFailure.objects.exists())
        assert Notification.objects.get().emailed_at is None
        controller, inbox = smtp_server(port)
        try:
            wait_until(lambda: inbox.messages, timeout=60)
        finally:
            controller.stop()
    wait_until(lambda: Notification.objects.get().emailed_at is not None)
    assert len(inbox.messages) == 1


def test_two_workers_never_send_one_notification_twice(tmp_path: Path):
    ann = UserFactory.create(name="Ann", email="ann@example.com")
    people = [UserFactory.create(name=f"P{n}", email=f"p{n}@example.com") for n in range(20)]
    for someone in people:
        services.issue_create(title=f"For {someone.name}", actor=ann, assignee_id=someone.pk)
    # Extra jobs for everyone, as two changes racing past each other's waiting job would make.
    with transaction.atomic():
        jobs.defer_batch(
            notifications.SEND_TASK, [{"recipient_id": p.pk} for p in people for _ in range(3)]
        )
    env = {"EMAIL_URL": f"filemail:///{tmp_path}"}
    with running_worker(name="one", env=env), running_worker(name="two", env=env):
        wait_until(lambda: not Notification.objects.filter(emailed_at__isnull=True).exists())
        wait_until(
            lambda: not ProcrastinateJob.objects.filter(status__in=["todo", "doing"]).exists(),
            timeout=60,
        )
    sent = "".join(path.read_text() for path in tmp_path.iterdir())
    recipients = sorted(line for line in sent.splitlines() if line.startswith("To: "))
    assert recipients == sorted(f"To: {p.email}" for p in people)
