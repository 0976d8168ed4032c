"""CSV import of issues: parse -> validate -> write, in batches.

The file is read as a stream (the csv module over a UTF-8 text wrapper of the binary file),
so memory does not grow with its size. Rows are validated in batches with the field rules
of services/rules.py, so a row gets the same message the API would give; each batch checks its
assignees in one query and writes its issues, `issue_created` events and labels with
PostgreSQL COPY, never a query per row. Every valid row of one file is written in ONE
transaction: a failure midway leaves nothing behind, and the same file can be sent again.

File format:
- a header row, its names matched without regard to case or surrounding spaces: `title`
  (required), `assignee_id`, `status` (empty means `open`), `description`, `labels` (names
  separated by `;`). Other columns are ignored and reported in `ignored_columns`.
- UTF-8, with or without a byte-order mark; CRLF or LF line endings; quoted fields may hold
  commas and newlines. Blank lines are skipped and are not rows; cells beyond the header are
  ignored. `row` numbers count data rows from 1 (the header is not a row).

Problems with the file as a whole raise ImportFileError (400, or 413 for FileTooLarge; see
csv_reading.py) and write nothing; problems with a row are reported in ImportResult.errors.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import services
from .csv_reading import FileTooLarge, ImportFileError, check_upload, read_rows
from .models import Issue, IssueEvent, IssueLabel, User
from .pg_copy import NULL, copy_lines, escape, reserve_ids

# The import's whole interface, the reading part included, so callers need one module.
__all__ = [
    "FileTooLarge",
    "ImportFileError",
    "ImportResult",
    "RowError",
    "check_upload",
    "import_issues",
    "read_rows",
    "write_error_report",
]

COLUMNS = ("title", "assignee_id", "status", "description", "labels")
LABEL_SEPARATOR = ";"
BATCH_SIZE = 5_000
ISSUE_COPY_COLUMNS = (
    *("id", "title", "description", "status", "assignee_id"),
    *("version", "created_at", "updated_at", "resolved_at"),
)

CREATED = IssueEvent.Kind.ISSUE_CREATED.value
ProgressCallback = Callable[[int, int], None]
T = TypeVar("T")


@dataclass(slots=True)
class RowError:
    row: int
    error: str
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"row": self.row, "error": self.error}
        if self.field:
            data["field"] = self.field
        return data


@dataclass
class ImportResult:
    """The summary of one import. In a dry run, `created` counts the rows that would be."""

    total_rows: int = 0
    created: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "total_rows": self.total_rows,
            "created": self.created,
            "failed": self.failed,
            "errors": [error.as_dict() for error in self.errors],
            "ignored_columns": self.ignored_columns,
            "dry_run": self.dry_run,
        }


class _Row(NamedTuple):
    """A row that passed the per-row rules; its assignee is checked with its batch."""

    number: int
    title: str
    description: str
    status: str
    assignee_id: int | None
    labels: list[str]
    errors: list[RowError]


# --- Reading.


def _columns(header: list[str]) -> tuple[dict[str, int], list[str]]:
    """Position of each known column (its first occurrence) and the ignored names."""
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for index, raw in enumerate(header):
        name = raw.strip()
        if name.lower() in COLUMNS and name.lower() not in positions:
            positions[name.lower()] = index
        elif name:
            ignored.append(name)
    if "title" not in positions:
        found = ", ".join(name.strip() for name in header if name.strip())
        raise ImportFileError(
            f"The header has no 'title' column (found: {found})", code="missing_title_column"
        )
    return positions, ignored


# --- Validating.


def _messages(exc: ValidationError, number: int) -> list[RowError]:
    return [
        RowError(number, message, field)
        for field, messages in exc.message_dict.items()
        for message in messages
    ]


def _check_row(number: int, cells: list[str], positions: dict[str, int]) -> _Row:
    """Apply the per-row rules; the errors found travel with the row."""

    def cell(name: str) -> str:
        index = positions.get(name)
        return cells[index].strip() if index is not None and index < len(cells) else ""

    errors: list[RowError] = []
    title = description = status = ""
    assignee_id: int | None = None
    labels: list[str] = []
    try:
        title = services.clean_title(cell("title"))
    except ValidationError as exc:
        errors += _messages(exc, number)
    raw_assignee = cell("assignee_id")
    if raw_assignee:
        assignee_id = services.parse_id(raw_assignee)
        if assignee_id is None:
            errors += _messages(services.invalid_assignee(), number)
    try:
        status = services.clean_status(cell("status") or Issue.Status.OPEN)
    except ValidationError as exc:
        errors += _messages(exc, number)
    raw_labels = cell("labels")
    if raw_labels:
        # Empty names between separators ("bug;;ui", a trailing ";") are spreadsheet noise.
        names = [name for name in raw_labels.split(LABEL_SEPARATOR) if name.strip()]
        try:
            labels = services.clean_label_names(names)
        except ValidationError as exc:
            errors += _messages(exc, number)
    description = services.clean_text(cell("description"))
    return _Row(number, title, description, status, assignee_id, labels, errors)


class _Assignees:
    """Names of the users seen so far, so each batch asks only about ids it has not met."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.missing: set[int] = set()

    def load(self, ids: set[int]) -> None:
        unseen = ids - self.names.keys() - self.missing
        if unseen:
            found = dict(User.objects.filter(pk__in=unseen).values_list("id", "name"))
            self.names.update(found)
            self.missing |= unseen - found.keys()


