"""rules.py: the field lists every interface derives from, held together."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tracker.admin import IssueAdminForm
from tracker.api import serializers
from tracker.forms import IssueCreateForm, IssueEditForm
from tracker.rules import CSV_COLUMNS, ISSUE_EDITABLE_FIELDS, csv_columns_help, utc_offset_error


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


@pytest.mark.parametrize(
    ("offset", "refused"),
    [
        (timedelta(0), False),
        (timedelta(hours=14), False),
        (timedelta(hours=-15, minutes=-59), False),
        (timedelta(hours=16), True),
        (timedelta(hours=-20, minutes=-1), True),
        (timedelta(hours=5, minutes=30, seconds=30), True),
    ],
)
def test_utc_offsets_postgresql_cannot_read_are_refused(offset, refused):
    moment = datetime(2026, 1, 1, tzinfo=timezone(offset))
    error = utc_offset_error(moment)
    assert (error is not None) == refused
    if refused:
        assert error.code == "invalid_utc_offset"
    assert utc_offset_error(datetime(2026, 1, 1)) is None
