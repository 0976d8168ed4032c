"""Optimistic locking under real concurrency: threads, each with its own PostgreSQL
connection, released together by a barrier."""

from __future__ import annotations

import pytest

from tracker import services
from tracker.errors import VersionConflict
from tracker.models import Issue, IssueEvent, Label

from .threads import THREADS, returned, run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_same_version_updates_exactly_one_wins():
    issue = services.issue_create(title="start")
    results = run_together(
        lambda i: services.issue_update(issue_id=issue.pk, version=1, title=f"title {i}")
    )
    winners = [r for r in results if isinstance(r, Issue)]
    conflicts = [r for r in results if isinstance(r, VersionConflict)]
    assert len(winners) == 1
    assert len(conflicts) == THREADS - 1
    issue.refresh_from_db()
    assert issue.version == 2
    assert issue.title == winners[0].title
    assert IssueEvent.objects.filter(issue=issue, event="title_changed").count() == 1


def test_same_version_requests_through_the_api_one_200_rest_409():
    from rest_framework.test import APIClient

    issue = services.issue_create(title="start")
    results = run_together(
        lambda i: (
            APIClient()
            .patch(
                f"/issues/{issue.pk}",
                {"version": 1, "status": "closed" if i else "in_progress"},
                format="json",
            )
            .status_code
        )
    )
    assert sorted(returned(results)) == [200] + [409] * (THREADS - 1)
    issue.refresh_from_db()
    assert issue.version == 2
    assert IssueEvent.objects.filter(issue=issue).exclude(event="issue_created").count() == 1


def test_updates_that_retry_on_conflict_lose_nothing():
    """Each thread bumps the version once, retrying on 409: every change lands exactly once."""
    issue = services.issue_create(title="start")

    def bump(i: int) -> int:
        while True:
            current = Issue.objects.get(pk=issue.pk)
            try:
                services.issue_update(
                    issue_id=issue.pk, version=current.version, description=f"{current.version}-{i}"
                )
                return i
            except VersionConflict:
                continue

    results = run_together(bump)
    assert sorted(returned(results)) == list(range(THREADS))
    issue.refresh_from_db()
    assert issue.version == 1 + THREADS
    assert IssueEvent.objects.filter(issue=issue, event="description_changed").count() == THREADS


def test_concurrent_label_replacements_never_mix():
    issue = services.issue_create(title="x")
    sets = [[f"set{i}-a", f"set{i}-b", "shared"] for i in range(THREADS)]
    results = run_together(
        lambda i: services.issue_labels_replace(issue_id=issue.pk, labels=sets[i])
    )
    assert not [r for r in results if isinstance(r, Exception)]
    final = sorted(issue.labels.values_list("name", flat=True))
    assert final in [sorted(s) for s in sets]
    issue.refresh_from_db()
    changes = IssueEvent.objects.filter(issue=issue, event="labels_changed").count()
    assert issue.version == 1 + changes


def test_concurrent_label_replacements_with_same_version_one_wins():
    issue = services.issue_create(title="x")
    results = run_together(
        lambda i: services.issue_labels_replace(issue_id=issue.pk, labels=[f"only-{i}"], version=1)
    )
    assert sum(isinstance(r, tuple) for r in results) == 1
    assert sum(isinstance(r, VersionConflict) for r in results) == THREADS - 1
    assert issue.labels.count() == 1


def test_two_issues_creating_the_same_new_label_at_once():
    issues = [services.issue_create(title=f"i{n}") for n in range(THREADS)]
    results = run_together(
        lambda i: services.issue_labels_replace(issue_id=issues[i].pk, labels=["Brand-New"])
    )
    assert not [r for r in results if isinstance(r, Exception)]
    assert Label.objects.filter(name__iexact="brand-new").count() == 1
    for issue in issues:
        assert list(issue.labels.values_list("name", flat=True)) == ["Brand-New"]
