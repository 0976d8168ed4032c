"""The issue list's filters, shared by `GET /issues` and the issue list page."""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django_filters.fields import IsoDateTimeField

from . import search
from .models import Issue, IssueLabel
from .rules import in_utc, name_key, parse_id

ORDERINGS = ("id", "created_at", "updated_at", "title", "status")
ORDERING_CHOICES = [(name, name) for name in ORDERINGS] + [(f"-{n}", f"-{n}") for n in ORDERINGS]


class InstantField(IsoDateTimeField):
    """An ISO 8601 date-time, as the same instant in UTC (rules.in_utc): `+20:01` is a valid
    offset that PostgreSQL would not read."""

    def to_python(self, value: Any) -> Any:
        moment = super().to_python(value)
        return in_utc(moment) if moment is not None else None


class InstantFilter(django_filters.IsoDateTimeFilter):
    field_class = InstantField


class IssueFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=Issue.Status.choices, help_text="One or more statuses (repeat the parameter)."
    )
    assignee_id = django_filters.CharFilter(
        method="filter_assignee",
        help_text="A user id, `none` for unassigned issues, or `me` for the signed-in user's.",
    )
    label = django_filters.CharFilter(
        method="filter_label", help_text="A label name (case-insensitive)."
    )
    q = django_filters.CharFilter(
        method="filter_search",
        help_text="Full-text search of the title, description and comments (English "
        'stemming; `"a phrase"`, `-word`, `or`; the last word also matches as a prefix).',
    )
    created_after = InstantFilter(field_name="created_at", lookup_expr="gte")
    created_before = InstantFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Issue
        fields = ["status", "assignee_id", "label", "q", "created_after", "created_before"]

    def filter_assignee(self, queryset, name, value):
        if value.lower() in ("none", "null"):
            return queryset.filter(assignee__isnull=True)
        if value.lower() == "me":
            user = getattr(self.request, "user", None)
            if user is None or not user.is_authenticated:
                raise ValidationError(
                    {"assignee_id": ValidationError("Log in to use me.", code="login_required")}
                )
            return queryset.filter(assignee_id=user.pk)
        assignee_id = parse_id(value)
        if assignee_id is None:
            raise ValidationError(
                {"assignee_id": ValidationError("Enter a user id or none.", code="invalid")}
            )
        return queryset.filter(assignee_id=assignee_id)

    def filter_search(self, queryset, name, value):
        if not value.strip():
            return queryset
        return queryset.filter(search.matches(value))

    def filter_label(self, queryset, name, value):
        has_label = IssueLabel.objects.filter(
            issue_id=OuterRef("pk"), label__key=name_key(value.strip())
        )
        return queryset.filter(Exists(has_label))


RELEVANCE = "relevance"


def clean_ordering(value: str | None, *, q: str | None = None) -> str:
    """`id` when not given; a 400 for an ordering the list cannot page through.
    `relevance` (best match first) needs a search `q`."""
    if not value:
        return "id"
    if value == RELEVANCE:
        if not (q or "").strip():
            raise ValidationError(
                {
                    "ordering": ValidationError(
                        "ordering=relevance needs a search (q)", code="invalid"
                    )
                }
            )
        return value
    if value not in dict(ORDERING_CHOICES):
        choices = ", ".join([*(name for name, _ in ORDERING_CHOICES), RELEVANCE])
        raise ValidationError(
            {"ordering": ValidationError(f"ordering must be one of: {choices}", code="invalid")}
        )
    return value
