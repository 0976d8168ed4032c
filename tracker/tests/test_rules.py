"""rules.py: the field lists every interface derives from, held together."""

from __future__ import annotations

from tracker.admin import IssueAdminForm
from tracker.api import serializers
from tracker.forms import IssueCreateForm, IssueEditForm
from tracker.rules import (
    CSV_COLUMNS,
    ISSUE_EDITABLE_FIELDS,
    csv_columns_help,
    merge_label_names,
)


def test_the_api_inputs_take_the_editable_fields():
    assert tuple(serializers.IssueFieldsInput().fields) == ISSUE_EDITABLE_FIELDS
    assert tuple(serializers.IssueCreateInput().fields) == (*ISSUE_EDITABLE_FIELDS, "labels")
    assert tuple(serializers.IssueUpdateInput().fields) == ("version", *ISSUE_EDITABLE_FIELDS)
    # Everything else the representation shows is read-only.
    shown = set(serializers.IssueDetailOutput.Meta.fields)
    assert shown - set(ISSUE_EDITABLE_FIELDS) == serializers.ISSUE_READ_ONLY_FIELDS


def test_the_forms_and_the_admin_take_the_editable_fields():
    assert set(IssueEditForm.base_fields) == {"version", *ISSUE_EDITABLE_FIELDS}
    assert set(ISSUE_EDITABLE_FIELDS) <= set(IssueCreateForm.base_fields)
    admin_fields = {name.removesuffix("_id") for name in ISSUE_EDITABLE_FIELDS}
    assert set(IssueAdminForm.base_fields) - {"loaded_version"} == admin_fields


def test_the_csv_columns_document_themselves():
    assert tuple(CSV_COLUMNS) == ("title", "assignee_id", "status", "description", "labels")
    assert csv_columns_help().startswith("title (required), assignee_id (a user id), ")


def test_label_changes_merge_as_added_and_removed():
    # Maya read [docs, ui], chose [ui, regression]; Liam meanwhile added urgent.
    current = ["docs", "ui", "urgent"]
    assert merge_label_names(current, ["docs", "ui"], ["UI", "regression"]) == [
        "ui",
        "urgent",
        "regression",
    ]
    # Nothing changed by her: the current labels stay as they are.
    assert merge_label_names(current, ["docs"], ["Docs"]) == current
    # She added a label someone else added too: it is there once.
    assert merge_label_names(["Urgent"], [], ["urgent"]) == ["Urgent"]
