"""Outgoing webhooks: staff register an address; every event of the issues reaches it as a
signed POST sent by a worker.

The deliveries are written by an outbox of `events.record` (see `Outbox`), in the statement
that writes the events: each holds the exact body to send, with the issue as it was right
after that event, built by PostgreSQL in the change's transaction (the issue's part by a
second statement, run only when a delivery was written). One queued job per
change (or per bulk/import batch) per webhook sends them; all the jobs of a webhook share the
lock `webhook-<id>`, which procrastinate runs one at a time in the order they were deferred,
a job waiting for its retry included, so a receiver gets an issue's events in version order.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import math
import socket
import ssl
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Func, JSONField, Value
from django.db.models.functions import Now
from django.utils import timezone

from issuetracker.postgresql.base import prepared_cursor
from tracker.errors import DeliveryNotFound, WebhookNotFound
from tracker.models import IssueEvent, Webhook, WebhookDelivery
from tracker.rules import invalid
from tracker.selectors_json import ISSUE_SQL

from . import events, jobs
from .events import Change

Status = WebhookDelivery.Status
EVENT_NAMES = tuple(IssueEvent.Kind.values)
MAX_ATTEMPTS = 8
SNIPPET_CHARS = 1000
USER_AGENT = "IssueTracker-Webhook/1.0"
DELIVER_TASK = "tracker.tasks.deliver_webhooks"
URL_MAX = Webhook._meta.get_field("url").max_length or 2000
SECRET_MAX = Webhook._meta.get_field("secret").max_length or 255


class DeliveryToRetry(Exception):
    """A delivery failed in a way worth another try (5xx, timeout, connection): the job
    that sends it is retried in `wait` seconds (tasks.DeliveryRetryStrategy)."""

    def __init__(self, delivery_id: int, wait: float) -> None:
        super().__init__(f"delivery {delivery_id} to retry in {wait:g} s")
        self.wait = wait


# --- Addresses: http(s) only, and not to the tracker's own network.


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


class RefusedAddress(Exception):
    pass


def url_parse(url: str) -> Target:
    """The parts of an http(s) URL; raises ValidationError (code `invalid_url`)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise invalid("url", "Enter a valid http or https URL", "invalid_url") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid("url", "Enter a valid http or https URL", "invalid_url")
    if parts.username or parts.password:
        raise invalid("url", "The URL may not hold a user name or password", "invalid_url")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default_port = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, parts.hostname, port or default_port, path)


