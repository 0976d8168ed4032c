"""Outgoing webhooks: the staff API, the addresses refused, and the deliveries written by the
events' outbox in the change's transaction (the sending itself: test_webhook_delivery.py)."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from django.db import transaction
from procrastinate.contrib.django.models import ProcrastinateJob

from tracker import services
from tracker.models import Webhook, WebhookDelivery
from tracker.services import webhooks

from .factories import UserFactory

pytestmark = pytest.mark.django_db

TASK = "tracker.tasks.deliver_webhooks"
URL = "https://hooks.example.com/tracker"


@pytest.fixture(autouse=True)
def allow_private(settings):
    settings.TRACKER_WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture
def staff_api(api):
    api.force_authenticate(UserFactory.create(name="Staff", is_staff=True))
    return api


def make_webhook(**fields) -> Webhook:
    return webhooks.webhook_create(
        **{"url": "http://127.0.0.1:8209/hook", "secret": "s3cret", **fields}
    )


def delivery_jobs() -> list[ProcrastinateJob]:
    return list(ProcrastinateJob.objects.filter(task_name=TASK).order_by("id"))


# --- The API.


@pytest.mark.parametrize("require_auth", [False, True])
def test_webhooks_are_staff_only_in_every_mode(api, settings, require_auth):
    settings.TRACKER_REQUIRE_AUTH = require_auth
    webhook = make_webhook()
    paths = ["/webhooks", f"/webhooks/{webhook.pk}", f"/webhooks/{webhook.pk}/deliveries"]
    for path in paths:
        assert api.get(path).status_code == 401
    assert api.post("/webhooks", {"url": URL, "secret": "x"}, format="json").status_code == 401
    api.force_authenticate(UserFactory.create(name="Not staff"))
    for path in paths:
        assert api.get(path).status_code == 403
    assert api.delete(f"/webhooks/{webhook.pk}").status_code == 403
    assert Webhook.objects.count() == 1


def test_create_read_change_delete_and_the_secret_is_never_shown(staff_api, settings):
    settings.TRACKER_WEBHOOK_ALLOW_PRIVATE = False
    created = staff_api.post(
        "/webhooks",
        {"url": URL, "secret": "s3cret", "events": ["issue_closed", "issue_created"]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert set(body) == {"id", "url", "events", "active", "created_at", "updated_at"}
    assert (body["url"], body["events"], body["active"]) == (
        URL,
        ["issue_created", "issue_closed"],
        True,
    )
    path = f"/webhooks/{body['id']}"
    assert "secret" not in staff_api.get(path).json()
    assert [hook["id"] for hook in staff_api.get("/webhooks/").json()] == [body["id"]]
    changed = staff_api.patch(path, {"active": False, "secret": "new"}, format="json")
    assert changed.status_code == 200 and "secret" not in changed.json()
    assert changed.json()["active"] is False
    assert Webhook.objects.get().secret == "new"
    assert staff_api.delete(path).status_code == 204
    missing = staff_api.get(path)
    assert (missing.status_code, missing.json()["code"]) == (404, "webhook_not_found")


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"url": "ftp://example.com/x"}, "url", "invalid_url"),
        ({"url": "not a url"}, "url", "invalid_url"),
        ({"url": "http://user:pw@example.com/"}, "url", "invalid_url"),
        ({"events": ["issue_deleted"]}, "events", "invalid_choice"),
        ({"secret": ""}, "secret", "blank"),
        ({"colour": "red"}, "colour", "unknown_field"),
    ],
)
def test_invalid_webhooks_are_a_400_naming_the_field(staff_api, fields, field, code):
    response = staff_api.post("/webhooks", {"url": URL, "secret": "s", **fields}, format="json")
    assert response.status_code == 400
    assert (response.json()["code"], list(response.json()["errors"])) == (code, [field])


def test_unknown_events_are_refused_by_the_service():
    with pytest.raises(Exception) as caught:
        webhooks.webhook_create(url=URL, secret="s", events=["nope"])
    assert caught.value.error_dict["events"][0].code == "invalid_event"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8201/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://240.0.0.1/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://2130706433/hook",
    ],
)
def test_addresses_of_private_networks_are_refused(staff_api, settings, url):
    settings.TRACKER_WEBHOOK_ALLOW_PRIVATE = False
    response = staff_api.post("/webhooks", {"url": url, "secret": "s"}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "url_not_allowed"
    assert not Webhook.objects.exists()


def test_a_private_address_is_refused_on_change_too(staff_api, settings):
    webhook = make_webhook()
    settings.TRACKER_WEBHOOK_ALLOW_PRIVATE = False
    response = staff_api.patch(
        f"/webhooks/{webhook.pk}", {"url": "http://127.0.0.1/x"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (400, "url_not_allowed")


def test_deliveries_are_listed_newest_first_with_pages(staff_api):
    webhook = make_webhook()
    issue = services.issue_create(title="one")
    for version in (1, 2, 3):
        services.issue_update(issue_id=issue.pk, version=version, title=f"t{version}")
    first = staff_api.get(f"/webhooks/{webhook.pk}/deliveries?per_page=3")
    assert first.status_code == 200
    assert [d["version"] for d in first.json()] == [4, 3, 2]
    assert 'rel="next"' in first["Link"]
    assert "body" in first.json()[0] and "secret" not in first.json()[0]
    next_url = first["Link"].split(">")[0].lstrip("<")
    assert [d["version"] for d in staff_api.get(next_url).json()] == [1]


def test_redeliver_resets_the_delivery_and_queues_a_job(staff_api):
    webhook = make_webhook()
    services.issue_create(title="one")
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=8)
    path = f"/webhooks/{webhook.pk}/deliveries/{delivery.delivery_id}/redeliver"
    response = staff_api.post(path)
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["attempts"]) == ("pending", 0)
    assert [job.args for job in delivery_jobs()][-1] == {
        "webhook_id": webhook.pk,
        "delivery_ids": [delivery.pk],
    }
    other = staff_api.post(
        f"/webhooks/{webhook.pk}/deliveries/00000000-0000-0000-0000-000000000000/redeliver"
    )
    assert (other.status_code, other.json()["code"]) == (404, "delivery_not_found")


# --- The outbox: deliveries written with the events.


def test_a_change_without_webhooks_writes_no_delivery_and_no_job():
    services.issue_create(title="quiet")
    assert WebhookDelivery.objects.count() == 0
    assert delivery_jobs() == []


def test_a_delivery_holds_the_issue_at_its_version_and_the_change(api):
    webhook = make_webhook()
    actor = UserFactory.create(name="Ann")
    issue = services.issue_create(title="first", actor=actor)
    expected = api.get(f"/issues/{issue.pk}").json()
    services.comment_add(issue_id=issue.pk, body="hi", actor=actor)
    services.issue_update(issue_id=issue.pk, version=1, title="second", status="closed")
    deliveries = list(WebhookDelivery.objects.order_by("id"))
    assert (deliveries[0].event, deliveries[0].version) == ("issue_created", 1)
    assert {(d.event, d.version) for d in deliveries[2:]} == {
        ("title_changed", 2),
        ("issue_closed", 2),
    }
    body = json.loads(deliveries[0].body)
    assert list(body) == [
        "event",
        "delivery_id",
        "issue",
        "details",
        "actor_id",
        "source",
        "timestamp",
    ]
    expected.pop("comments")
    assert body["issue"] == expected
    assert (body["event"], body["delivery_id"]) == ("issue_created", str(deliveries[0].delivery_id))
    assert (body["actor_id"], body["source"]) == (actor.pk, "api")
    assert body["details"]["title"] == "first"
    comment = json.loads(deliveries[1].body)
    assert (comment["event"], comment["issue"]["version"]) == ("comment_added", 1)
    assert all(d.webhook_id == webhook.pk and d.status == "pending" for d in deliveries)
    assert len(delivery_jobs()) == 3, "one job per change"


def test_a_rolled_back_change_leaves_no_delivery_and_no_job():
    make_webhook()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.issue_create(title="lost")
        assert WebhookDelivery.objects.count() == 1
        raise RuntimeError("the change fails")
    assert WebhookDelivery.objects.count() == 0
    assert delivery_jobs() == []


def test_a_webhook_gets_only_its_events_and_an_inactive_one_none():
    closed_only = make_webhook(events=["issue_closed"])
    make_webhook(active=False)
    issue = services.issue_create(title="x")
    services.issue_update(issue_id=issue.pk, version=1, status="closed")
    assert list(WebhookDelivery.objects.values_list("webhook_id", "event")) == [
        (closed_only.pk, "issue_closed")
    ]


def test_a_bulk_change_is_one_delivery_per_issue_and_one_job_per_webhook(api):
    hooks = [make_webhook(), make_webhook()]
    ids = [services.issue_create(title=f"i{n}").pk for n in range(30)]
    before = len(delivery_jobs())
    response = api.post(
        "/issues/bulk-status", {"issue_ids": ids, "status": "closed"}, format="json"
    )
    assert response.status_code == 200
    jobs = delivery_jobs()[before:]
    assert len(jobs) == 2
    for hook, job in zip(hooks, jobs, strict=True):
        sent = WebhookDelivery.objects.filter(webhook=hook, event="issue_closed").order_by("id")
        assert job.lock == f"webhook-{hook.pk}"
        assert job.args["delivery_ids"] == [d.pk for d in sent]
        assert [d.issue_id for d in sent] == ids
        assert {json.loads(d.body)["issue"]["version"] for d in sent} == {2}


def test_an_import_is_one_job_per_batch_per_webhook():
    make_webhook()
    rows = "".join(f"issue {n}\n" for n in range(25))
    services.issues_import(io.BytesIO(f"title\n{rows}".encode()), batch_size=10)
    assert WebhookDelivery.objects.filter(event="issue_created").count() == 25
    assert [len(job.args["delivery_ids"]) for job in delivery_jobs()] == [10, 10, 5]


def test_old_finished_deliveries_are_pruned():
    from datetime import timedelta

    from django.utils import timezone

    from tracker.models import Webhook, WebhookDelivery
    from tracker.services import webhooks

    hook = Webhook.objects.create(url="https://example.com/hook", secret="s")
    old = timezone.now() - timedelta(hours=200)
    for status in ("succeeded", "failed", "pending"):
        WebhookDelivery.objects.create(
            webhook=hook,
            delivery_id=uuid.uuid4(),
            event="issue_created",
            issue_id=1,
            body="{}",
            status=status,
            created_at=old,
        )
    WebhookDelivery.objects.create(
        webhook=hook,
        delivery_id=uuid.uuid4(),
        event="issue_created",
        issue_id=1,
        body="{}",
        status="succeeded",
    )
    assert webhooks.deliveries_prune(168) == 2
    assert sorted(WebhookDelivery.objects.values_list("status", flat=True)) == [
        "pending",
        "succeeded",
    ]
