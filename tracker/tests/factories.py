from __future__ import annotations

from collections.abc import Iterable

import factory

from tracker.models import Comment, Issue, IssueEvent, Label, User
from tracker.rules import name_key


def record_creation(issues: Iterable[Issue]) -> None:
    """The one issue_created event every issue has (tracker/integrity.py), at the issue's
    version, for rows a test wrote directly."""
    IssueEvent.objects.bulk_create(
        IssueEvent(issue=issue, event=IssueEvent.Kind.ISSUE_CREATED, version=issue.version)
        for issue in issues
    )


# Tests call Factory.create() rather than Factory(): the metaclass's __call__ is untyped, so
# mypy would take Factory() for an instance of the factory rather than of the model.


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User

    name = factory.Sequence(lambda n: f"User {n}")


class LabelFactory(factory.django.DjangoModelFactory[Label]):
    class Meta:
        model = Label

    name = factory.Sequence(lambda n: f"label-{n}")
    key = factory.LazyAttribute(lambda label: name_key(label.name))


class IssueFactory(factory.django.DjangoModelFactory[Issue]):
    """A row written directly, with only its issue_created event: for tests of reads. Tests
    of writes go through the services."""

    class Meta:
        model = Issue
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Issue {n}")
    status = Issue.Status.OPEN

    @factory.post_generation
    def created_event(issue: Issue, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            record_creation([issue])


class CommentFactory(factory.django.DjangoModelFactory[Comment]):
    class Meta:
        model = Comment

    issue = factory.SubFactory(IssueFactory)
    author = factory.SubFactory(UserFactory)
    body = "A comment"
