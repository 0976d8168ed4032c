from __future__ import annotations

import factory

from tracker.models import Comment, Issue, Label, User
from tracker.rules import name_key

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
    """A row written directly, without events: for tests of reads. Tests of writes go
    through the services."""

    class Meta:
        model = Issue

    title = factory.Sequence(lambda n: f"Issue {n}")
    status = Issue.Status.OPEN


class CommentFactory(factory.django.DjangoModelFactory[Comment]):
    class Meta:
        model = Comment

    issue = factory.SubFactory(IssueFactory)
    author = factory.SubFactory(UserFactory)
    body = "A comment"
