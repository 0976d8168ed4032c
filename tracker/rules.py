"""Field rules: pure checks and the lists of fields, shared by reads and writes alike.

Every write path applies them (the CSV import per row, so a row gets the message the API
would give); the filters and reports use the same id and status rules. Nothing here
touches the database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from tracker.models import (
    ISSUE_TITLE_MAX,
    LABEL_DESCRIPTION_MAX,
    LABEL_NAME_MAX,
    SAVED_VIEW_NAME_MAX,
    USER_NAME_MAX,
    Issue,
)

Status = Issue.Status
Priority = Issue.Priority

# The fields of an issue a change may set (labels have their own write). The API's input
# serializers, the edit form, the admin and issue_update all take this list.
ISSUE_EDITABLE_FIELDS = ("title", "description", "status", "assignee_id", "priority", "due_date")

# The columns of the issues CSV, in the order their errors are reported, each with the
# note that documents it (the API docs, the import page and the command's help).
CSV_COLUMNS = {
    "title": "required",
    "assignee_id": "a user id",
    "status": "empty means open",
    "description": "",
    "labels": "names separated by ;",
    "priority": "none, low, medium, high or urgent; empty means none",
    "due_date": "YYYY-MM-DD; empty for none",
}
# The export writes these columns too; the import ignores them (and says so).
CSV_EXPORT_COLUMNS = ("id", *CSV_COLUMNS, "created_at", "updated_at", "resolved_at")
CSV_LABEL_SEPARATOR = ";"
# A spreadsheet runs a cell that starts with one of these as a formula; every CSV the
# tracker writes prefixes such a cell with CSV_FORMULA_GUARD, and the import strips it back.
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_FORMULA_GUARD = "'"
# Status.values builds a new list on each access; the CSV import checks a million rows.
STATUS_VALUES = frozenset(Status.values)
PRIORITY_VALUES = frozenset(Priority.values)
# The statuses in which an issue past its due date is overdue.
OVERDUE_STATUSES = (Status.OPEN, Status.IN_PROGRESS)
MAX_ID = 2**63 - 1  # bigint: a larger number names no row and must not reach a query
# Descriptions and comment bodies, in characters (after NFC normalisation).
TEXT_MAX = 65_536

# Control characters (Unicode Cc) other than tab and newline, and lone surrogates: a JSON
# string can carry one escaped ("\ud800"), but it is no character, UTF-8 cannot encode it
# and PostgreSQL cannot store it (nor NUL). Carriage returns are made newlines first.
NOT_ALLOWED_CHARACTER = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def invalid(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def escaped(text: str) -> str:
    """`text` with each character NOT_ALLOWED_CHARACTER matches written as a \\uXXXX escape,
    so a message can show it (a lone surrogate would break any encoder)."""
    return NOT_ALLOWED_CHARACTER.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def not_allowed_character(field: str, label: str, character: str) -> ValidationError:
    return invalid(
        field,
        f"{label} contains a character that is not allowed ({escaped(character)})",
        "invalid_character",
    )


def _normalised(value: str | None, field: str, label: str) -> str:
    """Text as stored: one kind of line ending, no control characters other than tab and
    newline, NFC. Raises ValidationError (code invalid_character) naming `field`."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    bad = NOT_ALLOWED_CHARACTER.search(text)
    if bad:
        raise not_allowed_character(field, label, bad.group())
    return unicodedata.normalize("NFC", text)


def clean_view_name(value: str | None) -> str:
    """A saved view's name: trimmed, on one line, not blank, at most SAVED_VIEW_NAME_MAX."""
    name = " ".join(_normalised(value, "name", "Name").replace("\t", " ").splitlines()).strip()
    if not name:
        raise invalid("name", "Give the view a name", "blank")
    if len(name) > SAVED_VIEW_NAME_MAX:
        raise invalid("name", f"Name is too long (max {SAVED_VIEW_NAME_MAX})", "max_length")
    return name


