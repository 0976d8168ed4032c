from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tracker.models import Issue, IssueEvent, IssueLabel, Label, User
from tracker.rules import (
    clean_label_color,
    clean_label_description,
    clean_label_names,
    name_key,
)

from . import events

Source = IssueEvent.Source


def label_save(
    *, label: Label | None = None, name: str, color: str = "", description: str = ""
) -> Label:
    """Create a label, or rename and recolour an existing one. An empty `color` means none.
    Raises ValidationError (a name another label already has, whatever its case)."""
    label = label_check(label=label, name=name, color=color, description=description)
    label.save()
    return label


def label_check(
    *, label: Label | None = None, name: str, color: str = "", description: str = ""
) -> Label:
    """The label with these values set and checked, not saved (forms check before saving).
    Raises ValidationError."""
    [clean_name] = clean_label_names([name])
    label = label or Label()
    label.name = clean_name
    label.key = name_key(clean_name)
    label.color = clean_label_color(color)
    label.description = clean_label_description(description)
    label.validate_constraints()
    return label


def label_delete(*, label_id: int, actor: User | None = None, source: str = Source.ADMIN) -> None:
    """Delete a label. Every issue that carried it gets a new version and a
    `labels_changed` event, so the timelines stay complete."""
    actor = events.recorded_actor(actor)
    with transaction.atomic():
        label = Label.objects.select_for_update().filter(pk=label_id).first()
        if label is None:
            return
        versions = dict(
            Issue.objects.select_for_update()
            .filter(labels=label)
            .order_by("id")
            .values_list("id", "version")
        )
        issue_ids = list(versions)
        if issue_ids:
            now = timezone.now()
            remaining: dict[int, list[str]] = {pk: [] for pk in issue_ids}
            for issue_id, name in (
                IssueLabel.objects.filter(issue_id__in=issue_ids)
                .exclude(label=label)
                .values_list("issue_id", "label__name")
            ):
                remaining[issue_id].append(name)
            Issue.objects.filter(pk__in=issue_ids).update(version=F("version") + 1, updated_at=now)
            events.record(
                events.Change(actor, source, now),
                [
                    events.labels_event(
                        pk,
                        version=versions[pk] + 1,
                        added=[],
                        removed=[label.name],
                        labels=remaining[pk],
                    )
                    for pk in issue_ids
                ],
            )
        label.delete()


def labels_get_or_create(names: Sequence[str]) -> dict[str, Label]:
    """Labels for already-cleaned names, keyed by `name_key`, in name order (the order
    GET /issues/{id} lists them in); missing ones are created.

    Safe under concurrency: two transactions creating the same name meet at the unique
    index, the second waits for the first and then finds its row.
    """
    wanted = {name_key(name): name for name in names}
    if not wanted:
        return {}

    def existing() -> dict[str, Label]:
        found = Label.objects.filter(key__in=list(wanted)).order_by("name")
        return {label.key: label for label in found}

    labels = existing()
    # Inserted in one fixed order (by key), so that two transactions creating overlapping
    # sets wait for each other instead of deadlocking.
    missing = [Label(name=wanted[key], key=key) for key in sorted(wanted) if key not in labels]
    if missing:
        Label.objects.bulk_create(missing, ignore_conflicts=True)
        labels = existing()
    return labels
