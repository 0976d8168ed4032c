"""rules.py: the field lists every interface derives from, held together, and the text
rules every interface applies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.core.exceptions import ValidationError

from tracker import rules
from tracker.admin import IssueAdminForm
from tracker.api import serializers
from tracker.forms import IssueCreateForm, IssueEditForm
from tracker.rules import (
    CSV_COLUMNS,
    ISSUE_EDITABLE_FIELDS,
    csv_columns_help,
    in_utc,
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
    assert tuple(CSV_COLUMNS) == (
        *("title", "assignee_id", "status", "description", "labels", "priority", "due_date"),
    )
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


# --- Text: characters, NFC and lengths, the same for every field that takes text


TEXT_CLEANERS = {
    "title": (rules.clean_title, "title", "Title"),
    "description": (rules.clean_description, "description", "Description"),
    "comment": (rules.clean_comment_body, "body", "Comment"),
    "user name": (rules.clean_user_name, "name", "Name"),
    "label description": (rules.clean_label_description, "description", "Description"),
}


def refusal(call, value) -> tuple[str, str | None, str]:
    with pytest.raises(ValidationError) as exc:
        call(value)
    [(field, [error])] = exc.value.error_dict.items()
    return field, error.code, error.messages[0]


@pytest.mark.parametrize("cleaner", TEXT_CLEANERS)
@pytest.mark.parametrize(
    ("character", "shown"),
    [
        ("\x00", "\\u0000"),
        ("\x01", "\\u0001"),
        ("\x0b", "\\u000b"),
        ("\x0c", "\\u000c"),
        ("\x1b", "\\u001b"),
        ("\x7f", "\\u007f"),
        ("\x85", "\\u0085"),
        ("\ud800", "\\ud800"),
        ("\udfff", "\\udfff"),
    ],
)
def test_control_characters_and_lone_surrogates_are_refused_naming_the_field(
    cleaner, character, shown
):
    call, field, label = TEXT_CLEANERS[cleaner]
    assert refusal(call, f"ok {character} ok") == (
        field,
        "invalid_character",
        f"{label} contains a character that is not allowed ({shown})",
    )


@pytest.mark.parametrize("cleaner", TEXT_CLEANERS)
def test_text_is_nfc_normalised_and_keeps_tab_and_newline(cleaner):
    call, _, _ = TEXT_CLEANERS[cleaner]
    decomposed = "Cafe\u0301 \U0001f600"
    assert call(decomposed) == "Café \U0001f600"
    if cleaner != "title":  # a title is one line (tested below)
        assert call("a\tb\r\nc\rd") == "a\tb\nc\nd"


def test_a_title_turns_line_breaks_and_tabs_into_spaces():
    assert rules.clean_title(" a\tb\r\nc\rd ") == "a b c d"


@pytest.mark.parametrize(
    ("call", "limit", "field", "message"),
    [
        (rules.clean_title, 255, "title", "Title is too long (max 255)"),
        (rules.clean_description, 65_536, "description", "Description is too long (max 65536)"),
        (rules.clean_comment_body, 65_536, "body", "Comment is too long (max 65536)"),
        (rules.clean_user_name, 100, "name", "Name is too long (max 100)"),
        (rules.clean_label_description, 255, "description", "Description is too long (max 255)"),
    ],
)
def test_text_limits_count_characters_after_normalisation(call, limit, field, message):
    assert call("é" * limit) == "é" * limit  # 2 bytes each: characters count, not bytes
    assert call("e\u0301" * limit) == "é" * limit  # NFC first, then the limit
    assert refusal(call, "x" * (limit + 1)) == (field, "max_length", message)


def test_label_names_name_the_label_with_its_bad_character_escaped():
    assert refusal(rules.clean_label_names, ["ok", "bu\x07g"]) == (
        "labels",
        "invalid_character",
        "Label 'bu\\u0007g' contains a character that is not allowed (\\u0007)",
    )
    assert refusal(rules.clean_label_names, ["\ud800"])[2] == (
        "Label '\\ud800' contains a character that is not allowed (\\ud800)"
    )


def test_label_names_are_nfc_before_duplicates_are_dropped():
    assert rules.clean_label_names(["Cafe\u0301", "café", "CAFÉ"]) == ["Café"]


def test_label_colour_refuses_control_characters_by_its_format():
    assert refusal(rules.clean_label_color, "#12345\x00") == (
        "color",
        "invalid_color",
        "Color must look like #1a2b3c",
    )


def test_an_invalid_status_is_shown_escaped():
    assert refusal(rules.clean_status, "\x00")[2] == "Invalid status '\\u0000'"


@pytest.mark.parametrize(
    "offset",
    [timedelta(0), timedelta(hours=16), timedelta(hours=-20, minutes=-1), timedelta(seconds=30.5)],
)
def test_any_offset_becomes_the_same_instant_in_utc(offset):
    moment = datetime(2026, 1, 1, tzinfo=timezone(offset))
    assert in_utc(moment) == moment
    assert in_utc(moment).utcoffset() == timedelta(0)
    assert in_utc(datetime(2026, 1, 1)) == datetime(2026, 1, 1)


def test_instants_beyond_the_calendar_in_utc_are_its_ends():
    first = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    last = datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-12)))
    assert in_utc(first) == datetime.min.replace(tzinfo=UTC)
    assert in_utc(last) == datetime.max.replace(tzinfo=UTC)
