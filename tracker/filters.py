"""The issue list's filters, shared by `GET /issues` and the issue list page."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import DateField, Exists, IntegerField, OuterRef, Q
from django_filters.fields import IsoDateTimeField

from . import search
from .models import PRIORITY_RANKS, Issue, IssueLabel
from .pagination import Computed
from .rules import OVERDUE_STATUSES, in_utc, name_key, parse_id, today

ORDERINGS = ("id", "created_at", "updated_at", "title", "status", "priority", "due_date")
ORDERING_CHOICES = [(name, name) for name in ORDERINGS] + [(f"-{n}", f"-{n}") for n in ORDERINGS]

# The orderings that sort by a computed key rather than a column, with the keyset key each
# sorts by (the expressions of the indexes in Issue.Meta, written as PostgreSQL writes them,
# so that a page is read from an index). `priority` is the most urgent first (urgent, high,
# medium, low, none), and `-priority` the least urgent first: the order people mean, not the
# alphabet's. Issues without a due date come last in both `due_date` (soonest first) and
# `-due_date` (latest first). Ties go by id in the direction of the key.
_PRIORITY_RANK_SQL = (
    "CASE "
    + " ".join(
        f'WHEN "issues"."priority" = \'{name}\' THEN {rank}'
        for name, rank in PRIORITY_RANKS.items()
        if rank
    )
    + " ELSE 0 END"
)
COMPUTED_ORDERINGS = {
    "priority": Computed(
        "priority_rank_desc", _PRIORITY_RANK_SQL, (), IntegerField(), "integer", descending=True
    ),
    "-priority": Computed(
        "priority_rank_asc", _PRIORITY_RANK_SQL, (), IntegerField(), "integer", descending=False
    ),
    "due_date": Computed(
        "due_date_last",
        'COALESCE("issues"."due_date", \'9999-12-31\'::date)',
        (),
        DateField(),
        "date",
        descending=False,
    ),
    "-due_date": Computed(
        "due_date_first",
        'COALESCE("issues"."due_date", \'0001-01-01\'::date)',
        (),
        DateField(),
        "date",
        descending=True,
    ),
}


class IsoDateField(forms.DateField):
    input_formats = ["%Y-%m-%d"]


class IsoDateFilter(django_filters.DateFilter):
    """A date written as YYYY-MM-DD only (not the locale's other ways of writing one)."""

    field_class = IsoDateField


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
    priority = django_filters.MultipleChoiceFilter(
        choices=Issue.Priority.choices,
        help_text="One or more priorities (repeat the parameter).",
    )
    due_after = IsoDateFilter(
        field_name="due_date",
        lookup_expr="gte",
        help_text="Due on or after this date (YYYY-MM-DD).",
    )
    due_before = IsoDateFilter(
        field_name="due_date",
        lookup_expr="lt",
        help_text="Due before this date (YYYY-MM-DD).",
    )
    overdue = django_filters.ChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        method="filter_overdue",
        help_text="`true`: open or in progress and due before today (in the server's time "
        "zone); `false`: the others.",
    )

    class Meta:
        model = Issue
        fields = [
            *("status", "assignee_id", "label", "q", "created_after", "created_before"),
            *("priority", "due_after", "due_before", "overdue"),
        ]

    def filter_overdue(self, queryset, name, value):
        overdue = Q(status__in=OVERDUE_STATUSES, due_date__lt=today())
        return queryset.filter(overdue if value == "true" else ~overdue)

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


def sort_key(ordering: str, *, q: str | None = None) -> tuple[str, Computed | None]:
    """What keyset_page sorts by for a clean_ordering() result: the order and its computed
    key, if it has one."""
    if ordering == RELEVANCE:
        computed = search.relevance_order(q or "")
        return computed.name, computed
    if ordering in COMPUTED_ORDERINGS:
        computed = COMPUTED_ORDERINGS[ordering]
        return computed.name, computed
    return ordering, None


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
                        "ordering=relevance needs a search (q)", code="relevance_needs_q"
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