def clean_title(value: str | None) -> str:
    """Trimmed, on one line (line breaks and tabs inside become spaces)."""
    title = " ".join(_normalised(value, "title", "Title").replace("\t", " ").splitlines()).strip()
    if not title:
        raise invalid("title", "Title is required", "required")
    if len(title) > ISSUE_TITLE_MAX:
        raise invalid("title", f"Title is too long (max {ISSUE_TITLE_MAX})", "max_length")
    return title


def clean_status(value: str | None) -> str:
    if value not in STATUS_VALUES:
        raise invalid("status", f"Invalid status '{escaped(str(value))}'", "invalid_status")
    return value


ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def clean_priority(value: str | None) -> str:
    """One of none, low, medium, high, urgent (as written: `High` is not a priority)."""
    if value not in PRIORITY_VALUES:
        choices = ", ".join(Priority.values)
        raise invalid(
            "priority",
            f"Invalid priority '{escaped(str(value))}' (one of: {choices})",
            "invalid_priority",
        )
    return value


def clean_due_date(value: date | str | None) -> date | None:
    """A calendar date (`YYYY-MM-DD` when written), or None for no due date (so is "")."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if ISO_DATE.fullmatch(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
    raise invalid(
        "due_date",
        f"Invalid due_date '{escaped(str(value))}': use a date like 2026-12-31",
        "invalid_due_date",
    )


def today() -> date:
    """Today's date in settings.TIME_ZONE: the day against which issues are overdue."""
    return timezone.localdate(timezone=timezone.get_default_timezone())


def is_overdue(status: str, due_date: date | None) -> bool:
    """Open or in progress, and due before today (the `overdue` filter's rule, in SQL there)."""
    return status in OVERDUE_STATUSES and due_date is not None and due_date < today()


def _clean_text(value: str | None, field: str, label: str) -> str:
    """Multi-line text as stored: trimmed, with one kind of line ending whatever the client."""
    text = _normalised(value, field, label).strip()
    if len(text) > TEXT_MAX:
        raise invalid(field, f"{label} is too long (max {TEXT_MAX})", "max_length")
    return text


def clean_description(value: str | None) -> str:
    return _clean_text(value, "description", "Description")


def clean_comment_body(value: str | None) -> str:
    return _clean_text(value, "body", "Comment")


def clean_preview_text(value: str | None) -> str:
    """Text sent for a Markdown preview: held to a description's or comment's rules."""
    return _clean_text(value, "text", "Text")


def is_id(value: int) -> bool:
    return 1 <= value <= MAX_ID


def parse_id(text: str) -> int | None:
    """A row id written as plain decimal digits, or None."""
    text = text.strip()
    if text.isascii() and text.isdigit() and is_id(int(text)):
        return int(text)
    return None


def in_utc(moment: datetime) -> datetime:
    """An aware `moment` as the same instant in UTC, so PostgreSQL reads it whatever its
    offset (it takes at most +-15:59; a date-time may carry up to +-23:59). An instant before
    the year 1 or after 9999 in UTC is the calendar's first or last one."""
    if moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


def invalid_assignee() -> ValidationError:
    """An assignee_id that names no user (the CSV import also uses it for ids that do not
    parse as integers)."""
    return invalid("assignee_id", "Invalid assignee_id", "invalid_assignee")


def clean_user_name(value: str | None) -> str:
    name = _normalised(value, "name", "Name").strip()
    if not name:
        raise invalid("name", "Name is required", "required")
    if len(name) > USER_NAME_MAX:
        raise invalid("name", f"Name is too long (max {USER_NAME_MAX})", "max_length")
    return name


EMAIL_MAX = 254  # RFC 5321's limit on a forward path


def clean_email(value: str | None) -> str | None:
    """An e-mail address as stored: trimmed, None when empty (a person without one). Raises
    `invalid_email`. Addresses compare without regard to case (the database's unique index
    says the same)."""
    text = _normalised(value, "email", "E-mail address").strip() if value else ""
    if not text:
        return None
    if len(text) > EMAIL_MAX:
        raise invalid("email", f"E-mail address is too long (max {EMAIL_MAX})", "invalid_email")
    try:
        validate_email(text)
    except ValidationError:
        raise invalid("email", "Enter a valid e-mail address", "invalid_email") from None
    return text


