"""Webhook delivery latency: from a change's commit to its receiver getting it.

Makes a scratch database, starts one worker and a receiver on 127.0.0.1, registers a
webhook, then makes WEBHOOK_BENCH_CHANGES changes (default 1,000) through the services,
one commit each, paced at WEBHOOK_BENCH_RATE per second (default 20), and prints the p50
and p99 of commit -> received. Bounded: it gives up after WEBHOOK_BENCH_TIMEOUT seconds.

    .venv/bin/python bench/webhooks_bench.py   # on issuetracker_bench_webhooks
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# A scratch database beside DATABASE_URL's (this script empties its tables).
_base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/issuetracker")
os.environ["DATABASE_URL"] = _base.rsplit("/", 1)[0] + "/issuetracker_bench_webhooks"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "issuetracker.settings")
os.environ.setdefault("DJANGO_DEBUG", "true")
os.environ["TRACKER_WEBHOOK_ALLOW_PRIVATE"] = "true"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from tracker import services  # noqa: E402
from tracker.models import Webhook, WebhookDelivery  # noqa: E402
from tracker.services import webhooks  # noqa: E402
from tracker.tests.receivers import running_receiver  # noqa: E402
from tracker.tests.workers import running_worker, wait_until  # noqa: E402

CHANGES = int(os.environ.get("WEBHOOK_BENCH_CHANGES", "1000"))
RATE = float(os.environ.get("WEBHOOK_BENCH_RATE", "20"))
TIMEOUT = float(os.environ.get("WEBHOOK_BENCH_TIMEOUT", "300"))


def main() -> None:
    call_command("ensure_database", verbosity=0)
    call_command("migrate", verbosity=0)
    Webhook.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM procrastinate_jobs WHERE task_name = %s", [webhooks.DELIVER_TASK]
        )
    committed: dict[str, float] = {}
    with running_receiver() as receiver:
        webhooks.webhook_create(url=receiver.url, secret="bench")
        issue = services.issue_create(title="bench 0")
        with running_worker(concurrency=1, name="bench-worker"):
            wait_until(lambda: len(receiver.received) == 1, timeout=60)
            version = issue.version
            started = time.monotonic()
            for n in range(CHANGES):
                services.issue_update(issue_id=issue.pk, version=version, title=f"bench {n + 1}")
                committed[f"bench {n + 1}"] = time.time()  # the service returned: committed
                version += 1
                pause = started + (n + 1) / RATE - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            wait_until(lambda: len(receiver.received) == CHANGES + 1, timeout=TIMEOUT, every=0.2)
    latencies = []
    for received in receiver.received[1:]:
        title = json.loads(received.body)["issue"]["title"]
        latencies.append((received.at - committed[title]) * 1000)
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"{len(latencies)} changes at {RATE:g}/s, one worker: delivery latency "
        f"p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, "
        f"max {latencies[-1]:.1f} ms; "
        f"{WebhookDelivery.objects.filter(status='succeeded').count()} deliveries succeeded"
    )


if __name__ == "__main__":
    main()
