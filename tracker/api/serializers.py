"""Input serializers check shape only (types, required fields); the services check the
rules, so blank titles or unknown statuses get the same message here, on the pages and in
the CSV import. Output serializers render the seed's JSON shapes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils import html
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from tracker.models import Comment, Issue, IssueEvent, User
from tracker.rules import ISSUE_EDITABLE_FIELDS, ISSUE_TITLE_MAX, LABEL_NAME_MAX, USER_NAME_MAX


class StatusField(serializers.ChoiceField):
    """Documented (and offered in the browsable API) as the status choices, but which
    names are valid is the service's rule, so clients get its message for a bad one."""

    def __init__(self, **kwargs):
        super().__init__(Issue.Status.choices, **kwargs)

    def to_internal_value(self, data):
        return str(data)


class PriorityField(serializers.ChoiceField):
    """Documented as the priority choices; which names are valid is the service's rule."""

    def __init__(self, **kwargs):
        super().__init__(Issue.Priority.choices, **kwargs)

    def to_internal_value(self, data):
        return str(data)


@extend_schema_field(
    {
        "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}],
        "nullable": True,
    }
)
class DueDateField(serializers.Field):
    """A date as `YYYY-MM-DD`, or null (or "") for none. Read as text, so that the service
    words a malformed date's refusal as the pages and the CSV import do."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError(
                "Invalid due_date: use a date like 2026-12-31", code="invalid_due_date"
            )
        return data

    def to_representation(self, value: Any) -> str | None:
        return value.isoformat() if value else None


class TextInput(serializers.CharField):
    """A string as the client sent it (blank allowed, not trimmed): which characters and
    lengths are acceptable is the rules' call (rules.py), so the API words a refusal as the
    pages and the CSV import do."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_blank", True)
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(
                validator, ProhibitNullCharactersValidator | ProhibitSurrogateCharactersValidator
            )
        ]

    def to_internal_value(self, data: Any) -> str:
        # A number or a boolean is not text: `{"name": 0}` is refused, not stored as "0".
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class BooleanInput(serializers.BooleanField):
    """true or false. In JSON only JSON's own: `{"all": 0}` or `{"all": "yes"}` is refused,
    as the schema says, where DRF's field would read them as false and true. A browsable-API
    form sends its checkbox as text, which is read as DRF reads it."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool) and not html.is_html_input(self.root.initial_data):
            self.fail("invalid", input=data)
        return super().to_internal_value(data)


class RequiredText(TextInput):
    """Text that must not be blank, at most `limit` characters once trimmed: the rules check
    both, so every interface gives their message; the schema states them (api/schema.py)."""

    def __init__(self, *, limit: int | None = None, **kwargs: Any) -> None:
        self.limit = limit
        # Not blank, for the schema; a blank value still reaches the rules (run_validation).
        super().__init__(allow_blank=False, **kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if data == "":
            return ""  # for the rules to refuse with their message
        return super().run_validation(data)


class StrictInput(serializers.Serializer):
    """Refuses keys it does not know, so a typo (`titel`) is a 400 instead of a silent
    no-op. Keys listed in `ignored_fields` (read-only fields of the resource's own
    representation, which clients often send back) are dropped quietly."""

    ignored_fields: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = set(data) - set(self.fields) - self.ignored_fields
            if unknown:
                raise serializers.ValidationError(
                    {name: [f"Unknown field '{name}'"] for name in sorted(unknown)},
                    code="unknown_field",
                )
        return super().to_internal_value(data)


def validated(serializer_class: type[serializers.Serializer], data) -> dict:
    """The validated data of a request body or query string; raises ValidationError (400)."""
    plain = _plainly_valid(serializer_class, data)
    if plain is not None:
        return plain
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


# A serializer sets up a deep copy of its fields for every request, which costs more than the
# rest of a hot write's Python. A body that is plainly valid (a JSON object whose values all
# have exactly the type their field takes) is read here instead, to the same validated data;
# any other body, and every error, goes through the serializer. test_api_serializers.py holds
# the two to the same output.
Check = Callable[[Any], bool]
_MISSING = object()


def _text(value: Any) -> bool:
    return type(value) is str


def _integer_check(field: serializers.IntegerField) -> Check:
    low, high, nullable = field.min_value, field.max_value, field.allow_null

    def check(value: Any) -> bool:
        if value is None:
            return nullable
        return (
            type(value) is int and (low is None or value >= low) and (high is None or value <= high)
        )

    return check


def _text_or_none(value: Any) -> bool:
    return value is None or type(value) is str


def _texts(value: Any) -> bool:
    return type(value) is list and all(type(item) is str for item in value)


def _check_of(field: serializers.Field) -> Check | None:
    """How to tell a value `field` takes as it is, or None for a field not read here."""
    if isinstance(field, TextInput) and not field.validators and not field.allow_null:
        return _text
    if type(field) in (StatusField, PriorityField) and not field.validators:
        return _text if not field.allow_null else None
    if type(field) is DueDateField and not field.validators:
        return _text_or_none if field.allow_null else _text
    if type(field) is serializers.IntegerField and len(field.validators) == (
        field.min_value is not None
    ) + (field.max_value is not None):
        return _integer_check(field)
    if (
        isinstance(field, serializers.ListField)
        and type(field).to_internal_value is serializers.ListField.to_internal_value
        and field.allow_empty
        and not field.validators
        and not field.allow_null
        and isinstance(field.child, TextInput)
        and not field.child.validators
    ):
        return _texts
    return None


@functools.cache
def _plan(
    serializer_class: type[serializers.Serializer],
) -> tuple[frozenset[str], list[tuple[str, Check, Any]]] | None:
    """What `serializer_class` takes quietly besides its fields (its ignored fields), and for
    each field in order: its name, its check and its default (_MISSING when the field is
    required; `serializers.empty` when a field not sent is left out). None when the class has
    a field or a validation of its own not read here."""
    if not issubclass(serializer_class, StrictInput) or any(
        getattr(serializer_class, name) is not getattr(StrictInput, name)
        for name in ("validate", "run_validation", "to_internal_value", "run_validators")
    ):
        return None
    plan = []
    for name, field in serializer_class().fields.items():
        check = _check_of(field)
        if (
            check is None
            or field.read_only
            or field.source != name
            or hasattr(serializer_class, f"validate_{name}")
        ):
            return None
        plan.append((name, check, _MISSING if field.required else field.default))
    return serializer_class.ignored_fields, plan


def _plainly_valid(serializer_class: type[serializers.Serializer], data: Any) -> dict | None:
    """The validated data of `data` when it is plainly valid, else None."""
    plan = _plan(serializer_class)
    if plan is None or type(data) is not dict:
        return None
    ignored, fields = plan
    result: dict[str, Any] = {}
    for name, check, default in fields:
        value = data.get(name, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                return None
            if default is not serializers.empty:
                result[name] = default() if callable(default) else default
        elif check(value):
            result[name] = list(value) if type(value) is list else value
        else:
            return None
    sent = sum(1 for name, _, _ in fields if name in data)
    if sent != len(data) and not all(name in ignored or name in result for name in data):
        return None
    return result


# --- Users.


class UserInput(StrictInput):
    ignored_fields = frozenset({"id"})
    name = RequiredText(limit=USER_NAME_MAX)
    email = TextInput(
        required=False,
        allow_null=True,
        help_text="Where notifications are sent; empty or null for none. Unique.",
    )
    email_notifications = BooleanInput(required=False)


class UserUpdateInput(StrictInput):
    ignored_fields = frozenset({"id"})
    name = RequiredText(limit=USER_NAME_MAX, required=False)
    email = TextInput(required=False, allow_null=True)
    email_notifications = BooleanInput(required=False)


class UserOutput(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "name"]


class UserDetailOutput(serializers.ModelSerializer):
    """A person; `email` and `email_notifications` only for themselves and staff."""

    email = serializers.EmailField(required=False, allow_null=True)
    email_notifications = serializers.BooleanField(required=False)

    class Meta:
        model = User
        fields = ["id", "name", "email", "email_notifications"]


def user_data(user: User, *, private: bool) -> dict[str, Any]:
    data = dict(UserDetailOutput(user).data)
    if not private:
        del data["email"], data["email_notifications"]
    return data


# --- Issues.


class LabelNamesOutput(serializers.ListField):
    """An issue's label names: `label_names` when the query or service read them with the
    issue, else its prefetched labels."""

    child = serializers.CharField()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, source="*", **kwargs)

    def to_representation(self, issue: Any) -> list[str]:
        names = getattr(issue, "label_names", None)
        if names is None:
            names = [label.name for label in issue.labels.all()]
        return list(names)


class IssueOutput(serializers.ModelSerializer):
    labels = LabelNamesOutput()

    class Meta:
        model = Issue
        fields = [
            "id",
            "title",
            "description",
            "status",
            "version",
            "assignee_id",
            "priority",
            "due_date",
            "labels",
            "created_at",
            "updated_at",
            "resolved_at",
        ]


class CommentOutput(serializers.ModelSerializer):
    class Meta:
        model = Comment
        fields = ["id", "body", "issue_id", "author_id", "created_at"]


class IssueDetailOutput(IssueOutput):
    comments = CommentOutput(many=True, read_only=True)

    class Meta(IssueOutput.Meta):
        fields = [*IssueOutput.Meta.fields, "comments"]


# The answers of the hot writes, built without a serializer's per-request set-up (a
# ModelSerializer builds its fields anew for every instance); test_api.py holds each one to
# its serializer's output for the same object.
_TIMESTAMP = serializers.DateTimeField()


def _timestamp(value: Any) -> str | None:
    return None if value is None else _TIMESTAMP.to_representation(value)


def issue_data(issue: Issue) -> dict[str, Any]:
    """IssueOutput(issue).data, for an issue a service returned with its `label_names`."""
    return {
        "id": issue.pk,
        "title": issue.title,
        "description": issue.description,
        "status": issue.status,
        "version": issue.version,
        "assignee_id": issue.assignee_id,
        "priority": issue.priority,
        "due_date": issue.due_date.isoformat() if issue.due_date else None,
        "labels": list(issue.label_names),
        "created_at": _timestamp(issue.created_at),
        "updated_at": _timestamp(issue.updated_at),
        "resolved_at": _timestamp(issue.resolved_at),
    }


def comment_data(comment: Comment) -> dict[str, Any]:
    """CommentOutput(comment).data."""
    return {
        "id": comment.pk,
        "body": comment.body,
        "issue_id": comment.issue_id,
        "author_id": comment.author_id,
        "created_at": _timestamp(comment.created_at),
    }


# Fields of the issue's representation that clients often send back; inputs drop them.
ISSUE_READ_ONLY_FIELDS = frozenset(IssueDetailOutput.Meta.fields) - set(ISSUE_EDITABLE_FIELDS)


class IssueFieldsInput(StrictInput):
    """The fields of rules.ISSUE_EDITABLE_FIELDS, each optional (a test holds the two
    lists together)."""

    title = RequiredText(limit=ISSUE_TITLE_MAX, required=False)
    description = TextInput(required=False)
    status = StatusField(required=False)
    assignee_id = serializers.IntegerField(required=False, allow_null=True)
    priority = PriorityField(required=False)
    due_date = DueDateField(required=False)


class IssueCreateInput(IssueFieldsInput):
    ignored_fields = ISSUE_READ_ONLY_FIELDS - {"labels"}
    title = RequiredText(limit=ISSUE_TITLE_MAX)
    description = TextInput(required=False, default="")
    status = StatusField(
        required=False,
        default=Issue.Status.OPEN,
        allow_blank=True,
        help_text="Empty or left out: open.",
    )
    assignee_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    priority = PriorityField(
        required=False,
        default=Issue.Priority.NONE,
        allow_blank=True,
        help_text="Empty or left out: none.",
    )
    due_date = DueDateField(required=False, default=None)
    labels = serializers.ListField(
        child=RequiredText(limit=LABEL_NAME_MAX),
        required=False,
        default=list,
        help_text="Label names; missing labels are created.",
    )


class VersionInput(StrictInput):
    version = serializers.IntegerField(
        min_value=1, help_text="The version you read; a stale one is a 409."
    )


class IssueUpdateInput(VersionInput, IssueFieldsInput):
    ignored_fields = ISSUE_READ_ONLY_FIELDS - {"version"}


class LabelNamesField(serializers.ListField):
    child = RequiredText(limit=LABEL_NAME_MAX)


# --- Labels, comments, bulk changes.


class IssueLabelsInput(StrictInput):
    labels = LabelNamesField(help_text="The complete new set of label names.")
    version = serializers.IntegerField(
        min_value=1, required=False, help_text="Optional; when given, a stale one is a 409."
    )


class IssueLabelsOutput(serializers.Serializer):
    issue_id = serializers.IntegerField()
    labels = serializers.ListField(child=serializers.CharField())
    version = serializers.IntegerField()


class CommentInput(StrictInput):
    body = RequiredText()
    author_id = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Required unless the request is authenticated (then it defaults to you).",
    )


@extend_schema_field({"type": "array", "items": {"type": "integer"}, "minItems": 1})
class IssueIdsField(serializers.ListField):
    """Issue ids; an empty list is the service's 400 (documented as minItems)."""

    child = serializers.IntegerField()