def _refused(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def addresses_allowed(target: Target) -> list[str]:
    """The addresses `target`'s host resolves to, all of them allowed; raises RefusedAddress
    when one is loopback, private, link-local, multicast, reserved or unspecified (unless
    TRACKER_WEBHOOK_ALLOW_PRIVATE), and OSError when it does not resolve."""
    infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not settings.TRACKER_WEBHOOK_ALLOW_PRIVATE:
        refused = [address for address in addresses if _refused(address)]
        if refused:
            raise RefusedAddress(
                f"{target.host} resolves to {refused[0]}, a loopback, private, link-local, "
                "multicast or reserved address"
            )
    return addresses


def url_check(url: str) -> str:
    """`url` if webhooks may be sent to it; raises ValidationError with code `invalid_url`
    or `url_not_allowed` (its host resolves to an address of a private network). A host
    that does not resolve yet is accepted: every delivery resolves and checks it again."""
    url = url.strip()
    if len(url) > URL_MAX:
        raise invalid("url", f"The URL may hold at most {URL_MAX} characters", "invalid_url")
    target = url_parse(url)
    if settings.TRACKER_WEBHOOK_ALLOW_PRIVATE:
        return url
    try:
        addresses_allowed(target)
    except RefusedAddress as exc:
        raise invalid("url", str(exc), "url_not_allowed") from exc
    except (OSError, UnicodeError):
        # Not resolvable now (offline, not yet published): each delivery checks again.
        return url
    return url


def events_check(names: Sequence[str]) -> list[str]:
    unknown = sorted(set(names) - set(EVENT_NAMES))
    if unknown:
        raise invalid(
            "events",
            f"Unknown event {unknown[0]!r}; events are: {', '.join(EVENT_NAMES)}",
            "invalid_event",
        )
    return sorted(set(names), key=EVENT_NAMES.index)


def secret_check(secret: str) -> str:
    if not secret or not secret.strip():
        raise invalid("secret", "The secret may not be blank", "blank")
    if len(secret) > SECRET_MAX:
        raise invalid("secret", f"The secret may hold at most {SECRET_MAX} characters", "invalid")
    return secret


# --- Webhooks.


def webhook_get(webhook_id: int) -> Webhook:
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if webhook is None:
        raise WebhookNotFound()
    return webhook


def webhook_create(
    *, url: str, secret: str, events: Sequence[str] = (), active: bool = True
) -> Webhook:
    return Webhook.objects.create(
        url=url_check(url), secret=secret_check(secret), events=events_check(events), active=active
    )


def webhook_update(*, webhook_id: int, **changes: Any) -> Webhook:
    """Changes any of `url`, `secret`, `events`, `active`."""
    unknown = set(changes) - {"url", "secret", "events", "active"}
    if unknown:
        raise ValidationError(f"Unknown fields: {', '.join(sorted(unknown))}", code="invalid")
    with transaction.atomic():
        webhook = Webhook.objects.select_for_update().filter(pk=webhook_id).first()
        if webhook is None:
            raise WebhookNotFound()
        if "url" in changes:
            webhook.url = url_check(changes["url"])
        if "secret" in changes:
            webhook.secret = secret_check(changes["secret"])
        if "events" in changes:
            webhook.events = events_check(changes["events"])
        if "active" in changes:
            webhook.active = bool(changes["active"])
        webhook.updated_at = timezone.now()
        webhook.save()
    return webhook


def webhook_delete(*, webhook_id: int) -> None:
    """Deletes the webhook and its deliveries; its queued jobs then find nothing to send."""
    deleted, _ = Webhook.objects.filter(pk=webhook_id).delete()
    if not deleted:
        raise WebhookNotFound()


def delivery_redeliver(*, webhook_id: int, delivery_id: uuid.UUID | str) -> WebhookDelivery:
    """Sends a delivery again (the same body and delivery id), after the webhook's queued
    deliveries, with MAX_ATTEMPTS attempts of its own."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .filter(webhook_id=webhook_id, delivery_id=delivery_id)
            .first()
        )
        if delivery is None:
            raise DeliveryNotFound()
        delivery.status = Status.PENDING
        delivery.attempts = 0
        delivery.save(update_fields=["status", "attempts"])
        _defer_send(webhook_id, [delivery.pk])
    return delivery


# --- The outbox: deliveries written with the events, jobs deferred for them.


def _outbox_sql() -> str:
    # Everything of the body but the issue, in the server's time zone; `ev` and the change's
    # parameters come from events.record. The issue is added by _body_sql(), only when a
    # delivery was written: every change runs this statement, and building the issue's JSON
    # here would cost its planning to every change, webhooks or none.
    tz = _quoted_time_zone()
    return f"""
        INSERT INTO webhook_deliveries (webhook_id, delivery_id, event, issue_id, version, body,
            status, attempts, error, response_snippet, log, created_at)
        SELECT d.webhook_id, gen_random_uuid(), d.event, d.issue_id, d.version,
            json_build_object('details', d.details, 'actor_id', %(actor_id)s::bigint,
                'source', %(source)s::text,
                'timestamp', tracker_isoformat(%(at)s::timestamptz, {tz}))::text,
            'pending', 0, '', '', '[]'::jsonb, %(at)s::timestamptz
        FROM (
            SELECT webhooks.id AS webhook_id, ev.event, ev.issue_id, ev.version, ev.details
            FROM ev
            JOIN webhooks ON webhooks.active
                AND (cardinality(webhooks.events) = 0 OR ev.event = ANY(webhooks.events))
            ORDER BY webhooks.id, ev.issue_id, ev.version
            OFFSET 0
        ) AS d
        RETURNING webhook_id, id
    """


def _body_sql() -> str:
    # The body the receiver gets: the issue as GET /issues/{id} shows it (without comments)
    # as the change left it (still the change's transaction, the issue still locked by it).
    tz = _quoted_time_zone()
    issue = ISSUE_SQL.replace("%(tz)s", tz)
    return f"""
        UPDATE webhook_deliveries AS d SET body = json_build_object(
            'event', d.event, 'delivery_id', d.delivery_id, 'issue', {issue},
            'details', d.body::json -> 'details', 'actor_id', d.body::json -> 'actor_id',
            'source', d.body::json -> 'source', 'timestamp', d.body::json -> 'timestamp')::text
        FROM issues
        WHERE d.id = ANY(%(ids)s::bigint[]) AND issues.id = d.issue_id
    """


def _quoted_time_zone() -> str:
    return "'" + str(settings.TIME_ZONE).replace("'", "''") + "'"


def _deliveries_written(change: Change, rows: list[dict[str, Any]]) -> None:
    with prepared_cursor() as cursor:
        cursor.execute(_body_sql(), {"ids": sorted(row["id"] for row in rows)})
    by_webhook: dict[int, list[int]] = {}
    for row in rows:
        by_webhook.setdefault(row["webhook_id"], []).append(row["id"])
    for webhook_id, ids in sorted(by_webhook.items()):
        _defer_send(webhook_id, sorted(ids))


def _defer_send(webhook_id: int, delivery_ids: list[int]) -> None:
    jobs.defer(
        DELIVER_TASK,
        lock=f"webhook-{webhook_id}",
        webhook_id=webhook_id,
        delivery_ids=delivery_ids,
    )


def register_outbox() -> None:
    """Called once from TrackerConfig.ready()."""
    events.add_outbox(events.Outbox("webhooks", _outbox_sql(), _deliveries_written))


# --- Sending (the worker).


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_wait(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: exponential."""
    base = float(settings.TRACKER_WEBHOOK_RETRY_SECONDS)
    return base * 2.0 ** (attempts - 1)


@dataclass(slots=True)
class Attempt:
    status_code: int | None = None
    snippet: str = ""
    error: str = ""
    retry: bool = False
    duration_ms: int = 0

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked beforehand, not to what the host resolves to now."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def _post(url: str, body: bytes, headers: dict[str, str]) -> Attempt:
    target = url_parse(url)
    try:
        addresses = addresses_allowed(target)
    except RefusedAddress as exc:
        return Attempt(error=f"Refused: {exc}")
    except (OSError, UnicodeError) as exc:
        return Attempt(error=f"{target.host} does not resolve: {exc}", retry=True)
    timeout = float(settings.TRACKER_WEBHOOK_TIMEOUT_SECONDS)
    kind = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    conn = kind(target.host, target.port, address=addresses[0], timeout=timeout)
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read(4 * SNIPPET_CHARS)
    except (OSError, http.client.HTTPException) as exc:
        return Attempt(error=f"{type(exc).__name__}: {exc}"[:SNIPPET_CHARS], retry=True)
    finally:
        conn.close()
    snippet = raw.decode("utf-8", "replace")[:SNIPPET_CHARS].replace("\x00", "\ufffd")
    status = response.status
    error = "" if 200 <= status < 300 else f"HTTP {status}"
    return Attempt(status_code=status, snippet=snippet, error=error, retry=status >= 500)


def _attempt(webhook: Webhook, delivery: WebhookDelivery) -> Attempt:
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Tracker-Event": delivery.event,
        "X-Tracker-Delivery": str(delivery.delivery_id),
        "X-Tracker-Signature-256": signature(webhook.secret, body),
    }
    started = time.monotonic()
    attempt = _post(webhook.url, body, headers)
    attempt.duration_ms = math.ceil((time.monotonic() - started) * 1000)
    return attempt


