"""The rows of an issues CSV: which column is which, the per-row rules, batching, and the
report of the rows that failed. Nothing here writes to the database
(services/imports.py does).

File format:
- a header row, its names matched without regard to case or surrounding spaces: see
  rules.CSV_COLUMNS (`title` is required). Other columns are ignored and reported in
  `ignored_columns`.
- UTF-8, with or without a byte-order mark; CRLF or LF line endings; quoted fields may hold
  commas and newlines. Blank lines are skipped and are not rows; cells beyond the header are
  ignored. `row` numbers count data rows from 1 (the header is not a row).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import IO, Any, NamedTuple, TypeVar, cast

from django.core.exceptions import ValidationError

from tracker.errors import ImportFileError
from tracker.models import Issue
from tracker.rules import (
    CSV_COLUMNS,
    CSV_LABEL_SEPARATOR,
    clean_description,
    clean_due_date,
    clean_label_names,
    clean_priority,
    clean_status,
    clean_title,
    csv_cell_in,
    csv_cell_out,
    invalid_assignee,
    parse_id,
)

T = TypeVar("T")
COLUMN_ORDER = {name: index for index, name in enumerate(CSV_COLUMNS)}


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


class CheckedRow(NamedTuple):
    """A row after the per-row rules; its assignee is checked with its batch. `cells` are
    kept for the report of failed rows."""

    number: int
    cells: list[str]
    title: str
    description: str
    status: str
    assignee_id: int | None
    labels: list[str]
    priority: str
    due_date: date | None
    errors: list[RowError]


class Columns:
    """Where each known column is in the file, and the names of the ignored ones."""

    def __init__(self, header: list[str]) -> None:
        self.positions: dict[str, int] = {}
        self.ignored: list[str] = []
        for index, raw in enumerate(header):
            name = csv_cell_in(raw.strip())
            if name.lower() in CSV_COLUMNS and name.lower() not in self.positions:
                self.positions[name.lower()] = index
            elif name:
                self.ignored.append(name)
        if "title" not in self.positions:
            found = ", ".join(name.strip() for name in header if name.strip())
            raise ImportFileError(
                f"The header has no 'title' column (found: {found})", code="missing_title_column"
            )

    def check(self, number: int, cells: list[str]) -> CheckedRow:
        """Apply the per-row rules; the errors found travel with the row."""

        def cell(name: str) -> str:
            index = self.positions.get(name)
            if index is None or index >= len(cells):
                return ""
            return csv_cell_in(cells[index].strip())

        errors: list[RowError] = []
        title = status = description = ""
        assignee_id: int | None = None
        labels: list[str] = []
        priority = Issue.Priority.NONE.value
        due_date: date | None = None
        try:
            title = clean_title(cell("title"))
        except ValidationError as exc:
            errors += row_errors(exc, number)
        raw_assignee = cell("assignee_id")
        if raw_assignee:
            assignee_id = parse_id(raw_assignee)
            if assignee_id is None:
                errors += row_errors(invalid_assignee(), number)
        try:
            status = clean_status(cell("status") or Issue.Status.OPEN)
        except ValidationError as exc:
            errors += row_errors(exc, number)
        try:
            description = clean_description(cell("description"))
        except ValidationError as exc:
            errors += row_errors(exc, number)
        raw_labels = cell("labels")
        if raw_labels:
            # Empty names between separators ("bug;;ui", a trailing ";") are spreadsheet noise.
            names = [name for name in raw_labels.split(CSV_LABEL_SEPARATOR) if name.strip()]
            try:
                labels = clean_label_names(names)
            except ValidationError as exc:
                errors += row_errors(exc, number)
        try:
            priority = clean_priority(cell("priority") or Issue.Priority.NONE)
        except ValidationError as exc:
            errors += row_errors(exc, number)
        try:
            due_date = clean_due_date(cell("due_date"))
        except ValidationError as exc:
            errors += row_errors(exc, number)
        return CheckedRow(
            number,
            cells,
            title,
            description,
            status,
            assignee_id,
            labels,
            priority,
            due_date,
            errors,
        )


def row_errors(exc: ValidationError, number: int) -> list[RowError]:
    return [
        RowError(number, message, field)
        for field, messages in exc.message_dict.items()
        for message in messages
    ]


def in_column_order(errors: Iterable[RowError]) -> list[RowError]:
    return sorted(errors, key=lambda error: COLUMN_ORDER.get(error.field or "", 0))


def batches(items: Iterator[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """Yield from `items`, computing the next one in a helper thread meanwhile.

    Parsing and checking a batch (Python) then overlaps the writing of the previous one
    (PostgreSQL, while the driver waits with the GIL released). The helper thread never
    touches the database, and at most two batches are in memory at once.
    """
    done = object()
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(next, items, done)
        while (item := future.result()) is not done:
            future = pool.submit(next, items, done)
            yield cast(T, item)


class FailedRowsReport:
    """The rows that failed, as CSV: the file's own columns, then `row` and `error` (a row's
    messages joined by "; "), ready to be fixed and imported again. Written while the
    import reads the file, so the file is read once. Cells are formula-safe
    (rules.csv_cell_out), and the import reads them back as they were."""

    def __init__(self, out: IO[str]) -> None:
        self.writer = csv.writer(out)
        self.width = 0
        self.written = 0

    def start(self, header: list[str]) -> None:
        while header and not header[-1].strip():
            header = header[:-1]
        self.width = len(header)
        self.writer.writerow([csv_cell_out(cell) for cell in [*header, "row", "error"]])

    def add(self, row: CheckedRow, errors: list[RowError]) -> None:
        padded = (row.cells + [""] * self.width)[: self.width]
        message = "; ".join(error.error for error in errors)
        self.writer.writerow([csv_cell_out(cell) for cell in [*padded, row.number, message]])
        self.written += 1
