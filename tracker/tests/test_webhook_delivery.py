"""Webhook deliveries sent by a real worker to a real receiver on 127.0.0.1: signatures,
the snapshot at the event's version, retries, refusals and order."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from tracker import services
from tracker.models import WebhookDelivery
from tracker.services import webhooks

from .receivers import running_receiver
from .workers import running_worker, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

WORKER_ENV = {"TRACKER_WEBHOOK_ALLOW_PRIVATE": "true", "TRACKER_WEBHOOK_RETRY_SECONDS": "0.2"}


@pytest.fixture(autouse=True)
def allow_private(settings):
    settings.TRACKER_WEBHOOK_ALLOW_PRIVATE = True


def statuses() -> list[str]:
    return list(WebhookDelivery.objects.order_by("id").values_list("status", flat=True))


def test_a_signed_delivery_holds_the_issue_at_the_events_version(api):
    with running_receiver() as receiver:
        webhooks.webhook_create(url=receiver.url, secret="s3cret")
        issue = services.issue_create(title="first")
        at_v1 = api.get(f"/issues/{issue.pk}").json()
        services.issue_update(issue_id=issue.pk, version=1, title="second")
        at_v2 = api.get(f"/issues/{issue.pk}").json()
        with running_worker(env=WORKER_ENV):
            wait_until(lambda: len(receiver.received) == 2)
            wait_until(lambda: statuses() == ["succeeded", "succeeded"])
    first, second = receiver.received
    expected = "sha256=" + hmac.new(b"s3cret", first.body, hashlib.sha256).hexdigest()
    assert first.headers["X-Tracker-Signature-256"] == expected
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["X-Tracker-Event"] == "issue_created"
    assert first.headers["User-Agent"].startswith("IssueTracker-Webhook/")
    body = json.loads(first.body)
    assert first.headers["X-Tracker-Delivery"] == body["delivery_id"]
    at_v1.pop("comments")
    at_v2.pop("comments")
    assert body["issue"] == at_v1, "the first delivery shows version 1, not 2"
    assert json.loads(second.body)["issue"] == at_v2
    assert json.loads(second.body)["details"] == {"from": "first", "to": "second"}
    delivery = WebhookDelivery.objects.order_by("id").first()
    assert delivery is not None
    assert (delivery.attempts, delivery.last_status_code) == (1, 200)
    assert delivery.response_snippet == "answered 200"
    assert delivery.delivered_at is not None and delivery.body.encode() == first.body


def test_a_4xx_is_not_retried_and_a_5xx_is_until_it_succeeds():
    with running_receiver() as gone, running_receiver() as flaky:
        gone.then = 410
        flaky.answers = [503, 500]
        webhooks.webhook_create(url=gone.url, secret="a")
        webhooks.webhook_create(url=flaky.url, secret="b")
        services.issue_create(title="x")
        with running_worker(env=WORKER_ENV):
            wait_until(lambda: sorted(statuses()) == ["failed", "succeeded"], timeout=60)
        assert len(gone.received) == 1
        assert len(flaky.received) == 3
    failed = WebhookDelivery.objects.get(status="failed")
    assert (failed.attempts, failed.last_status_code, failed.error) == (1, 410, "HTTP 410")
    retried = WebhookDelivery.objects.get(status="succeeded")
    assert retried.attempts == 3
    assert [(e["attempt"], e["status_code"]) for e in retried.log] == [
        (1, 503),
        (2, 500),
        (3, 200),
    ]


def test_a_delivery_gives_up_after_eight_attempts():
    with running_receiver() as down:
        down.then = 502
        webhooks.webhook_create(url=down.url, secret="a")
        services.issue_create(title="x")
        env = {**WORKER_ENV, "TRACKER_WEBHOOK_RETRY_SECONDS": "0.01"}
        with running_worker(env=env):
            wait_until(lambda: statuses() == ["failed"], timeout=90)
        assert len(down.received) == webhooks.MAX_ATTEMPTS == 8
    assert WebhookDelivery.objects.get().attempts == 8


def test_a_private_address_is_refused_again_when_sending(settings):
    with running_receiver() as receiver:
        webhooks.webhook_create(url=receiver.url, secret="a")
        services.issue_create(title="x")
        env = {**WORKER_ENV, "TRACKER_WEBHOOK_ALLOW_PRIVATE": "false"}
        with running_worker(env=env):
            wait_until(lambda: statuses() == ["failed"])
        assert receiver.received == []
    delivery = WebhookDelivery.objects.get()
    assert delivery.attempts == 1 and delivery.error.startswith("Refused: 127.0.0.1 resolves")


def test_an_issues_events_arrive_in_version_order_across_retries():
    with running_receiver() as receiver:
        receiver.answers = [503]
        webhooks.webhook_create(url=receiver.url, secret="a")
        issue = services.issue_create(title="v1")
        for version in range(1, 6):
            services.issue_update(issue_id=issue.pk, version=version, title=f"v{version + 1}")
        ids = [services.issue_create(title=f"other {n}").pk for n in range(3)]
        services.issues_bulk_set_status(issue_ids=[issue.pk, *ids], status="closed")
        with running_worker(concurrency=4, env=WORKER_ENV):
            wait_until(lambda: set(statuses()) == {"succeeded"}, timeout=60)
    seen = [json.loads(r.body) for r in receiver.received]
    versions = [b["issue"]["version"] for b in seen if b["issue"]["id"] == issue.pk]
    assert versions == [1, 1, 2, 3, 4, 5, 6, 7], "the first, refused, is sent again first"
    assert len(seen) == 1 + 6 + 3 + 4