class _JsonbAppend(Func):
    template = "(%(expressions)s)"
    arg_joiner = " || "
    output_field = JSONField()


def _log(delivery: WebhookDelivery, attempt: Attempt, status: str) -> None:
    entry = {
        "attempt": delivery.attempts + 1,
        "at": timezone.now().isoformat(),
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "error": attempt.error,
    }
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=status,
        attempts=F("attempts") + 1,
        last_status_code=attempt.status_code,
        duration_ms=attempt.duration_ms,
        error=attempt.error,
        response_snippet=attempt.snippet,
        log=_JsonbAppend(F("log"), Value([entry], output_field=JSONField())),
        delivered_at=Now() if status == Status.SUCCEEDED else None,
    )
    delivery.attempts += 1
    delivery.status = status


def deliveries_send(*, webhook_id: int, delivery_ids: Sequence[int]) -> None:
    """Sends the pending deliveries among `delivery_ids`, in order. A delivery that fails
    with a 5xx, a timeout or a lost connection stops the batch (later ones wait, to keep
    the order) and raises DeliveryToRetry, until its MAX_ATTEMPTS-th attempt marks it failed;
    any other failure (4xx, a refused address) marks it failed at once. Call from a worker:
    each attempt is written in its own transaction, whatever happens next."""
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if webhook is None:
        return
    pending = WebhookDelivery.objects.filter(
        webhook_id=webhook_id, pk__in=list(delivery_ids), status=Status.PENDING
    ).order_by("pk")
    for delivery in pending:
        if not webhook.active:
            attempt = Attempt(error="The webhook was deactivated")
            _log(delivery, attempt, Status.FAILED)
            continue
        attempt = _attempt(webhook, delivery)
        if attempt.succeeded:
            _log(delivery, attempt, Status.SUCCEEDED)
        elif attempt.retry and delivery.attempts + 1 < MAX_ATTEMPTS:
            _log(delivery, attempt, Status.PENDING)
            raise DeliveryToRetry(delivery.pk, retry_wait(delivery.attempts))
        else:
            _log(delivery, attempt, Status.FAILED)


def deliveries_prune(hours: int) -> int:
    """Forget finished deliveries older than `hours` (the log would otherwise grow with every
    change); returns how many. Pending ones stay, whatever their age."""
    cutoff = timezone.now() - timedelta(hours=hours)
    deleted, _ = WebhookDelivery.objects.filter(
        status__in=[WebhookDelivery.Status.SUCCEEDED, WebhookDelivery.Status.FAILED],
        created_at__lt=cutoff,
    ).delete()
    return deleted