def email_taken_error() -> ValidationError:
    return invalid("email", "Someone else already uses this e-mail address", "email_taken")


def may_see_private_fields(viewer: Any, user_id: int) -> bool:
    """Whether `viewer` may see a person's e-mail settings: the person themselves and staff."""
    return bool(
        viewer is not None
        and getattr(viewer, "is_authenticated", False)
        and (viewer.is_staff or viewer.pk == user_id)
    )


def name_key(name: str) -> str:
    """How names compare: two names are one when their keys are equal. The casefold of the
    NFC form (normalised again, since casefolding can decompose), so `Straße` and `STRASSE`,
    `ΣΑΣ` and `σας`, or a composed and a decomposed `é` are one name. Labels store it
    (`Label.key`), so the database compares by exactly this rule."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def same_name_error(name: str) -> ValidationError:
    """Someone is already called `name`: the pages ask before adding a second person with it."""
    return invalid("name", f"Someone named '{name}' already exists", "same_name")


def clean_label_names(names: Iterable[str]) -> list[str]:
    """Trim and NFC-normalise, refuse blank or over-long names and control characters, and
    drop duplicates by `name_key` (the first spelling wins)."""
    cleaned: dict[str, str] = {}
    for raw in names:
        name = raw if isinstance(raw, str) else ""
        name = _normalised(name, "labels", f"Label '{escaped(name.strip())}'").strip()
        if not name:
            raise invalid("labels", "Label names cannot be blank", "blank_label")
        if len(name) > LABEL_NAME_MAX:
            raise invalid(
                "labels", f"Label '{name}' is too long (max {LABEL_NAME_MAX})", "max_length"
            )
        cleaned.setdefault(name_key(name), name)
    return list(cleaned.values())


def merge_label_names(
    current: Sequence[str], read: Iterable[str], wanted: Sequence[str]
) -> list[str]:
    """`current` with someone's change applied as what they added and removed: they read
    `read` and chose `wanted`, so the labels others added meanwhile stay (by `name_key`)."""
    read_keys = {name_key(name) for name in read}
    wanted_keys = {name_key(name) for name in wanted}
    merged = [name for name in current if name_key(name) not in read_keys - wanted_keys]
    kept = {name_key(name) for name in merged}
    return merged + [name for name in wanted if name_key(name) not in read_keys | kept]


def clean_label_color(value: str | None) -> str:
    color = (value or "").strip()
    if color and not (
        len(color) == 7
        and color[0] == "#"
        and all(c in "0123456789abcdefABCDEF" for c in color[1:])
    ):
        raise invalid("color", "Color must look like #1a2b3c", "invalid_color")
    return color.lower()


def clean_label_description(value: str | None) -> str:
    description = _normalised(value, "description", "Description").strip()
    if len(description) > LABEL_DESCRIPTION_MAX:
        raise invalid(
            "description", f"Description is too long (max {LABEL_DESCRIPTION_MAX})", "max_length"
        )
    return description


def resolved_at_for(status: str, now) -> Any:
    """Entering `closed` stamps resolved_at; any other status clears it."""
    return now if status == Status.CLOSED else None


def csv_columns_help() -> str:
    """The CSV columns as a sentence for help texts: `title (required), assignee_id (...)`."""
    return ", ".join(f"{name} ({note})" if note else name for name, note in CSV_COLUMNS.items())


def _guarded(text: str) -> bool:
    return text.lstrip(CSV_FORMULA_GUARD).startswith(CSV_FORMULA_STARTS)


def csv_cell_out(value: object) -> str:
    """A value as a CSV cell no spreadsheet runs as a formula: `=1+1` becomes `'=1+1` (and
    `'=1+1` becomes `''=1+1`, so that csv_cell_in gives every value back exactly)."""
    text = "" if value is None else str(value)
    return CSV_FORMULA_GUARD + text if _guarded(text) else text


def csv_cell_in(text: str) -> str:
    """A CSV cell as written by csv_cell_out, back to its value: one guard in front of a
    formula start is dropped (`'=1+1` is `=1+1`); `'hello` stays as it is."""
    return text[1:] if text.startswith(CSV_FORMULA_GUARD) and _guarded(text) else text
