"""Field rules: pure checks and the lists of fields, shared by reads and writes alike.

Every write path applies them (the CSV import per row, so a row gets the message the API
would give); the filters and reports use the same id and status rules. Nothing here
touches the database.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError

from tracker.models import ISSUE_TITLE_MAX, LABEL_NAME_MAX, USER_NAME_MAX, Issue

Status = Issue.Status

# The fields of an issue a change may set (labels have their own write). The API's input
# serializers, the edit form, the admin and issue_update all take this list.
ISSUE_EDITABLE_FIELDS = ("title", "description", "status", "assignee_id")

# The columns of the issues CSV, in the order their errors are reported, each with the
# note that documents it (the API docs, the import page and the command's help).
CSV_COLUMNS = {
    "title": "required",
    "assignee_id": "a user id",
    "status": "empty means open",
    "description": "",
    "labels": "names separated by ;",
}
CSV_LABEL_SEPARATOR = ";"
# Status.values builds a new list on each access; the CSV import checks a million rows.
STATUS_VALUES = frozenset(Status.values)
MAX_ID = 2**63 - 1  # bigint: a larger number names no row and must not reach a query


def invalid(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def clean_title(value: str | None) -> str:
    """Trimmed, on one line (line breaks and tabs inside become spaces)."""
    title = " ".join((value or "").replace("\t", " ").splitlines()).strip()
    if not title:
        raise invalid("title", "Title is required", "required")
    if len(title) > ISSUE_TITLE_MAX:
        raise invalid("title", f"Title is too long (max {ISSUE_TITLE_MAX})", "max_length")
    return title


def clean_status(value: str | None) -> str:
    if value not in STATUS_VALUES:
        raise invalid("status", f"Invalid status '{value}'", "invalid_status")
    return value


def clean_text(value: str | None) -> str:
    """Multi-line text as stored: trimmed, with one kind of line ending whatever the client."""
    return (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def is_id(value: int) -> bool:
    return 1 <= value <= MAX_ID


def parse_id(text: str) -> int | None:
    """A row id written as plain decimal digits, or None."""
    text = text.strip()
    if text.isascii() and text.isdigit() and is_id(int(text)):
        return int(text)
    return None


# PostgreSQL reads a UTC offset of at most 15:59:59 either way, and no fraction of a second;
# Python's datetime takes any offset under 24 hours. Every real zone is within -12:00..+14:00.
MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)


def utc_offset_error(moment: datetime) -> ValidationError | None:
    """Why PostgreSQL could not read this date-time's UTC offset, or None when it can: an
    offset beyond +-15:59 or not in whole minutes (a query with one would fail, not match)."""
    offset = moment.utcoffset()
    if offset is None or (
        abs(offset) <= MAX_UTC_OFFSET and offset % timedelta(minutes=1) == timedelta(0)
    ):
        return None
    return ValidationError(
        "The UTC offset must be whole minutes from -15:59 to +15:59", code="invalid_utc_offset"
    )


def invalid_assignee() -> ValidationError:
    """An assignee_id that names no user (the CSV import also uses it for ids that do not
    parse as integers)."""
    return invalid("assignee_id", "Invalid assignee_id", "invalid_assignee")


def clean_user_name(value: str | None) -> str:
    name = (value or "").strip()
    if not name:
        raise invalid("name", "Name is required", "required")
    if len(name) > USER_NAME_MAX:
        raise invalid("name", f"Name is too long (max {USER_NAME_MAX})", "max_length")
    return name


def person_name_key(name: str) -> str:
    """What two people's names are compared by: trimmed, NFC, lower case. lower() and not
    casefold(), because the database must compare the same way (selectors.user_named) and
    PostgreSQL before 18 has only lower()."""
    return unicodedata.normalize("NFC", name.strip()).lower()


def same_name_error(name: str) -> ValidationError:
    """Someone is already called `name`: the pages ask before adding a second person with it."""
    return invalid("name", f"Someone named '{name}' already exists", "same_name")


def clean_label_names(names: Iterable[str]) -> list[str]:
    """Trim, refuse blank or over-long names, and drop case-insensitive duplicates
    (the first spelling wins)."""
    cleaned: dict[str, str] = {}
    for raw in names:
        name = (raw or "").strip() if isinstance(raw, str) else ""
        if not name:
            raise invalid("labels", "Label names cannot be blank", "blank_label")
        if len(name) > LABEL_NAME_MAX:
            raise invalid(
                "labels", f"Label '{name}' is too long (max {LABEL_NAME_MAX})", "max_length"
            )
        cleaned.setdefault(name.lower(), name)
    return list(cleaned.values())


def clean_label_color(value: str | None) -> str:
    color = (value or "").strip()
    if color and not (
        len(color) == 7
        and color[0] == "#"
        and all(c in "0123456789abcdefABCDEF" for c in color[1:])
    ):
        raise invalid("color", "Color must look like #1a2b3c", "invalid_color")
    return color.lower()


def resolved_at_for(status: str, now) -> Any:
    """Entering `closed` stamps resolved_at; any other status clears it."""
    return now if status == Status.CLOSED else None


def csv_columns_help() -> str:
    """The CSV columns as a sentence for help texts: `title (required), assignee_id (...)`."""
    return ", ".join(f"{name} ({note})" if note else name for name, note in CSV_COLUMNS.items())