class BulkStatusInput(StrictInput):
    issue_ids = IssueIdsField()
    status = StatusField()


class BulkStatusOutput(serializers.Serializer):
    updated_issues = serializers.ListField(child=serializers.IntegerField())
    new_status = StatusField()


# --- CSV import.


class ImportInput(serializers.Serializer):
    file = serializers.FileField(
        help_text="The CSV file: a header row with `title` (required), `assignee_id`, "
        "`status`, `description`, `labels` (names separated by `;`), `priority` (none, low, "
        "medium, high, urgent), `due_date` (YYYY-MM-DD)."
    )


class ImportQuery(serializers.Serializer):
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="Validate and report; write nothing."
    )


class ImportRowErrorOutput(serializers.Serializer):
    row = serializers.IntegerField(help_text="Data rows count from 1; the header is not a row.")
    error = serializers.CharField()
    field = serializers.CharField(required=False, help_text="The column at fault, if one is.")


class ImportResultOutput(serializers.Serializer):
    total_rows = serializers.IntegerField()
    created = serializers.IntegerField(help_text="In a dry run: the rows that would be created.")
    failed = serializers.IntegerField()
    # A field named like Serializer.errors: DRF moves declared fields off the class.
    errors = ImportRowErrorOutput(many=True)  # type: ignore[assignment]
    ignored_columns = serializers.ListField(child=serializers.CharField())
    dry_run = serializers.BooleanField()


# --- Timeline.


class TimelineEventOutput(serializers.ModelSerializer):
    timestamp = serializers.DateTimeField(source="created_at")

    class Meta:
        model = IssueEvent
        fields = ["event", "timestamp", "actor_id", "source", "version", "details"]


class TimelineOutput(serializers.Serializer):
    issue_id = serializers.IntegerField()
    timeline = TimelineEventOutput(many=True)


class ErrorOutput(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    # Named like Serializer.errors, as in ImportResultOutput.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False
    )
