"""Forms for the pages. They check shape only (types, which keys); every rule (a blank
title, an unknown status or assignee, an empty comment) is the service's, and its
message is put on the form with `add_service_errors`, so the page and the API agree."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator

from .models import Issue, Label, User
from .rules import ISSUE_EDITABLE_FIELDS


class RawTextField(forms.CharField):
    """Text as the person typed it: which characters are acceptable is the rules' call
    (rules.py), so the page words a refusal as the API and the CSV import do."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]


MARKDOWN_HELP = (
    "Markdown: **bold**, `code`, lists, - [ ] tasks, tables; #123 links to issue 123, "
    "@username mentions someone."
)


class TextField(RawTextField):
    """Free text whose line endings are normalised: browsers send CRLF from a textarea,
    which would otherwise look like a change to every multi-line description."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 6}))
        kwargs.setdefault("help_text", MARKDOWN_HELP)
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        return (super().to_python(value) or "").replace("\r\n", "\n").replace("\r", "\n")


class NameListField(forms.Field):
    """Label names, one per checked box (or hidden input). Any name is accepted here:
    which names are valid is the service's rule."""

    widget = forms.CheckboxSelectMultiple

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        return [str(name) for name in value]


def split_names(text: str) -> list[str]:
    """Comma-separated names; the empty pieces a trailing comma leaves are not names."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def user_choices(users: Iterable[User], empty: str) -> list[tuple[Any, str]]:
    """Options for a user picker (selectors.users_to_pick); a deactivated user, there only
    because the form already holds them, is marked as such."""
    return [("", empty), *((user.pk, picked_name(user)) for user in users)]


def picked_name(user: User) -> str:
    return user.name if user.is_active else f"{user.name} (deactivated)"


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form, each message on its field when the
    form has that field, otherwise at the top of the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def priority_field(**kwargs: Any) -> RawTextField:
    return RawTextField(
        required=False,
        label="Priority",
        initial=Issue.Priority.NONE,
        widget=forms.Select(choices=Issue.Priority.choices),
        **kwargs,
    )


def due_date_field(**kwargs: Any) -> RawTextField:
    """Text, so that a malformed date gets the service's message; a date picker in browsers."""
    return RawTextField(
        required=False,
        label="Due date",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        **kwargs,
    )


class LabelsMixin(forms.Form):
    labels = NameListField(required=False, label="Labels")
    new_labels = RawTextField(
        required=False,
        label="New labels",
        help_text="Comma-separated, e.g. “bug, needs triage”.",
    )

    def set_label_choices(self, labels: Iterable[Label]) -> None:
        self.label_objects = list(labels)
        self.fields["labels"].widget.choices = [(lab.name, lab.name) for lab in self.label_objects]

    def label_names(self) -> list[str]:
        return [*self.cleaned_data["labels"], *split_names(self.cleaned_data["new_labels"])]


class IssueCreateForm(LabelsMixin):
    title = RawTextField(required=False, strip=False, label="Title")
    description = TextField(label="Description")
    status = RawTextField(
        required=False,
        label="Status",
        initial=Issue.Status.OPEN,
        widget=forms.Select(choices=Issue.Status.choices),
    )
    assignee_id = forms.IntegerField(required=False, label="Assignee", widget=forms.Select)
    priority = priority_field()
    due_date = due_date_field()

    field_order = [*ISSUE_EDITABLE_FIELDS, "labels", "new_labels"]

    def __init__(self, *args: Any, users: Iterable[User], labels: Iterable[Label], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee_id"].widget.choices = user_choices(users, "Nobody")
        self.set_label_choices(labels)


class IssueEditForm(forms.Form):
    """Every field carries the value it was read with (`show_hidden_initial`), so only the
    fields the person actually changed are sent to the service: applying an edit over
    someone else's never reverts the fields this person did not touch."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    title = RawTextField(required=False, strip=False, label="Title", show_hidden_initial=True)
    description = TextField(label="Description", show_hidden_initial=True)
    status = RawTextField(
        required=False,
        label="Status",
        widget=forms.Select(choices=Issue.Status.choices),
        show_hidden_initial=True,
    )
    assignee_id = forms.IntegerField(
        required=False, label="Assignee", widget=forms.Select, show_hidden_initial=True
    )
    priority = priority_field(show_hidden_initial=True)
    due_date = due_date_field(show_hidden_initial=True)

    def __init__(self, *args: Any, users: Iterable[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee_id"].widget.choices = user_choices(users, "Nobody")

    @staticmethod
    def initial_for(issue: Issue) -> dict[str, Any]:
        return {
            "version": issue.version,
            **{name: getattr(issue, name) for name in ISSUE_EDITABLE_FIELDS},
            "due_date": issue.due_date.isoformat() if issue.due_date else "",
        }

    def changes(self) -> dict[str, Any]:
        return {
            name: self.cleaned_data[name]
            for name in ISSUE_EDITABLE_FIELDS
            if name in self.changed_data
        }


class IssueLabelsForm(LabelsMixin):
    """`read` holds the labels the form was shown with, so that only what the person added
    and removed is applied over labels others changed meanwhile."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    read = forms.JSONField(required=False, widget=forms.HiddenInput)

    def clean_read(self) -> list[str] | None:
        read = self.cleaned_data["read"]
        if read is None:
            return None
        if not (isinstance(read, list) and all(isinstance(name, str) for name in read)):
            raise ValidationError("The labels read must be a list of names.", code="invalid")
        return read


class CommentForm(forms.Form):
    body = TextField(label="Comment", strip=False)
    author_id = forms.IntegerField(required=False, label="Comment as", widget=forms.Select)

    def __init__(self, *args: Any, users: Iterable[User] | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if users is None:
            # The logged-in user is the author; there is nothing to pick.
            del self.fields["author_id"]
        else:
            self.fields["author_id"].widget.choices = user_choices(users, "Choose a person…")


class IdListField(forms.Field):
    """Issue numbers, one per checked box. Whether each issue exists is the service's question."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        try:
            return [int(item) for item in value]
        except (TypeError, ValueError) as exc:
            raise ValidationError("Issue numbers must be whole numbers.", code="invalid") from exc


class BulkStatusForm(forms.Form):
    issue_ids = IdListField(error_messages={"required": "Select at least one issue."})
    status = RawTextField(
        required=False, label="Set status to", widget=forms.Select(choices=Issue.Status.choices)
    )
    next = RawTextField(required=False)
