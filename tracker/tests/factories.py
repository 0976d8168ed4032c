from __future__ import annotations

from collections.abc import Iterable

import factory

from tracker.models import Comment, Issue, IssueEvent, Label, User


def record_creation(issues: Iterable[Issue]) -> None:
    """The one issue_created event every issue has (tracker/integrity.py), at the issue's
    version, for rows a test wrote directly."""
    IssueEvent.objects.bulk_create(
        IssueEvent(issue=issue, event=IssueEvent.Kind.ISSUE_CREATED, version=issue.version)
        for issue in issues
    )


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    name = factory.Sequence(lambda n: f"User {n}")


class LabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Label

    name = factory.Sequence(lambda n: f"label-{n}")


class IssueFactory(factory.django.DjangoModelFactory):
    """A row written directly, with only its issue_created event: for tests of reads. Tests
    of writes go through the services."""

    class Meta:
        model = Issue
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Issue {n}")
    status = Issue.Status.OPEN

    @factory.post_generation
    def created_event(issue, create, extracted, **kwargs):
        if create:
            record_creation([issue])


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    issue = factory.SubFactory(IssueFactory)
    author = factory.SubFactory(UserFactory)
    body = "A comment"