def _batches(rows: Iterator[tuple[int, list[str]]], size: int) -> Iterator[list]:
    batch: list = []
    for item in rows:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _read_ahead(items: Iterator[T]) -> Iterator[T]:
    """Yield from `items`, computing the next one in a helper thread meanwhile.

    Parsing and checking a batch (Python) then overlaps the writing of the previous one
    (PostgreSQL, while psycopg2 waits with the GIL released). The helper thread never
    touches the database, and at most two batches are in memory at once.
    """
    done = object()
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(next, items, done)
        while (item := future.result()) is not done:
            future = pool.submit(next, items, done)
            yield item


# --- Writing.


def _write_batch(
    rows: list[_Row], *, assignees: _Assignees, label_ids: dict[str, int], actor_id, source, now
) -> None:
    """Insert a batch of valid rows with their events and labels. Call inside the import's
    transaction."""
    ids = reserve_ids(Issue._meta.db_table, len(rows))
    stamp = now.isoformat()
    actor = NULL if actor_id is None else actor_id
    copy_lines(
        Issue._meta.db_table,
        ISSUE_COPY_COLUMNS,
        (
            f"{pk}\t{escape(r.title)}\t{escape(r.description)}\t{r.status}\t"
            f"{NULL if r.assignee_id is None else r.assignee_id}\t1\t{stamp}\t{stamp}\t"
            f"{services.resolved_at_for(r.status, stamp) or NULL}\n"
            for pk, r in zip(ids, rows, strict=True)
        ),
    )
    details = (
        services.created_details(
            title=r.title,
            status=r.status,
            assignee_id=r.assignee_id,
            assignee_name=assignees.names.get(r.assignee_id),
            labels=r.labels,
        )
        for r in rows
    )
    copy_lines(
        IssueEvent._meta.db_table,
        ("issue_id", "event", "version", "actor_id", "created_at", "details", "source"),
        (
            f"{pk}\t{CREATED}\t1\t{actor}\t{stamp}\t{escape(json.dumps(d))}\t{source}\n"
            for pk, d in zip(ids, details, strict=True)
        ),
    )
    new_names = {
        name.lower(): name for r in rows for name in r.labels if name.lower() not in label_ids
    }
    if new_names:
        created = services.labels_get_or_create(list(new_names.values()))
        label_ids.update({key: label.pk for key, label in created.items()})
    links = [
        f"{pk}\t{label_ids[name.lower()]}\n"
        for pk, r in zip(ids, rows, strict=True)
        for name in r.labels
    ]
    if links:
        copy_lines(IssueLabel._meta.db_table, ("issue_id", "label_id"), links)


# --- The whole import.


def import_issues(
    binary: IO[bytes],
    *,
    dry_run: bool = False,
    actor: User | None = None,
    source: str = IssueEvent.Source.IMPORT,
    batch_size: int = BATCH_SIZE,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Import the issues of a CSV file (a seekable binary file, left open).

    Valid rows are created, all in one transaction; invalid rows are reported. With
    `dry_run`, everything is validated and nothing is written (not even new labels).
    `progress(rows_read, bytes_read)` is called after each batch. Raises ImportFileError.
    """
    header, rows = read_rows(binary)
    positions, ignored = _columns(header)
    result = ImportResult(ignored_columns=ignored, dry_run=dry_run)
    assignees = _Assignees()
    label_ids: dict[str, int] = {}
    actor_id = actor.pk if actor is not None and actor.pk else None
    now = timezone.now()

    checked_batches = (
        ([_check_row(number, cells, positions) for number, cells in batch], binary.tell())
        for batch in _batches(rows, batch_size)
    )
    with transaction.atomic():
        for checked, bytes_read in _read_ahead(checked_batches):
            assignees.load({r.assignee_id for r in checked if r.assignee_id is not None})
            valid: list[_Row] = []
            for row in checked:
                errors = row.errors
                if row.assignee_id in assignees.missing:
                    errors = sorted(
                        [*errors, *_messages(services.invalid_assignee(), row.number)],
                        key=lambda e: COLUMNS.index(e.field) if e.field in COLUMNS else 0,
                    )
                if errors:
                    result.failed += 1
                    result.errors += errors
                else:
                    valid.append(row)
            result.total_rows += len(checked)
            result.created += len(valid)
            if valid and not dry_run:
                _write_batch(
                    valid,
                    assignees=assignees,
                    label_ids=label_ids,
                    actor_id=actor_id,
                    source=source,
                    now=now,
                )
            if progress is not None:
                progress(result.total_rows, bytes_read)
    return result


def write_error_report(binary: IO[bytes], errors: Sequence[RowError], out: IO[str]) -> int:
    """Write the rows that failed to `out` as CSV: the file's own columns, then `row` and
    `error` (a row's messages joined by "; "), ready to be fixed and imported again.

    Reads `binary` again from the start; returns the number of rows written.
    """
    messages: dict[int, list[str]] = {}
    for error in errors:
        messages.setdefault(error.row, []).append(error.error)
    binary.seek(0)
    header, rows = read_rows(binary)
    while header and not header[-1].strip():
        header = header[:-1]
    width = len(header)
    writer = csv.writer(out)
    writer.writerow([*header, "row", "error"])
    written = 0
    for number, cells in rows:
        if number in messages:
            padded = (cells + [""] * width)[:width]
            writer.writerow([*padded, number, "; ".join(messages[number])])
            written += 1
    return written
