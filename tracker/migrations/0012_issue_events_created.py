"""An index of each issue's `issue_created` event, with its actor: the notifications outbox
asks who created the issue on every change, and without it reads the issue's whole timeline
(thousands of events on a busy issue) to find the one. Built CONCURRENTLY: a large timeline
stays writable meanwhile."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("tracker", "0011_search_statistics")]

    operations = [
        AddIndexConcurrently(
            model_name="issueevent",
            index=models.Index(
                condition=models.Q(event="issue_created"),
                fields=["issue"],
                include=["actor"],
                name="issue_events_created_idx",
            ),
        ),
    ]
